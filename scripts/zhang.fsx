// Zhang, Chen, Shi, Sun & Luo, "Adam Can Converge Without Any Modification on Update Rules" (NeurIPS 2022,
// arXiv 2208.09632): on a fixed finite-sum problem, Adam with random reshuffling diverges for small β2 and converges
// for large β2 with β1 < √β2; the divergence region grows with the number n of component functions.
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
let epochs = opts.Pick(100, 2000, 10000)
let cols = opts.Pick(5, 15, 29)          // β2 axis, evenly spaced in s = log10(1/(1−β2)) from 0 (β2 = 0) to sMax
let rows = opts.Pick(4, 12, 20)          // β1 axis, evenly spaced from 0 to 0.95
let sMax = 3.5                           // β2 up to 1 − 10^−3.5 ≈ 0.99968
let eta = 1.0                            // lr_t = η/√t over the global step t (the left drift per epoch is ≈ lr/√n, so η = 0.1 is too slow to reach x* in 2000 epochs)
let x0 = 0.0
let convergedWithin = 0.5                // |x_T − x*| below this: converged
let trend = 0.05                         // distance change over the second half that counts as a trend

let sGrid = [| for j in 0 .. cols - 1 -> sMax * float j / float (cols - 1) |]
let beta2Of s = 1.0 - Math.Pow(10.0, -s)
let b1Grid = [| for i in 0 .. rows - 1 -> 0.95 * float i / float (rows - 1) |]

let report = Report("Zhang et al. (2022): where in (β1, β2) Adam converges on a fixed problem", opts)
report.Setup("Problem (Zhang et al. 2022's example, Reddi et al.'s linear functions with a C¹ quadratic extension left of −1): f_0(x) = n·x for x ≥ −1, n/2·(x+2)² − 3n/2 for x < −1; f_i(x) = −x for x ≥ −1, −1/2·(x+2)² + 3/2 for x < −1 (i = 1..n−1); f = Σ f_i = x for x ≥ −1, 1/2·(x+2)² − 3/2 for x < −1, so x* = −2. Right of −1 the component gradients are n once per epoch and −1 otherwise: sign-like Adam (small β2) drifts right by ≈ (n−2) steps per epoch, while Adam with v ≈ E[g²] ≈ n moves left by ≈ lr/√n per epoch.")
report.Setup("Note: the paper's text could not be retrieved in this session (search tool); the construction above is the paper's example as recalled and checked here for continuity of f_i and f_i' at −1 (see tests). Any difference from the paper's exact constants (its Eq. for f_i, its lr schedule) should be checked against arXiv 2208.09632.")
report.Setup(sprintf "Adam = the CPU reference with torch.optim.Adam semantics (bias correction, ε = 1e-8 outside the root); random reshuffling (a fresh permutation of the n functions each epoch, seed %d + cell index); lr_t = %g/√t; x0 = %g; %d epochs (%s steps for n = %s)" opts.Seed eta x0 epochs (ns |> List.map (fun n -> string (n * epochs)) |> String.concat "/") (ns |> List.map string |> String.concat "/"))
report.Setup(sprintf "Grid: %d × %d; β1 from 0 to 0.95; β2 = 1 − 10^(−s) with s evenly spaced in [0, %g] (β2 from 0 to %s)" rows cols sMax (num (beta2Of sMax)))
report.Setup(sprintf "Classes (d_T = |x_T − x*|, d_half = the same after half the epochs): **converged** d_T < %g; else **converging** d_T < d_half − %g (still on its way: the first epoch's kick to the right, ≈ 2η√n, comes back only at ≈ lr/√(n+1) per epoch, so reaching x* takes of the order of n³ epochs from x0 = 0); **diverging** d_T > d_half + %g or non-finite; else **stalled**" convergedWithin trend trend)

let cells = [ for n in ns do for i in 0 .. rows - 1 do for j in 0 .. cols - 1 -> n, i, j ]
let results =
    cells
    |> parallelMap (fun (n, i, j) ->
        let z = ZhangCounterexample(n)
        let struct (half, x) = z.RunAdam(b1Grid.[i], beta2Of sGrid.[j], eta, epochs, x0, opts.Seed + 1000 * i + j)
        (n, i, j), (half, x))
    |> dict

type Class = Converged | Converging | Stalled | Diverging
let classify (half: float, x: float) =
    let d, dh = abs (x - ZhangCounterexample.Optimum), abs (half - ZhangCounterexample.Optimum)
    if not (Double.IsFinite d) then Diverging
    elif d < convergedWithin then Converged
    elif d < dh - trend then Converging
    elif d > dh + trend then Diverging
    else Stalled
let cls key = classify results.[key]
let final key = snd results.[key]
let converged key = match cls key with Converged | Converging -> true | _ -> false
let diverged key = cls key = Diverging

let csv = CsvTable("n", "beta1", "beta2", "s_log10_inv_1m_beta2", "x_half", "x_final", "distance", "class", "beta1_lt_sqrt_beta2")
for (n, i, j) in cells do
    let half, x = results.[(n, i, j)]
    let b1, b2 = b1Grid.[i], beta2Of sGrid.[j]
    csv.Add(n, b1, b2, sGrid.[j], half, x, abs (x - ZhangCounterexample.Optimum), (sprintf "%A" (cls (n, i, j))).ToLowerInvariant(), b1 < sqrt b2)
csv.Save(opts.File "zhang.csv")

// The curve β1 = √β2 in the plot's coordinates (s, β1), where it lies inside the β1 range.
let curve =
    [| for k in 0 .. 200 -> sMax * float k / 200.0 |]
    |> Array.map (fun s -> s, sqrt (beta2Of s))
    |> Array.filter (fun (_, b1) -> b1 <= 0.95 + 0.05)
let counts = Collections.Generic.Dictionary<int, int * int * int * int>()
for n in ns do
    let values = Array2D.init rows cols (fun i j ->
        let d = abs (final (n, i, j) - ZhangCounterexample.Optimum)
        if Double.IsFinite d then Math.Log10(max d 1e-4) else nan)
    Plots.Heatmap(opts.File(sprintf "heatmap_n%d.png" n), sprintf "Adam on Zhang et al.'s example, n = %d: log10 |x_T - x*|" n,
        "s = log10(1/(1 - β2))   (β2 = 0, 0.9, 0.99, 0.999 at s = 0, 1, 2, 3)", "β1", sGrid, b1Grid, values, "log10 distance",
        overlay = [ Series("β1 = sqrt(β2)", Array.map fst curve, Array.map snd curve, Dashed = true) ], min = -4.0, max = 3.0)
    let count c = [ for i in 0 .. rows - 1 do for j in 0 .. cols - 1 do if cls (n, i, j) = c then 1 ] |> List.length
    counts.[n] <- (count Converged, count Converging, count Stalled, count Diverging)

report.Text("Each cell is one run; its colour is log10 of the final distance to x* = −2 (clipped below at 1e-4). The dashed curve is β1 = √β2: below it (β1 < √β2) the condition of Zhang et al.'s convergence theorem holds.")
report.Table([ "n"; "cells"; "converged"; "converging"; "stalled"; "diverging" ],
    [ for n in ns -> let a, b, c, d = counts.[n] in [ box n; box (rows * cols); box a; box b; box c; box d ] ])
for n in ns do report.Image(sprintf "heatmap_n%d.png" n, sprintf "n = %d" n)

// Criterion 1: at the largest β2, every β1 < √β2 converges.
let top = cols - 1
for n in ns do
    let below = [ for i in 0 .. rows - 1 do if b1Grid.[i] < sqrt (beta2Of sGrid.[top]) then i ]
    let bad = below |> List.filter (fun i -> not (converged (n, i, top)))
    let reached = below |> List.filter (fun i -> cls (n, i, top) = Converged) |> List.length
    report.Decide(
        sprintf "n = %d: for large β2 and β1 < √β2 Adam converges (to a neighbourhood of x*; Zhang et al. 2022, convergence result)" n,
        sprintf "at β2 = %s every grid β1 < √β2 is converged or converging (class definitions in Setup)" (num (beta2Of sGrid.[top])),
        bad.IsEmpty,
        sprintf "n = %d: %d of %d β1 values converged or converging at β2 = %s (%d within %g of x*)%s" n (below.Length - bad.Length) below.Length (num (beta2Of sGrid.[top])) reached convergedWithin
            (if bad.IsEmpty then "" else sprintf "; failing β1: %s" (bad |> List.map (fun i -> num b1Grid.[i]) |> String.concat ", ")))
    |> ignore
// Criterion 2: small β2 diverges.
for n in ns do
    let half, x = results.[(n, 0, 0)]
    report.Decide(
        sprintf "n = %d: for small β2 Adam diverges (Zhang et al. 2022, divergence result: a region at small β2)" n,
        "at β1 = 0, β2 = 0 the run is diverging (its distance to x* grew over the second half)",
        diverged (n, 0, 0), sprintf "n = %d: x_half = %s, x_T = %s" n (num half) (num x))
    |> ignore
// Criterion 3: the divergence region grows with n.
let divs = ns |> List.map (fun n -> let _, _, _, d = counts.[n] in d)
report.Decide(
    "the divergence region grows with n (Zhang et al. 2022: it expands to all of [0,1)² as n → ∞)",
    sprintf "the number of diverging cells is non-decreasing in n = %s and larger at the largest n than at the smallest" (ns |> List.map string |> String.concat ", "),
    (List.pairwise divs |> List.forall (fun (a, b) -> b >= a)) && List.last divs > List.head divs,
    sprintf "diverging cells: %s" (List.map2 (fun n d -> sprintf "n=%d: %d" n d) ns divs |> String.concat ", "))
|> ignore

finish report
