// Momentum's role (arXiv 2507.05966, "momentum as a key factor ensuring convergence"), in two labelled experiments:
//  1. the claim's own regime: Adam under the theorem's schedules (β1 = 1 − 1/√T against β1 = 0, β2 = 1 − 1/T^(3/4),
//     γ = γ0/(√d·T^(3/4))), judged by the paper's metric, the mean over t of ‖∇F(x_t)‖₁, against the horizon T, with
//     Gaussian and skewed noise at two noise levels;
//  2. (second, outside the theorem) a constant step with a fixed β1, the plateau of ‖∇F‖ against σ (the earlier design).
// Criteria, margins, seeds and sizes: scripts/criteria/momentum.json (its hash is in the report).
//   dotnet fsi scripts/momentum.fsx [--smoke | --full] [--out DIR] [--seed N]
// Writes runs/momentum/{schedule.csv, constant.csv, curves.csv, schedule_T.png, plateau.png, curves.png, report.md}.
#load "lib/Common.fsx"
open System
open System.Text.Json
open Common
open CudaAdam
open CudaAdam.Experiments.Plotting
open CudaAdam.Experiments.Problems
open CudaAdam.Experiments.Recording
open CudaAdam.Experiments.Statistics

let opts = options "momentum"
let criteriaText = IO.File.ReadAllText(IO.Path.Combine(repoRoot, "scripts", "criteria", "momentum.json")).Replace("\r\n", "\n")
let criteriaHash = Security.Cryptography.SHA256.HashData(Text.Encoding.UTF8.GetBytes criteriaText) |> Convert.ToHexString |> fun s -> s.ToLowerInvariant()
let criteria = JsonDocument.Parse(criteriaText).RootElement
let mode = opts.Pick("smoke", "default", "full")
let size = criteria.GetProperty("sizes").GetProperty(mode)
let seeds = criteria.GetProperty("seeds").GetProperty(mode).GetInt32()
let alpha = criteria.GetProperty("alpha").GetDouble()
let crit (id: string) = criteria.GetProperty("criteria").EnumerateArray() |> Seq.find (fun c -> c.GetProperty("id").GetString() = id)
let marginOf id = (crit id).GetProperty("margin").GetDouble()
let d = size.GetProperty("d").GetInt32()
let horizons = [ for x in size.GetProperty("horizons").EnumerateArray() -> x.GetInt32() ]
let sigmas = [ for x in size.GetProperty("sigmas").EnumerateArray() -> x.GetDouble() ]
let noises = [ for x in size.GetProperty("noises").EnumerateArray() -> x.GetString() ]
let gamma0 = size.GetProperty("gamma0").GetDouble()
let seedList = [ for k in 1 .. seeds -> opts.Seed * 100 + k ]
let resamples = 20000

// ---- experiment 1: the theorem's schedules ---------------------------------------------------------------------------
/// β1 = 1 − 1/√T (momentum) or 0, β2 = 1 − 1/T^(3/4), γ = γ0/(√d·T^(3/4)), constant over a run of T steps.
let schedule (momentum: bool) (T: int) =
    let t = float T
    Hyperparameters(Beta1 = (if momentum then 1.0 - 1.0 / sqrt t else 0.0), Beta2 = 1.0 - 1.0 / Math.Pow(t, 0.75),
                    Lr = gamma0 / (sqrt (float d) * Math.Pow(t, 0.75)), Eps = 1e-8)

/// One run; returns (mean_t ‖∇F(x_t)‖₁, mean_t ‖∇F(x_t)‖₂, mean over the last 10% of ‖∇F‖₂), t = 0..T−1.
let scheduleRun (momentum: bool) (noise: string) (sigma: float) (T: int) (seed: int) =
    let prob = NoisyNonconvex(d, sigma, 0.0, seed = seed, skewed = (noise = "skewed"))
    let x = prob.Start(3.0, 7919 * seed)
    let g = Array.zeroCreate<float32> d
    let st = ReferenceStepper(Algorithm.Adam, schedule momentum T, d)
    let mutable s1, s2, tail = 0.0, 0.0, 0.0
    let from = T - T / 10
    for t in 0 .. T - 1 do
        let struct (l2, l1) = prob.Sample(ReadOnlySpan x, Span g)
        s1 <- s1 + l1; s2 <- s2 + l2
        if t >= from then tail <- tail + l2
        st.Step(Span x, ReadOnlySpan g)
    s1 / float T, s2 / float T, tail / float (T - from)

let schedJobs = [ for n in noises do for s in sigmas do for T in horizons do for m in [ false; true ] do for k in seedList -> n, s, T, m, k ]
let schedRuns =
    schedJobs |> List.sortByDescending (fun (_, _, T, _, _) -> T)
    |> parallelMap (fun (n, s, T, m, k) -> let a, b, c = scheduleRun m n s T k in (n, s, T, m, k), (a, b, c))
    |> dict

// ---- experiment 2: constant step (labelled; not the theorem's regime) ------------------------------------------------
let cSteps = size.GetProperty("constant_steps").GetInt32()
let cSigmas = [ for x in size.GetProperty("constant_sigmas").EnumerateArray() -> x.GetDouble() ]
let cBeta1s = [ 0.0; 0.9; 0.99 ]
let cBeta2, cLr = 0.999, 0.01
let constantRun (beta1: float) (sigma: float) (seed: int) =
    let prob = NoisyNonconvex(d, sigma, 0.0, seed = seed)
    let x = prob.Start(3.0, 7919 * seed)
    let g = Array.zeroCreate<float32> d
    let st = ReferenceStepper(Algorithm.Adam, Hyperparameters(Beta1 = beta1, Beta2 = cBeta2, Lr = cLr, Eps = 1e-8), d)
    let from = cSteps / 2
    let every = max 1 (cSteps / 200)
    let curve = ResizeArray<float * float>()
    let mutable sum = 0.0
    for t in 0 .. cSteps - 1 do
        let struct (l2, _) = prob.Sample(ReadOnlySpan x, Span g)
        if t >= from then sum <- sum + l2
        if t % every = 0 then curve.Add(float t, l2)
        st.Step(Span x, ReadOnlySpan g)
    sum / float (cSteps - from), curve.ToArray()
let constRuns =
    [ for b in cBeta1s do for s in cSigmas do for k in seedList -> b, s, k ]
    |> parallelMap (fun (b, s, k) -> let p, c = constantRun b s k in (b, s, k), (p, c))
    |> dict

// ---- raw tables ------------------------------------------------------------------------------------------------------
let csv = CsvTable("noise", "sigma", "T", "beta1_schedule", "beta1", "beta2", "lr", "seed", "mean_grad_l1", "mean_grad_l2", "tail_grad_l2")
for (n, s, T, m, k) in schedJobs do
    let a, b, c = schedRuns.[(n, s, T, m, k)]
    let hp = schedule m T
    csv.Add(n, s, T, (if m then "1-1/sqrt(T)" else "0"), hp.Beta1, hp.Beta2, hp.Lr, k, a, b, c)
csv.Save(opts.File "schedule.csv")
let ccsv = CsvTable("beta1", "sigma", "seed", "plateau_grad_l2")
for b in cBeta1s do
    for s in cSigmas do
        for k in seedList do ccsv.Add(b, s, k, fst constRuns.[(b, s, k)])
ccsv.Save(opts.File "constant.csv")
let curveSigma = List.last (cSigmas |> List.filter (fun s -> s <= 1.0))
let kcsv = CsvTable("beta1", "sigma", "seed", "t", "grad_l2")
for b in cBeta1s do for (t, v) in snd constRuns.[(b, curveSigma, seedList.Head)] do kcsv.Add(b, curveSigma, seedList.Head, t, v)
kcsv.Save(opts.File "curves.csv")

// ---- statistics ------------------------------------------------------------------------------------------------------
let level = 1.0 - 2.0 * alpha
let boot (values: float[]) (bseed: int) = Bootstrap.Mean(values, resamples, level, bseed)
let ciText (ci: BootstrapResult) = sprintf "%s [%s, %s]" (num ci.Estimate) (num ci.Low) (num ci.High)
let greater (ci: BootstrapResult) m = if ci.Low > m then "supported" elif ci.High < m then "contradicted" else "inconclusive"
let equivalent (ci: BootstrapResult) lo hi = if ci.Low > lo && ci.High < hi then "supported" elif ci.High < lo || ci.Low > hi then "contradicted" else "inconclusive"
/// Seeds that would shrink the CI's half-width (∝ 1/√n) below the estimate's distance to the nearest edge.
let seedsToDecide (ci: BootstrapResult) (edges: float list) =
    let half = (ci.High - ci.Low) / 2.0
    let dist = edges |> List.map (fun e -> abs (ci.Estimate - e)) |> List.min
    if dist <= 1e-12 then "no number of seeds (the estimate sits on the margin)" else sprintf "≈ %d seeds" (int (ceil (float seeds * (half / dist) ** 2.0)))
/// θ = 1 − G(momentum)/G(β1 = 0) per seed at horizon T (paired by seed).
let theta n s T = [| for k in seedList -> 1.0 - (let a, _, _ = schedRuns.[(n, s, T, true, k)] in a) / (let a, _, _ = schedRuns.[(n, s, T, false, k)] in a) |]
let Tmax = List.max horizons
let cells = [ for n in noises do for s in sigmas -> n, s ]
let thetaCi = cells |> List.mapi (fun i (n, s) -> (n, s), boot (theta n s Tmax) (100 + i)) |> dict
/// b0: per-seed slope of log G(β1 = 0) (or momentum) on log T.
let slopes (n, s) (m: bool) =
    [| for k in seedList ->
        let xs = [| for T in horizons -> log (float T) |]
        let ys = [| for T in horizons -> let a, _, _ = schedRuns.[(n, s, T, m, k)] in log a |]
        let mx, my = Array.average xs, Array.average ys
        Array.fold2 (fun acc x y -> acc + (x - mx) * (y - my)) 0.0 xs ys / (xs |> Array.sumBy (fun x -> (x - mx) * (x - mx))) |]
let slopeCi = cells |> List.mapi (fun i c -> c, (boot (slopes c false) (200 + i), boot (slopes c true) (300 + i))) |> dict

// ---- report ----------------------------------------------------------------------------------------------------------
let report = Report("Momentum's role: the theorem's schedules (β1 = 1 − 1/√T vs 0) and, labelled, a constant step", opts)
report.Setup(sprintf "Criteria file: `scripts/criteria/momentum.json` version %d, sha256 %s; one-sided α = %g per test, intervals at %.0f%% (percentile bootstrap over seeds, %d resamples)" (criteria.GetProperty("version").GetInt32()) criteriaHash alpha (100.0 * level) resamples)
report.Setup(sprintf "Source: %s" (criteria.GetProperty("source").GetString()))
report.Setup(sprintf "Problem: F(x) = Σ_j [x_j²/2 − cos(2x_j)], d = %d (L = 5, nonconvex), g = ∇F + σ·ξ with ξ ~ N(0, 1) (gaussian) or ξ = Exp(1) − 1 (skewed: same variance, skewness 2), x0 ~ U[−3, 3]^d per seed; seeds %s" d (seedList |> List.map string |> String.concat ", "))
report.Setup(sprintf "Experiment 1 (the claim's regime): Adam (CPU reference, torch semantics) with β1 = 1 − 1/√T or β1 = 0, β2 = 1 − 1/T^(3/4), γ = %g/(√d·T^(3/4)), ε = 1e-8, constant over each run; T ∈ {%s}; σ ∈ {%s}; noise ∈ {%s}. Metric G = (1/T)·Σ_t ‖∇F(x_t)‖₁ (the paper's mean over t; the exact gradient at the iterate). The horizons are fixed in the criteria file." gamma0 (horizons |> List.map string |> String.concat ", ") (sigmas |> List.map string |> String.concat ", ") (noises |> String.concat ", "))
report.Setup(sprintf "Experiment 2 (second, labelled: outside the theorem's regime): constant lr = %g, β2 = %g, β1 ∈ {%s}, %d steps, σ ∈ {%s}, Gaussian noise; plateau = mean ‖∇F(x_t)‖₂ over the last half" cLr cBeta2 (cBeta1s |> List.map string |> String.concat ", ") cSteps (cSigmas |> List.map string |> String.concat ", "))
for c in criteria.GetProperty("criteria").EnumerateArray() do
    let m = c.GetProperty("margin").GetDouble()
    report.Setup(sprintf "Criterion `%s` (%s, margin %g): %s — metric: %s" (c.GetProperty("id").GetString()) (c.GetProperty("test").GetString()) m (c.GetProperty("claim").GetString()) (c.GetProperty("metric").GetString()))

report.Section("Experiment 1: the theorem's schedules")
report.Table([ "noise"; "σ"; "T"; "G(β1 = 0)"; "G(β1 = 1 − 1/√T)"; "θ = 1 − ratio (seed mean)"; "tail ‖∇F‖₂ β1 = 0"; "tail ‖∇F‖₂ momentum" ],
    [ for (n, s) in cells do
        for T in horizons ->
            let mean m f = seedList |> List.averageBy (fun k -> f schedRuns.[(n, s, T, m, k)])
            [ box n; box s; box T; box (mean false (fun (a, _, _) -> a)); box (mean true (fun (a, _, _) -> a)); box (Array.average (theta n s T))
              box (mean false (fun (_, _, c) -> c)); box (mean true (fun (_, _, c) -> c)) ] ])
let hs = horizons |> List.map float |> List.toArray
Plots.Lines(opts.File "schedule_T.png", "mean_t ‖∇F(x_t)‖₁ against T under the theorem's schedules (seed means)", "T", "G",
    [ for (n, s) in cells do
        for m in [ false; true ] ->
            Series(sprintf "%s σ=%g %s" n s (if m then "β1 = 1 − 1/√T" else "β1 = 0"), hs,
                hs |> Array.map (fun T -> seedList |> List.averageBy (fun k -> let a, _, _ = schedRuns.[(n, s, int T, m, k)] in a)), Markers = true, Dashed = not m) ],
    logX = true, logY = true)
report.Image("schedule_T.png", "the paper's metric against the horizon; dashed: β1 = 0")
report.Table([ "noise"; "σ"; sprintf "θ at T = %d [CI]" Tmax; "slope of log G on log T, β1 = 0 [CI]"; "slope, momentum [CI]" ],
    [ for c in cells -> let b0, b1 = slopeCi.[c] in [ box (fst c); box (snd c); box (ciText thetaCi.[c]); box (ciText b0); box (ciText b1) ] ])

let mHelp, mEq, mFloor = marginOf "momentum-helps", marginOf "no-difference", marginOf "no-floor"
for c in cells do
    let ci = thetaCi.[c]
    let w = greater ci mHelp
    report.Decide(sprintf "momentum-helps (%s, σ = %g): under the theorem's schedules momentum lowers the paper's metric by more than %g%%" (fst c) (snd c) (100.0 * mHelp),
        sprintf "θ = 1 − G(momentum)/G(β1 = 0) at T = %d, CI above %g" Tmax mHelp, (w = "supported"),
        sprintf "**%s**: θ = %s%s" w (ciText ci) (if w = "inconclusive" then sprintf "; %s would decide it" (seedsToDecide ci [ mHelp ]) else ""))
    |> ignore
for c in cells do
    let ci = thetaCi.[c]
    let w = equivalent ci -mEq mEq
    report.Decide(sprintf "no-difference (%s, σ = %g): β1 = 0 converges as well as momentum (equivalence within ±%g)" (fst c) (snd c) mEq,
        sprintf "θ's CI inside (−%g, %g) (two one-sided tests at α = %g each)" mEq mEq alpha, (w = "supported"),
        sprintf "**%s**: θ = %s%s" w (ciText ci) (if w = "inconclusive" then sprintf "; %s would decide it" (seedsToDecide ci [ -mEq; mEq ]) else ""))
    |> ignore
for c in cells do
    let b0, b1 = slopeCi.[c]
    let w = equivalent b0 -mFloor mFloor
    report.Decide(sprintf "no-floor (%s, σ = %g): without momentum G stops decreasing with T (a noise floor)" (fst c) (snd c),
        sprintf "the slope of log G(β1 = 0) on log T has its CI inside (−%g, %g)" mFloor mFloor, (w = "supported"),
        sprintf "**%s**: slope β1 = 0 %s (momentum %s)%s" w (ciText b0) (ciText b1) (if w = "inconclusive" then sprintf "; %s would decide it" (seedsToDecide b0 [ -mFloor; mFloor ]) else ""))
    |> ignore

report.Section("Experiment 2 (labelled): constant step, fixed β1")
let plateau b s = seedList |> List.averageBy (fun k -> fst constRuns.[(b, s, k)])
let cArr = List.toArray cSigmas
Plots.Lines(opts.File "plateau.png", "constant step: plateau of ‖∇F‖₂ against σ (seed means)", "σ", "mean ‖∇F(x_t)‖₂, last half",
    [ for b in cBeta1s -> Series(sprintf "β1 = %g" b, cArr, cArr |> Array.map (plateau b), Markers = true) ], logX = true, logY = true, legend = ScottPlot.Alignment.UpperLeft)
Plots.Lines(opts.File "curves.png", sprintf "constant step: ‖∇F(x_t)‖₂ at σ = %g (seed %d)" curveSigma seedList.Head, "t", "‖∇F(x_t)‖₂",
    [ for b in cBeta1s -> let c = snd constRuns.[(b, curveSigma, seedList.Head)] in Series(sprintf "β1 = %g" b, Array.map fst c, Array.map snd c) ], logY = true)
let cTheta s = [| for k in seedList -> 1.0 - fst constRuns.[(0.9, s, k)] / fst constRuns.[(0.0, s, k)] |]
let cNoisy = cSigmas |> List.filter (fun s -> s >= 0.1)
let cCi = cSigmas |> List.mapi (fun i s -> s, boot (cTheta s) (400 + i)) |> dict
report.Table("σ" :: [ for b in cBeta1s -> sprintf "β1 = %g" b ] @ [ "θ = 1 − plateau(0.9)/plateau(0) [CI]" ],
    [ for s in cSigmas -> box s :: [ for b in cBeta1s -> box (plateau b s) ] @ [ box (ciText cCi.[s]) ] ])
report.Image("plateau.png", "plateau height against σ, log-log")
report.Image("curves.png", sprintf "gradient norm along the run at σ = %g" curveSigma)
let mConst = marginOf "constant-step-floor"
for s in cNoisy do
    let ci = cCi.[s]
    let w = greater ci mConst
    report.Decide(sprintf "constant-step-floor (σ = %g; outside the theorem's regime): momentum 0.9 lowers the plateau by more than %g%%" s (100.0 * mConst),
        sprintf "θ = 1 − plateau(0.9)/plateau(0), CI above %g" mConst, (w = "supported"),
        sprintf "**%s**: θ = %s%s" w (ciText ci) (if w = "inconclusive" then sprintf "; %s would decide it" (seedsToDecide ci [ mConst ]) else ""))
    |> ignore

report.Text("How to read it. Experiment 1 is the claim's regime: the paper's bound for β1 = 1 − 1/√T decays like T^(−1/4), and its reading is that β1 = 0 stalls at a noise floor O(σ0). If β1 = 0's G keeps decreasing with T at the same slope as momentum's, the floor is not there on this problem: with β2 = 1 − 1/T^(3/4) and γ ∝ T^(−3/4), the step itself shrinks with T, and a sign-like step of size γ·u averages the noise over the ≈ 1/(γL) steps it takes to cross a basin, whether or not m averages it first. Experiment 2 is the earlier design, kept as a second, labelled experiment: at a constant step an EMA momentum leaves the noise floor unchanged to first order (the ratio tends to 1 as σ grows), and helps only in the sign-descent regime of small σ. Verdict words: each criterion's evidence starts with supported / contradicted / inconclusive; the overall line counts supported as held. The momentum-helps and no-difference criteria are complementary readings of the same θ: at most one can be supported.")
report.Text("Earlier verdict (README, 2026-11-23): **NOT held**, from the constant-step experiment judged by '> 2 standard errors at every σ ≥ 0.1' — a criterion that counts seeds (at σ = 1 a 1.2% effect was 1.9 se at 8 seeds and 10 se at 20). The constant-step rows above restate that finding as an effect size; the theorem's regime (experiment 1) is new.")
finish report
