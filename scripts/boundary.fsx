// The boundary β1 → √β2 (arXiv 2507.05966, Lemma B.2: |m_t|/sqrt(v_t) ≤ R = (1−β1)/(sqrt(1−β2)·sqrt(1−β1²/β2))
// for the uncorrected moments when β1 < √β2; Zhang et al. 2022: convergence needs β1 < √β2). At β2 = 0.999, β1 from
// 0.9 to 0.9995 (> √0.999 ≈ 0.99950): the largest u_t = |m_t|/sqrt(v_t) against R, on a noisy problem and on the
// gradient stream that attains the bound, and the loss.
//   dotnet fsi scripts/boundary.fsx [--smoke | --full] [--out DIR] [--seed N]
// Writes runs/boundary/{boundary.csv, u_adversarial.csv, max_u.png, u_adversarial.png, loss.png, report.md}.
#load "lib/Common.fsx"
open System
open Common
open CudaAdam
open CudaAdam.Experiments.Plotting
open CudaAdam.Experiments.Problems
open CudaAdam.Experiments.Recording

let opts = options "boundary"
let beta2 = 0.999
let beta1s = [ 0.9; 0.95; 0.99; 0.995; 0.999; 0.9995 ]
let steps = opts.Pick(1000, 20000, 100000)
let seeds = opts.Pick(1, 5, 20)
let d, sigma, lr = 10, 0.3, 1e-2
let rOf (b1: float) = Hyperparameters.For(Algorithm.Adam, beta1 = b1, beta2 = beta2).SignBound
let slack = 1e-5                      // float32 moments: u may exceed R by rounding only

/// max over coordinates of |M|/sqrt(V) from the uncorrected state (coordinates with V = 0 skipped).
let maxU (s: ParamState) =
    let mutable best = 0.0
    for j in 0 .. s.M.Length - 1 do
        let v = float s.V.[j]
        if v > 0.0 then best <- max best (abs (float s.M.[j]) / sqrt v)
    best

/// The noisy problem: (max_t u_t, mean F − F* over the last 20% of steps).
let runProblem (b1: float) (seed: int) =
    let prob = NoisyNonconvex(d, sigma, 0.0, seed = seed)
    let x = prob.Start(3.0, 7919 * seed)
    let g = Array.zeroCreate<float32> d
    let st = ReferenceStepper(Algorithm.Adam, Hyperparameters.For(Algorithm.Adam, beta1 = b1, beta2 = beta2, lr = lr, eps = 1e-8), d)
    let from = steps - steps / 5
    let mutable umax = 0.0
    let mutable loss = 0.0
    for t in 0 .. steps - 1 do
        prob.Sample(ReadOnlySpan x, Span g) |> ignore
        if t >= from then loss <- loss + (prob.Value(ReadOnlySpan x) - prob.MinValue)
        st.Step(Span x, ReadOnlySpan g)
        umax <- max umax (maxU st.State)
    umax, loss / float (steps - from)

/// The stream that attains the Cauchy–Schwarz bound behind R: g_s ∝ (β2/β1)^s, scaled so that g_T = 1, floored at
/// 1e-12 and capped at 1e12 (β1 > β2 makes the early values huge: g² would overflow float32 and give v = ∞, u = 0)
/// so that m and v stay normal float32 numbers (a first version let them underflow to subnormals, whose few
/// bits gave u ≈ 12 > R: rounding, not Adam). The bound is approached within ≈ 1/(1 − β1²/β2) steps of the end,
/// far fewer than the steps before the floor takes over. Returns u_t for t = 1..T (NaN while v = 0).
let runAdversarial (b1: float) =
    let st = ReferenceStepper(Algorithm.Adam, Hyperparameters.For(Algorithm.Adam, beta1 = b1, beta2 = beta2, lr = 0.0, eps = 1e-8), 1)
    let x = [| 0.0f |]
    let q = beta2 / b1
    [| for t in 1 .. steps ->
        let g = [| float32 (Math.Clamp(Math.Pow(q, float (t - steps)), 1e-12, 1e12)) |]
        st.Step(Span x, ReadOnlySpan g)
        let v = float st.State.V.[0]
        if v > 0.0 then abs (float st.State.M.[0]) / sqrt v else nan |]

let report = Report("β1 → √β2 at β2 = 0.999: the sign-like bound R and the loss", opts)
report.Setup(sprintf "β2 = %g (√β2 = %.8f); β1 ∈ {%s}; R = (1−β1)/(sqrt(1−β2)·sqrt(1−β1²/β2)), ∞ for β1 ≥ √β2" beta2 (sqrt beta2) (beta1s |> List.map string |> String.concat ", "))
report.Setup(sprintf "u_t = |m_t|/sqrt(v_t) from the uncorrected moments of the Adam state (the CPU reference's float32 M and V), max over coordinates and steps 1..T, T = %d" steps)
report.Setup(sprintf "Noisy problem: F(x) = Σ_j [x_j²/2 − cos(2x_j)], d = %d, Gaussian gradient noise σ = %g, Adam lr = %g constant, %d seeds; loss = mean F(x_t) − F* over the last 20%% of the steps" d sigma lr seeds)
report.Setup("Adversarial stream: g_s ∝ (β2/β1)^s, for which the Cauchy–Schwarz step behind R is an equality, so u_t → R when β1 < √β2 and u_t grows without bound (like √t at β1 = √β2) beyond")

let prob =
    [ for b in beta1s do for k in 1 .. seeds -> b, k ]
    |> parallelMap (fun (b, k) -> let u, l = runProblem b (opts.Seed * 100 + k) in b, k, u, l)
let adv = beta1s |> parallelMap (fun b -> b, runAdversarial b)

let csv = CsvTable("beta1", "R", "seed", "max_u_problem", "loss")
for (b, k, u, l) in prob do csv.Add(b, rOf b, k, u, l)
csv.Save(opts.File "boundary.csv")
let acsv = CsvTable("beta1", "t", "u")
for (b, us) in adv do
    let every = max 1 (steps / 500)
    us |> Array.iteri (fun i u -> if (i + 1) % every = 0 then acsv.Add(b, i + 1, u))
acsv.Save(opts.File "u_adversarial.csv")

let probMaxU b = prob |> List.filter (fun (x, _, _, _) -> x = b) |> List.map (fun (_, _, u, _) -> u) |> List.max
let lossOf b = prob |> List.filter (fun (x, _, _, _) -> x = b) |> List.map (fun (_, _, _, l) -> l)
let advMax b = adv |> List.find (fst >> (=) b) |> snd |> Array.filter Double.IsFinite |> Array.max
let advAt b (t: int) = (adv |> List.find (fst >> (=) b) |> snd).[t - 1]

let bArr = List.toArray beta1s
let oneMinus = bArr |> Array.map (fun b -> 1.0 - b)
Plots.Lines(opts.File "max_u.png", "max_t u_t against the bound R (β2 = 0.999)", "1 − β1", "max u_t",
    [ Series("adversarial stream", oneMinus, bArr |> Array.map advMax, Markers = true)
      Series(sprintf "noisy problem (max over %d seeds)" seeds, oneMinus, bArr |> Array.map probMaxU, Markers = true)
      Series("R (dashed; ∞ at β1 ≥ √β2, not drawn)", oneMinus, bArr |> Array.map rOf, Markers = true, Dashed = true) ],
    logX = true, logY = true, legend = ScottPlot.Alignment.LowerRight)
Plots.Lines(opts.File "u_adversarial.png", "u_t on the adversarial stream", "t", "u_t = |m_t|/sqrt(v_t)",
    [ for (b, us) in adv ->
        let idx = [| for i in 0 .. us.Length - 1 do if Double.IsFinite us.[i] && (i + 1) % (max 1 (steps / 500)) = 0 then i |]
        Series(sprintf "β1 = %g (R = %s)" b (num (rOf b)), idx |> Array.map (fun i -> float (i + 1)), idx |> Array.map (fun i -> us.[i])) ],
    logX = true, logY = true)
Plots.Lines(opts.File "loss.png", "loss on the noisy problem (seed mean)", "1 − β1", "mean F − F*, last 20%",
    [ Series("seed mean", oneMinus, bArr |> Array.map (fun b -> lossOf b |> List.average), Markers = true) ], logX = true, logY = true)

report.Table([ "β1"; "R"; "max u (adversarial)"; "max u / R"; "max u (problem)"; "loss (seed mean)"; "loss (seed sd)" ],
    [ for b in beta1s ->
        let ls = lossOf b |> List.toArray
        let m = Array.average ls
        let sd = if ls.Length > 1 then sqrt ((ls |> Array.sumBy (fun x -> (x - m) * (x - m))) / float (ls.Length - 1)) else nan
        [ box b; box (rOf b); box (advMax b); (if Double.IsInfinity (rOf b) then box "n/a (R = ∞)" else box (advMax b / rOf b)); box (probMaxU b); box m; box sd ] ])
report.Image("max_u.png", "largest u_t against R")
report.Image("u_adversarial.png", "u_t along the adversarial stream")
report.Image("loss.png", "late loss against 1 − β1")

let inside = beta1s |> List.filter (fun b -> b * b < beta2)
let violations = inside |> List.filter (fun b -> probMaxU b > rOf b * (1.0 + slack) || advMax b > rOf b * (1.0 + slack))
report.Decide("for β1 < √β2, u_t = |m_t|/sqrt(v_t) ≤ R at every step (arXiv 2507.05966, Lemma B.2)",
    sprintf "max u_t ≤ R·(1 + %g) for every β1 < √β2, on the noisy problem (all seeds) and on the adversarial stream" slack,
    violations.IsEmpty,
    sprintf "largest max u/R: %s" (num (inside |> List.map (fun b -> max (probMaxU b) (advMax b) / rOf b) |> List.max)))
|> ignore
let outside = beta1s |> List.filter (fun b -> b * b >= beta2)
for b in outside do
    let late, early = advAt b steps, advAt b (steps / 4)
    report.Decide(sprintf "for β1 = %g ≥ √β2 the ratio u_t is unbounded (R = ∞)" b,
        "on the adversarial stream u_T / u_(T/4) ≥ 1.5 (growth like √t gives 2)",
        late / early >= 1.5, sprintf "u_T = %s, u_(T/4) = %s, ratio %s" (num late) (num early) (num (late / early)))
    |> ignore
let l0, lb = lossOf 0.9 |> List.toArray, lossOf (List.last beta1s) |> List.toArray
let se (v: float[]) = let m = Array.average v in sqrt ((v |> Array.sumBy (fun x -> (x - m) * (x - m))) / float (max 1 (v.Length - 1)) / float v.Length)
let diff = Array.average lb - Array.average l0
let dse = sqrt (se l0 ** 2.0 + se lb ** 2.0)
report.Decide(sprintf "the loss degrades as β1 crosses √β2 (convergence needs β1 < √β2: Zhang et al. 2022; the bound's constants grow like R)"  ,
    sprintf "mean late loss at β1 = %g exceeds that at β1 = 0.9 by more than 2 standard errors" (List.last beta1s),
    diff > 2.0 * dse, sprintf "loss(β1 = %g) − loss(β1 = 0.9) = %s (%s se)" (List.last beta1s) (num diff) (num (if dse > 0.0 then diff / dse else nan)))
|> ignore

finish report
