// Learning rate vs width (arXiv 2507.05966, Corollary 3.3, case 2: with γ ∝ 1/√d the bound is free of the dimension d,
// i.e. the best step should shrink like d^(−1/2) as the model grows). An MLP family 784-w-w-10 (ReLU, no dropout) on a
// Fashion-MNIST training subset, Adam at constant lr on a log grid, several seeds; the best lr per width and the slope
// of log(best lr) against log(d), d = parameter count, with its 95% CI, compared to −1/2.
//   dotnet fsi scripts/width.fsx [--smoke | --full] [--out DIR] [--seed N]
// Writes runs/width/{runs.csv, best.csv, loss_vs_lr.png, best_lr.png, report.md}.
#load "lib/Common.fsx"
open System
open Common
open CudaAdam
open CudaAdam.Experiments.Plotting
open CudaAdam.Experiments.Recording
open CudaAdam.Experiments.Statistics
open CudaAdam.Training
open CudaAdam.Training.Data
open CudaAdam.Training.Models

let opts = options "width"
let widths = opts.Pick([ 8; 16; 32 ], [ 16; 32; 64; 128; 256 ], [ 16; 32; 64; 128; 256; 512; 1024; 2048 ])
/// log10 of the learning rates: quarter decades.
let quarterDecades (a: float) (n: int) = [ for i in 0 .. n - 1 -> a + 0.25 * float i ]
let logLrs = opts.Pick([ -3.0; -2.5; -2.0; -1.5 ], quarterDecades -3.0 8, quarterDecades -3.5 11)
let seeds = opts.Pick(1, 2, 3)
let trainCount = opts.Pick(512, 4096, 4096)
let epochs = opts.Pick(1, 3, 6)
let batch = 64

let struct (trainAll, _) = FashionMnist.Load "auto"
let train = trainAll.Take(Nullable trainCount)
let paramCount (w: int) = 784L * int64 w + int64 w + int64 w * int64 w + int64 w + 10L * int64 w + 10L

/// One run: final loss and accuracy on the whole training subset (dropout-free model, so this is the objective F
/// the optimizer descends, without minibatch noise). A non-finite loss counts as +∞ (diverged).
let run (w: int) (logLr: float) (seed: int) =
    let s = uint64 (opts.Seed * 1000 + seed)
    let model = ModelZoo.Mlp(784, [ w; w ], 10, 0.0, 0.0, Rng.ForStream(s, 1UL), Rng.ForStream(s, 2UL))
    let hp = Hyperparameters.For(Algorithm.Adam, lr = Math.Pow(10.0, logLr))   // Adam defaults: β1 0.9, β2 0.999, ε 1e-8
    use opt = new Optimizer(Algorithm.Adam, model.Parameters, hp)
    let tr = Trainer(model, opt, train, null, TrainerOptions(Epochs = epochs, BatchSize = batch), Rng.ForStream(s, 3UL), null)
    tr.Run()
    let struct (loss, acc) = (tr.Objective :?> ModelObjective).Evaluate train
    (if Double.IsFinite loss then loss else infinity), acc, tr.Step

let jobs = [ for w in List.rev widths do for lr in logLrs do for k in 1 .. seeds -> w, lr, k ]   // widest first: better packing
let results = jobs |> parallelMap (fun (w, lr, k) -> let l, a, steps = run w lr k in w, lr, k, l, a, steps)
let steps = results |> List.head |> fun (_, _, _, _, _, s) -> s

let csv = CsvTable("width", "params", "log10_lr", "lr", "seed", "final_train_loss", "final_train_acc")
for (w, lr, k, l, a, _) in results |> List.sortBy (fun (w, lr, k, _, _, _) -> w, lr, k) do
    csv.Add(w, paramCount w, lr, Math.Pow(10.0, lr), k, l, a)
csv.Save(opts.File "runs.csv")

let grid = List.toArray logLrs
let lossOf w lr k = results |> List.pick (fun (w', lr', k', l, _, _) -> if w' = w && lr' = lr && k' = k then Some l else None)
/// Seed mean of the final loss on the grid (∞ if any seed diverged).
let meanCurve w = grid |> Array.map (fun lr -> [ for k in 1 .. seeds -> lossOf w lr k ] |> List.average)

/// The best log10 lr of a loss curve on the grid: the grid minimum refined by the vertex of the parabola through it and
/// its two neighbours in (log10 lr, ln loss), kept within the neighbours; at a grid edge the edge itself (flagged).
let bestOf (curve: float[]) =
    let k = curve |> Array.indexed |> Array.minBy snd |> fst
    if k = 0 || k = curve.Length - 1 || not (Array.forall Double.IsFinite curve.[k - 1 .. k + 1]) then grid.[k], true
    else
        let y0, y1, y2 = log curve.[k - 1], log curve.[k], log curve.[k + 1]
        let h = grid.[k + 1] - grid.[k]
        let den = y0 - 2.0 * y1 + y2
        let x = if den > 0.0 then grid.[k] + 0.5 * h * (y0 - y2) / den else grid.[k]
        Math.Clamp(x, grid.[k - 1], grid.[k + 1]), false

let best =
    [ for w in widths ->
        let b, edge = bestOf (meanCurve w)
        let perSeed = [| for k in 1 .. seeds -> fst (bestOf (grid |> Array.map (fun lr -> lossOf w lr k))) |]
        w, paramCount w, b, edge, perSeed ]
let bcsv = CsvTable("width", "params", "best_log10_lr", "best_lr", "at_grid_edge", "per_seed_best_log10_lr")
for (w, d, b, e, ps) in best do bcsv.Add(w, d, b, Math.Pow(10.0, b), e, String.Join(" ", ps |> Array.map (sprintf "%.3f")))
bcsv.Save(opts.File "best.csv")

let logD = best |> List.map (fun (_, d, _, _, _) -> log10 (float d)) |> List.toArray
let logW = best |> List.map (fun (w, _, _, _, _) -> log10 (float w)) |> List.toArray
let logBest = best |> List.map (fun (_, _, b, _, _) -> b) |> List.toArray
let fitD = SlopeFit.Linear(logD, logBest, 0.95)
let fitW = SlopeFit.Linear(logW, logBest, 0.95)

let report = Report("Learning rate vs width: the best Adam lr of an MLP family", opts)
report.Setup(sprintf "Model: MLP 784-w-w-10 (ReLU, no dropout, torch's U(±1/√fan_in) init), w ∈ {%s}; d = 784w + w + w² + w + 10w + 10 = %s parameters"
    (widths |> List.map string |> String.concat ", ") (best |> List.map (fun (_, d, _, _, _) -> string d) |> String.concat ", "))
report.Setup(sprintf "Data: the first %d Fashion-MNIST training images (%s), minibatch %d, %d epoch(s) = %d steps, shuffled per seed" trainCount train.Name batch epochs steps)
report.Setup(sprintf "Adam (β1 = 0.9, β2 = 0.999, ε = 1e-8, bias-corrected, constant lr) at lr = 10^k, k ∈ {%s}; %d seeds (same init and batches for every lr of a seed)"
    (logLrs |> List.map (sprintf "%g") |> String.concat ", ") seeds)
report.Setup("Best lr of a width: the minimum over the grid of the seed-mean final loss on the whole training subset (the objective F, no minibatch noise), refined by the vertex of the parabola through the minimum and its two neighbours in (log10 lr, ln loss); a minimum at the grid's edge is flagged")
report.Setup("The paper's d is the dimension of x, i.e. the parameter count; the slope against width is reported too (for this family d grows like w while 784w dominates, like w² beyond w ≈ 800)")
report.Setup("Fit: least squares of log10(best lr) on log10(d) over the widths (one point per width), slope with a 95% t-interval (SlopeFit, n − 2 dof)")

let colours = widths |> List.map (fun w -> w)
Plots.Lines(opts.File "loss_vs_lr.png", "final training loss vs lr (seed mean)", "lr", "loss on the training subset",
    [ for w in colours ->
        let c = meanCurve w
        let idx = [| for i in 0 .. grid.Length - 1 do if Double.IsFinite c.[i] then i |]
        Series(sprintf "w = %d (d = %d)" w (paramCount w), idx |> Array.map (fun i -> Math.Pow(10.0, grid.[i])), idx |> Array.map (fun i -> c.[i]), Markers = true) ],
    logX = true, logY = true)
let xs = best |> List.map (fun (_, d, _, _, _) -> float d) |> List.toArray
let cx = Array.average logD
let cy = Array.average logBest
Plots.Lines(opts.File "best_lr.png", "best lr vs parameter count", "d (parameters)", "best lr",
    [ yield Series("best lr (seed mean curve)", xs, logBest |> Array.map (fun b -> Math.Pow(10.0, b)), Markers = true)
      for k in 0 .. seeds - 1 do
        yield Series(sprintf "seed %d alone" (k + 1), xs, best |> List.map (fun (_, _, _, _, ps) -> Math.Pow(10.0, ps.[k])) |> List.toArray, Markers = true, Dashed = true)
      yield Series(sprintf "fit: slope %.3f" fitD.Slope, xs, logD |> Array.map (fun x -> Math.Pow(10.0, fitD.Intercept + fitD.Slope * x)))
      yield Series("slope −1/2 through the centroid (dashed)", xs, logD |> Array.map (fun x -> Math.Pow(10.0, cy - 0.5 * (x - cx))), Dashed = true) ],
    logX = true, logY = true)

report.Table([ "w"; "d"; "best lr"; "best log10 lr"; "at grid edge"; "per-seed best log10 lr"; "loss at best grid lr" ],
    [ for (w, d, b, e, ps) in best ->
        [ box w; box d; box (Math.Pow(10.0, b)); box b; box (if e then "yes" else "no"); box (String.Join(", ", ps |> Array.map (sprintf "%.2f"))); box (meanCurve w |> Array.min) ] ])
report.Table([ "fit of log10(best lr) on"; "slope"; "95% CI"; "r"; "n" ],
    [ [ box "log10 d"; box fitD.Slope; box (sprintf "[%s, %s]" (num fitD.SlopeLow) (num fitD.SlopeHigh)); box fitD.RValue; box logD.Length ]
      [ box "log10 w"; box fitW.Slope; box (sprintf "[%s, %s]" (num fitW.SlopeLow) (num fitW.SlopeHigh)); box fitW.RValue; box logW.Length ] ])
report.Image("loss_vs_lr.png", "final training loss against lr, one curve per width")
report.Image("best_lr.png", "best lr against d, with the fit and a −1/2 line")

let edges = best |> List.filter (fun (_, _, _, e, _) -> e) |> List.map (fun (w, _, _, _, _) -> w)
report.Decide("the best lr of every width lies inside the lr grid (else the fit below measures the grid, not the optimum)",
    "the seed-mean loss curve of every width has its minimum at an interior grid point",
    edges.IsEmpty, (if edges.IsEmpty then "all interior" else sprintf "at the grid edge: w = %s" (edges |> List.map string |> String.concat ", ")))
|> ignore
report.Decide("larger models need a smaller lr (the paper's practical guideline)",
    "the upper end of the 95% CI of the slope of log10(best lr) on log10(d) is below 0",
    fitD.SlopeHigh < 0.0, sprintf "slope %s, 95%% CI [%s, %s]" (num fitD.Slope) (num fitD.SlopeLow) (num fitD.SlopeHigh))
|> ignore
report.Decide("the best lr scales like d^(−1/2) (arXiv 2507.05966, Corollary 3.3 case 2: γ ∝ 1/√d)",
    "−1/2 lies inside the 95% CI of the slope of log10(best lr) on log10(d)",
    fitD.IsConsistentWith -0.5,
    sprintf "slope vs d %s [%s, %s]; vs width %s [%s, %s]" (num fitD.Slope) (num fitD.SlopeLow) (num fitD.SlopeHigh)
        (num fitW.Slope) (num fitW.SlopeLow) (num fitW.SlopeHigh))
|> ignore

finish report
