// Zhang, Chen, Shi, Sun & Luo, "Adam Can Converge Without Any Modification on Update Rules" (NeurIPS 2022,
// arXiv 2208.09632): on a fixed finite-sum problem, Adam diverges for small β2 and converges for large β2 with
// β1 < √β2; the divergence region grows with the number n of component functions. Construction, sampling, step size
// and the 50k-iteration heatmaps follow the first author's restatement (Y. Zhang, "On the Principles Behind Neural
// Network Optimizers", PhD thesis, §2: Algorithm 1.1, Eq. (2.5), Theorems 2.2-2.3, Fig. 2.4).
//   dotnet fsi scripts/zhang.fsx [--smoke | --full] [--out DIR] [--seed N]
// Writes runs/zhang/{zhang.csv, heatmap_n<n>.png, report.md}.
#load "lib/Common.fsx"
open System
open Common
open CudaAdam.Experiments.Plotting
open CudaAdam.Experiments.Problems
open CudaAdam.Experiments.Recording

let opts = options "zhang"
let ns = opts.Pick([ 10; 20 ], [ 10; 20; 50 ], [ 10; 20; 50 ])
let steps = opts.Pick(2000, 50000, 500000)  // iterations per run; 50k is the thesis's Fig. 2.4 (c, d)
// Configurations (sampling, a of Eq. (2.5)): the criteria use the first, τ_k uniform with replacement (Algorithm 1.1,
// line 3) with a = 1 (Reddi et al.'s slopes n and −1); beside it, for comparison only: random reshuffling (the epoch
// form recalled for the NeurIPS 2022 version, unconfirmed) and a = 1/(n−1)² (the instance the thesis names, D1 = 2n²).
type Config = { Name: string; Sampling: ZhangSampling; A: int -> float }
let primary = { Name = "uniform, a = 1"; Sampling = ZhangSampling.Uniform; A = fun _ -> 1.0 }
let reshuffle = { Name = "reshuffle, a = 1"; Sampling = ZhangSampling.Reshuffle; A = fun _ -> 1.0 }
let smallA = { Name = "uniform, a = 1/(n-1)^2"; Sampling = ZhangSampling.Uniform; A = fun n -> 1.0 / float ((n - 1) * (n - 1)) }
let configs = opts.Pick([ primary ], [ primary; reshuffle; smallA ], [ primary; reshuffle; smallA ])
let fileTag (c: Config) = if c.Name = primary.Name then "" elif c.Name = reshuffle.Name then "reshuffle_" else "smalla_"
let cols = opts.Pick(5, 15, 29)          // β2 axis, evenly spaced in s = log10(1/(1−β2)) from 0 (β2 = 0) to sMax
let rows = opts.Pick(4, 12, 20)          // β1 axis, evenly spaced from 0 to 0.95
let sMax = 3.5                           // β2 up to 1 − 10^−3.5 ≈ 0.99968
let eta = 1.0                            // lr_k = η/√k (Theorem 2.2's η_k = η0/√k); the net left drift is ≈ lr/√n per n steps, so η = 0.1 (the thesis's Fig. 2.3) is too slow to reach x* here
let x0 = 0.0
let convergedWithin = 0.5                // |x_T − x*| below this: converged
let trend = 0.05                         // distance change over the second half that counts as a trend

let sGrid = [| for j in 0 .. cols - 1 -> sMax * float j / float (cols - 1) |]
let beta2Of s = 1.0 - Math.Pow(10.0, -s)
let b1Grid = [| for i in 0 .. rows - 1 -> 0.95 * float i / float (rows - 1) |]

let report = Report("Zhang et al. (2022): where in (β1, β2) Adam converges on a fixed problem", opts)
report.Setup("Source: the NeurIPS 2022 text (arXiv 2208.09632) could not be retrieved here; what follows is taken from its first author's restatement in Y. Zhang, \"On the Principles Behind Neural Network Optimizers\" (PhD thesis, CUHK-Shenzhen), §2 \"Divergence or Convergence? A Story of Adam\", which says it is \"mainly based on\" that paper: Algorithm 1.1 (Adam), Eq. (2.5) (the example), Theorem 2.2 (convergence), Theorem 2.3 (divergence) and Fig. 2.4 (phase diagram, heatmaps after 50k iterations for n = 10 and 50).")
report.Setup("Problem (Eq. (2.5) with a = 1): f_0(x) = (1+(n−1)a)·x for x ≥ −1, (1+(n−1)a)/2·(x+2)² − (3+3(n−1)a)/2 for x < −1; f_i(x) = −a·x for x ≥ −1, −a/2·(x+2)² + 3a/2 for x < −1 (i = 1..n−1); Σ f_i = x for x ≥ −1, 1/2·(x+2)² − 3/2 for x < −1, so x* = −2 (the thesis minimizes (1/n)·Σ f_i: same minimizer, same Adam iterates). With a = 1 the slopes right of −1 are n and −1, Reddi et al.'s; the thesis leaves a > 0 free (a = 1/(n−1)² is its instance with D1 = 2n²) and does not say which a its figures use.")
report.Setup(sprintf "Adam: one component gradient per step, τ_k drawn uniformly from {0..n−1} with replacement (Algorithm 1.1, line 3), lr_k = %g/√k (Theorem 2.2's η_k = η0/√k), x0 = %g, %d iterations per run (Fig. 2.4 (c, d): 50k), seed %d + cell index. The update is the CPU reference with torch.optim.Adam semantics (bias correction, ε = 1e-8 outside the root); Algorithm 1.1 has no bias correction and leaves m_0, v_0 open: the corrections tend to 1 geometrically and change only the first steps' kick." eta x0 steps opts.Seed)
if configs.Length > 1 then
    report.Setup("Also run, reported beside the main result and deciding nothing: random reshuffling (each block of n steps visits every f_i once in a fresh order; the epoch form recalled for the NeurIPS 2022 version, not confirmed from its text) and a = 1/(n−1)² (uniform sampling), the instance the thesis names for Theorem 2.3's class D1 = 2n². Right of −1 the mean step of large-β2 Adam is ≈ −lr·E[g]/sqrt(E[g²]) with E[g] = 1/n: ≈ −lr/n^(3/2) for a = 1 but ≈ −lr/√n for a = 1/(n−1)², so the second returns from the initial kick n times faster.")
report.Setup(sprintf "Grid: %d × %d; β1 from 0 to 0.95; β2 = 1 − 10^(−s) with s evenly spaced in [0, %g] (β2 from 0 to %s)" rows cols sMax (num (beta2Of sMax)))
report.Setup(sprintf "Classes (d_T = |x_T − x*|, d_half = the same after half the iterations): **converged** d_T < %g; else **converging** d_T < d_half − %g (still on its way: the first steps kick x right by ≈ 2η√n, which comes back only at ≈ lr/√(n+1) per n steps); **diverging** d_T > d_half + %g or non-finite; else **stalled**" convergedWithin trend trend)
report.Setup("What the paper says the diagram shows (thesis Theorem 2.3, Fig. 2.4 (a)): for a fixed n, Adam diverges to infinity in a region of small β2 given by analytic conditions (drawn for n = 20; the conditions themselves are not reproduced here), a region that grows with n to all of [0,1]²; Theorem 2.2: Adam converges (to a neighbourhood of critical points; to x* here, where D0 = 0) when β1 < √β2 and β2 ≥ γ1(n) = 1 − O((1−β1ⁿ)/n⁵), a threshold not claimed tight. Fig. 2.4 (a) draws the curve β1 = √β2.")

let cells = [ for c in configs do for n in ns do for i in 0 .. rows - 1 do for j in 0 .. cols - 1 -> c, n, i, j ]
let results =
    cells
    |> parallelMap (fun (c, n, i, j) ->
        let z = ZhangCounterexample(n, c.A n)
        let struct (half, x) = z.RunAdam(b1Grid.[i], beta2Of sGrid.[j], eta, steps, x0, opts.Seed + 1000 * i + j, c.Sampling)
        (c.Name, n, i, j), (half, x))
    |> dict

type Class = Converged | Converging | Stalled | Diverging
let classify (half: float, x: float) =
    let d, dh = abs (x - ZhangCounterexample.Optimum), abs (half - ZhangCounterexample.Optimum)
    if not (Double.IsFinite d) then Diverging
    elif d < convergedWithin then Converged
    elif d < dh - trend then Converging
    elif d > dh + trend then Diverging
    else Stalled
let clsOf (c: Config) n i j = classify results.[(c.Name, n, i, j)]
let cls (n, i, j) = clsOf primary n i j
let final (c: Config) (n, i, j) = snd results.[(c.Name, n, i, j)]
let converged key = match cls key with Converged | Converging -> true | _ -> false
let diverged key = cls key = Diverging

let csv = CsvTable("config", "a", "n", "beta1", "beta2", "s_log10_inv_1m_beta2", "x_half", "x_final", "distance", "class", "beta1_lt_sqrt_beta2")
for (c, n, i, j) in cells do
    let half, x = results.[(c.Name, n, i, j)]
    let b1, b2 = b1Grid.[i], beta2Of sGrid.[j]
    csv.Add(c.Name, c.A n, n, b1, b2, sGrid.[j], half, x, abs (x - ZhangCounterexample.Optimum), (sprintf "%A" (clsOf c n i j)).ToLowerInvariant(), b1 < sqrt b2)
csv.Save(opts.File "zhang.csv")

// The curve β1 = √β2 in the plot's coordinates (s, β1), where it lies inside the β1 range.
let curve =
    [| for k in 0 .. 200 -> sMax * float k / 200.0 |]
    |> Array.map (fun s -> s, sqrt (beta2Of s))
    |> Array.filter (fun (_, b1) -> b1 <= 0.95 + 0.05)
let counts = Collections.Generic.Dictionary<string * int, int * int * int * int>()
for smp in configs do
    for n in ns do
        let values = Array2D.init rows cols (fun i j ->
            let d = abs (final smp (n, i, j) - ZhangCounterexample.Optimum)
            if Double.IsFinite d then Math.Log10(max d 1e-4) else nan)
        let file = sprintf "heatmap_%sn%d.png" (fileTag smp) n
        Plots.Heatmap(opts.File file, sprintf "Adam (%s), n = %d, %d iterations: log10 |x_T - x*|" smp.Name n steps,
            "s = log10(1/(1 - β2))   (β2 = 0, 0.9, 0.99, 0.999 at s = 0, 1, 2, 3)", "β1", sGrid, b1Grid, values, "log10 distance",
            overlay = [ Series("β1 = sqrt(β2)", Array.map fst curve, Array.map snd curve, Dashed = true) ], min = -4.0, max = 3.0)
        let count c = [ for i in 0 .. rows - 1 do for j in 0 .. cols - 1 do if clsOf smp n i j = c then 1 ] |> List.length
        counts.[(smp.Name, n)] <- (count Converged, count Converging, count Stalled, count Diverging)

report.Text("Each cell is one run; its colour is log10 of the final distance to x* = −2 (clipped below at 1e-4). The dashed curve is β1 = √β2 (drawn in the thesis's Fig. 2.4 (a)): below it (β1 < √β2) the condition of the convergence theorem holds. The thesis plots β1 against β2 on linear axes; here β2 runs along s = log10(1/(1−β2)) so that 0.9 … 0.9997 are not squeezed into one column.")
report.Table([ "configuration"; "n"; "cells"; "converged"; "converging"; "stalled"; "diverging" ],
    [ for smp in configs do for n in ns -> let a, b, c, d = counts.[(smp.Name, n)] in [ box smp.Name; box n; box (rows * cols); box a; box b; box c; box d ] ])
for smp in configs do
    for n in ns do report.Image(sprintf "heatmap_%sn%d.png" (fileTag smp) n, sprintf "%s, n = %d" smp.Name n)
// The smallest β2 column from which on every β1 < √β2 converged or is converging: an empirical phase boundary.
let boundary smp n =
    [ 0 .. cols - 1 ]
    |> List.tryFind (fun j0 ->
        [ for j in j0 .. cols - 1 do for i in 0 .. rows - 1 do if b1Grid.[i] < sqrt (beta2Of sGrid.[j]) then i, j ]
        |> List.forall (fun (i, j) -> match clsOf smp n i j with Converged | Converging -> true | _ -> false))
report.Table([ "configuration"; "n"; "smallest grid β2 from which every β1 < √β2 converged or is converging" ],
    [ for smp in configs do
        for n in ns ->
            let b = match boundary smp n with Some j -> num (beta2Of sGrid.[j]) | None -> "none"
            [ box smp.Name; box n; box b ] ])

// How far the large-β2 runs can move back in the second half, against the noise of uniform sampling.
let sumLr = eta * 2.0 * (sqrt (float steps) - sqrt (float (steps / 2)))
report.Text(sprintf "Reading the large-β2 column: there v ≈ E[g²] and the mean step right of −1 is −lr·E[g]/sqrt(E[g²]) with E[g] = 1/n; for a = 1 (E[g²] ≈ n+1) the drift over the second half is ≈ Σ lr_k/(n·sqrt(n+1)) = %s, while with uniform sampling x also takes a random walk whose standard deviation over the second half is ≈ sqrt(Σ lr_k²) ≈ η·sqrt(ln 2) = %s (reshuffling cancels it within each block of n steps). Where the drift does not exceed the noise, the converging/diverging classes are a coin flip, not a phase. Theorem 2.2's own threshold, β2 ≥ γ1(n) = 1 − O((1−β1ⁿ)/n⁵), is of order 1 − 3·10⁻⁹ at n = 50 (constants aside; not claimed tight), far above this grid: criterion 1 asks more than the theorem there."
    (ns |> List.map (fun n -> sprintf "%s at n = %d" (num (sumLr / (float n * sqrt (float n + 1.0)))) n) |> String.concat ", ")
    (num (eta * sqrt (log 2.0))))

// Criterion 1: at the largest β2, every β1 < √β2 converges.
let top = cols - 1
for n in ns do
    let below = [ for i in 0 .. rows - 1 do if b1Grid.[i] < sqrt (beta2Of sGrid.[top]) then i ]
    let bad = below |> List.filter (fun i -> not (converged (n, i, top)))
    let reached = below |> List.filter (fun i -> cls (n, i, top) = Converged) |> List.length
    report.Decide(
        sprintf "n = %d: for large β2 and β1 < √β2 Adam converges (thesis Theorem 2.2, restating Zhang et al. 2022)" n,
        sprintf "at β2 = %s every grid β1 < √β2 is converged or converging (class definitions in Setup)" (num (beta2Of sGrid.[top])),
        bad.IsEmpty,
        sprintf "n = %d: %d of %d β1 values converged or converging at β2 = %s (%d within %g of x*)%s" n (below.Length - bad.Length) below.Length (num (beta2Of sGrid.[top])) reached convergedWithin
            (if bad.IsEmpty then "" else sprintf "; failing β1: %s" (bad |> List.map (fun i -> num b1Grid.[i]) |> String.concat ", ")))
    |> ignore
// Criterion 2: small β2 diverges.
for n in ns do
    let half, x = results.[(primary.Name, n, 0, 0)]
    report.Decide(
        sprintf "n = %d: for small β2 Adam diverges to infinity (thesis Theorem 2.3; β1 = β2 = 0 is SignSGD, to which it applies)" n,
        "at β1 = 0, β2 = 0 the run is diverging (its distance to x* grew over the second half)",
        diverged (n, 0, 0), sprintf "n = %d: x_half = %s, x_T = %s" n (num half) (num x))
    |> ignore
// Criterion 3: the divergence region grows with n.
let divs = ns |> List.map (fun n -> let _, _, _, d = counts.[(primary.Name, n)] in d)
report.Decide(
    "the divergence region grows with n (thesis Theorem 2.3: it expands to the whole region [0,1]² as n grows)",
    sprintf "the number of diverging cells is non-decreasing in n = %s and larger at the largest n than at the smallest" (ns |> List.map string |> String.concat ", "),
    (List.pairwise divs |> List.forall (fun (a, b) -> b >= a)) && List.last divs > List.head divs,
    sprintf "diverging cells: %s" (List.map2 (fun n d -> sprintf "n=%d: %d" n d) ns divs |> String.concat ", "))
|> ignore

finish report
