// Learning rate vs width (arXiv 2507.05966, Corollary 3.3, case 2: with γ ∝ 1/√d the bound is free of the dimension d,
// i.e. the best step should shrink like d^(−1/2) as the model grows), with μP (Yang et al. 2022, Tensor Programs V) as
// the control: under μP the best base lr should not move with width. An MLP family 784-w-w-10 (ReLU, no dropout) on a
// Fashion-MNIST training subset, Adam at constant lr on a log grid, several seeds, both parameterizations; θ = the slope
// of log(best lr) on log(d) with a bootstrap CI over seeds. Criteria, sizes, seeds: scripts/criteria/width.json.
//   scripts/fsx width [--smoke | --full] [--out DIR] [--seed N] [--seeds K] [--shard k/n]
// Writes runs/width/{runs.csv, loss_vs_lr_<param>.png, best_lr.png, report.md, verdicts.json, provenance.json}.
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

let exp = experiment "width"
let opts = exp.Options
let widths = exp.Ints "widths" |> List.ofArray
let logLrs = exp.Floats "log10_lrs" |> List.ofArray
let trainCount = exp.Int "train"
let epochs = exp.Int "epochs"
let batch = 64
let baseWidth = List.min widths
let parameterizations = [ "sp"; "mup" ]

let struct (trainAll, _) = FashionMnist.Load "auto"
let train = trainAll.Take(Nullable trainCount)
let paramCount (w: int) = 784L * int64 w + int64 w + int64 w * int64 w + int64 w + 10L * int64 w + 10L

/// One run: final loss and accuracy on the whole training subset (the objective F, no minibatch noise); a non-finite
/// loss counts as +∞ (diverged). "sp": torch's init, one lr. "mup" (Tensor Programs V, Table 3, Adam): fc1 and every
/// bias at lr, fc2.weight and fc3.weight at lr·w0/w, fc3.weight initialized at √(w0/w) times torch's scale (std ∝ 1/w).
let run (param: string) (w: int) (logLr: float) (seed: int) =
    let s = uint64 (seed * 1000)
    let model = ModelZoo.Mlp(784, [ w; w ], 10, 0.0, 0.0, Rng.ForStream(s, 1UL), Rng.ForStream(s, 2UL))
    let lr = Math.Pow(10.0, logLr)
    let hp = Hyperparameters.For(Algorithm.Adam, lr = lr)   // Adam defaults: β1 0.9, β2 0.999, ε 1e-8
    use opt =
        if param = "sp" then new Optimizer(Algorithm.Adam, model.Parameters, hp)
        else
            let ratio = float baseWidth / float w
            let outW = model.Parameters |> Seq.find (fun p -> p.Name = "fc3.weight")
            let k = float32 (sqrt ratio)
            for i in 0 .. outW.Data.Length - 1 do outW.Data.[i] <- outW.Data.[i] * k
            let scaled, plain = model.Parameters |> List.ofSeq |> List.partition (fun p -> p.Name = "fc2.weight" || p.Name = "fc3.weight")
            new Optimizer(Algorithm.Adam, [ ParamGroup(plain, hp); ParamGroup(scaled, Hyperparameters.For(Algorithm.Adam, lr = lr * ratio)) ])
    let tr = Trainer(model, opt, train, null, TrainerOptions(Epochs = epochs, BatchSize = batch), Rng.ForStream(s, 3UL), null)
    tr.Run()
    let struct (loss, acc) = (tr.Objective :?> ModelObjective).Evaluate train
    (if Double.IsFinite loss then loss else infinity), acc, tr.Step

// widest first: better packing on the cores
let jobs = [ for w in List.rev widths do for p in parameterizations do for lr in logLrs do for seed in exp.Seeds -> p, w, lr, seed ]
let raw =
    exp.Run("runs", jobs, (fun (p, w, lr, seed) -> sprintf "%s w=%d lr=%g seed=%d" p w lr seed),
        [ "param"; "width"; "params"; "log10_lr"; "lr"; "seed"; "final_train_loss"; "final_train_acc"; "steps" ],
        fun (p, w, lr, seed) ->
            let l, a, steps = run p w lr seed
            [ [| box p; box w; box (paramCount w); box lr; box (Math.Pow(10.0, lr)); box seed; box l; box a; box steps |] ])

let grid = List.toArray logLrs
let seeds = exp.Seeds |> Seq.toArray
let loss = Collections.Generic.Dictionary<(string * int * int * int), float>()
for r in raw.Rows do
    let li = Array.IndexOf(grid, r.Float "log10_lr")
    loss.[(r.Str "param", r.Int "width", li, r.Int "seed")] <- r.Float "final_train_loss"
let steps = raw.Rows.[0].Long "steps"

/// The seed-mean loss curve of a width over the grid, for a sample of seeds (repeats allowed: the bootstrap).
let meanCurve (p: string) (w: int) (sample: int seq) =
    let ss = Seq.toArray sample
    grid |> Array.mapi (fun i _ -> ss |> Array.averageBy (fun k -> loss.[(p, w, i, k)]))

/// The best log10 lr of a curve: the grid minimum refined by the vertex of the parabola through it and its two
/// neighbours in (log10 lr, ln loss), kept within the neighbours; at a grid edge the edge itself (flagged).
let bestOf (curve: float[]) =
    let k = curve |> Array.indexed |> Array.minBy snd |> fst
    if k = 0 || k = curve.Length - 1 || not (Array.forall Double.IsFinite curve.[k - 1 .. k + 1]) then grid.[k], true
    else
        let y0, y1, y2 = log curve.[k - 1], log curve.[k], log curve.[k + 1]
        let h = grid.[k + 1] - grid.[k]
        let den = y0 - 2.0 * y1 + y2
        let x = if den > 0.0 then grid.[k] + 0.5 * h * (y0 - y2) / den else grid.[k]
        Math.Clamp(x, grid.[k - 1], grid.[k + 1]), false

let logD = widths |> List.map (fun w -> log10 (float (paramCount w))) |> List.toArray
/// θ for a sample of seeds: the slope of the best log10 lr (of the seed-mean curves) on log10 d.
let slopeFor (p: string) (sample: int seq) =
    let ss = Seq.toArray sample
    let best = widths |> List.map (fun w -> fst (bestOf (meanCurve p w ss))) |> List.toArray
    SlopeFit.Linear(logD, best, 0.95).Slope

let report = exp.Report
report.Setup(sprintf "Model: MLP 784-w-w-10 (ReLU, no dropout, torch's U(±1/√fan_in) init), w ∈ {%s}; d = 784w + w + w² + w + 10w + 10 = %s parameters"
    (widths |> List.map string |> String.concat ", ") (widths |> List.map (paramCount >> string) |> String.concat ", "))
report.Setup(sprintf "Data: the first %d Fashion-MNIST training images (%s), minibatch %d, %d epoch(s) = %d steps, shuffled per seed" trainCount train.Name batch epochs steps)
report.Setup(sprintf "Adam (β1 = 0.9, β2 = 0.999, ε = 1e-8, bias-corrected, constant lr) at lr = 10^k, k ∈ {%s}; seeds %s (init, batches; the same for every lr and both parameterizations of a seed)"
    (logLrs |> List.map (sprintf "%g") |> String.concat ", ") (seeds |> Array.map string |> String.concat ", "))
report.Setup(sprintf "Parameterizations: **sp** = standard (torch init, one lr for all parameters: the setting of the paper's guideline); **mup** = μP for Adam (Tensor Programs V, Table 3) with base width w0 = %d: fc2.weight and fc3.weight at lr·w0/w, fc1 and biases at lr, fc3.weight initialized at √(w0/w) × torch's scale; at w = w0 the two coincide" baseWidth)
report.Setup("Best lr of a width: the minimum over the grid of the seed-mean final loss on the whole training subset, refined by the vertex of the parabola through the minimum and its two neighbours in (log10 lr, ln loss); θ = least-squares slope of log10(best lr) on log10(d); its interval: bootstrap over seeds (each replicate resamples whole seeds and redoes curves, best lrs and slope)")

for p in parameterizations do
    Plots.Lines(opts.File (sprintf "loss_vs_lr_%s.png" p), sprintf "%s: final training loss vs lr (seed mean)" p, "lr", "loss on the training subset",
        [ for w in widths ->
            let c = meanCurve p w seeds
            let idx = [| for i in 0 .. grid.Length - 1 do if Double.IsFinite c.[i] then i |]
            Series(sprintf "w = %d (d = %d)" w (paramCount w), idx |> Array.map (fun i -> Math.Pow(10.0, grid.[i])), idx |> Array.map (fun i -> c.[i]), Markers = true) ],
        logX = true, logY = true)
let bestTable p = [ for w in widths -> w, bestOf (meanCurve p w seeds), [| for k in seeds -> fst (bestOf (meanCurve p w [ k ])) |] ]
let xs = widths |> List.map (paramCount >> float) |> List.toArray
Plots.Lines(opts.File "best_lr.png", "best lr vs parameter count", "d (parameters)", "best (base) lr",
    [ for p in parameterizations do
        yield Series(sprintf "%s: best lr (seed-mean curve)" p, xs, bestTable p |> List.map (fun (_, (b, _), _) -> Math.Pow(10.0, b)) |> List.toArray, Markers = true)
      let cx, cy = Array.average logD, bestTable "sp" |> List.averageBy (fun (_, (b, _), _) -> b)
      yield Series("slope −1/2 through the sp centroid", xs, logD |> Array.map (fun x -> Math.Pow(10.0, cy - 0.5 * (x - cx))), Dashed = true) ],
    logX = true, logY = true)

let edges = [ for p in parameterizations do for (w, (_, e), _) in bestTable p do if e then yield sprintf "%s w = %d" p w ]
for p in parameterizations do
    report.Section(sprintf "%s" (if p = "sp" then "Standard parameterization" else "μP"))
    report.Table([ "w"; "d"; "best lr"; "best log10 lr"; "at grid edge"; "per-seed best log10 lr"; "loss at best grid lr" ],
        [ for (w, (b, e), ps) in bestTable p ->
            [ box w; box (paramCount w); box (Math.Pow(10.0, b)); box b; box (if e then "yes" else "no"); box (String.Join(", ", ps |> Array.map (sprintf "%.2f"))); box (meanCurve p w seeds |> Array.min) ] ])
    report.Image(sprintf "loss_vs_lr_%s.png" p, sprintf "%s: final training loss against lr, one curve per width" p)
report.Image("best_lr.png", "best lr against d for both parameterizations, with a −1/2 line")

let departure = if edges.IsEmpty then null else sprintf "the best lr lies at the grid's edge for %s: the slope then measures the grid" (String.concat ", " edges)
let seedItems = seeds
let spDist = exp.Effect("sp-decreasing", seedItems, (fun s -> slopeFor "sp" s), sprintf "slope %s on all seeds" (num (slopeFor "sp" seeds)), departure)
exp.Effect("sp-half", seedItems, (fun s -> slopeFor "sp" s),
    sprintf "slope %s (bootstrap se %s over %d seeds)" (num spDist.Estimate) (num spDist.StandardError) seeds.Length, departure) |> ignore
let mup = exp.Effect("mup-flat", seedItems, (fun s -> slopeFor "mup" s), sprintf "μP slope %s" (num (slopeFor "mup" seeds)), departure)
report.Section("Power")
report.Text(sprintf "The bootstrap standard error of the slope is %s (sp) and %s (μP) at %d seeds. An equivalence test at margin ±0.15 needs roughly z·se < 0.15 − |θ̂ − centre|; telling the paper's −1/2 from μP's 0 (a difference of 0.5) at α = 0.025 needs se ≲ 0.5/(2·1.96) ≈ 0.13, i.e. about %.0f seeds at this noise (se ∝ 1/√n)."
    (num spDist.StandardError) (num mup.StandardError) seeds.Length (float seeds.Length * (spDist.StandardError / 0.1276) ** 2.0 |> ceil |> max (float seeds.Length)))

finishExperiment exp
