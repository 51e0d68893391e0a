// A DeepOBS-style benchmark of the Adam family (Schneider, Balles & Hennig, "DeepOBS: A Deep Learning Optimizer
// Benchmark Suite", ICLR 2019): every optimizer tuned over a log-spaced learning-rate grid on a few test problems,
// several seeds, and a table of performance / speed / tuneability per DeepOBS's protocol.
//   dotnet fsi scripts/deepobs.fsx [--smoke | --full] [--out DIR] [--seed N]
// Writes runs/deepobs/{deepobs_runs.csv, deepobs_curves.csv, lr_<problem>.png, curves_<problem>.png, report.md}.
//
// The claims, from DeepOBS's baselines (Section 4 and its baseline table: SGD, momentum SGD and Adam, each with a
// tuned constant lr): there is no clear winner across problems, and Adam, tuned, is competitive with the best tuned
// method on each problem. Plus a consistency check of this project: signadam (the sign-decomposed Adam step) is
// Adam bit for bit, so its runs must equal Adam's exactly.
//
// Problems (the training stack's IStochasticProblem and Trainer, all on the CPU reference backend):
//   quadratic_deep   DeepOBS's 100-d noisy quadratic, batch 128, DeepOBS's 100 epochs (7 steps each); metric: test loss
//   fmnist_logreg    softmax regression on the embedded Fashion-MNIST subset (1,000 train / 500 test), batch 128;
//                    metric: test accuracy (DeepOBS uses accuracy for classification)
//   rosenbrock       the 10-d Rosenbrock function with gradient noise σ = 1, batch 1; metric: log10 F(x)
// Protocol (DeepOBS's, with our thresholds): the best lr of a method on a problem is the grid point with the best
// seed-mean final metric; performance = that mean (± standard deviation over seeds); speed = the first epoch at which
// the seed-mean curve at the best lr reaches 90% of the best decrease any method achieved on the problem (progress
// p = (m0 − m)/(m0 − m_best), sign-adjusted for accuracy); tuneability = the fraction of the lr grid whose final
// progress is at least 90% of the method's own best progress.
#load "lib/Common.fsx"
open System
open System.IO
open Common
open CudaAdam
open CudaAdam.Problems
open CudaAdam.Training
open CudaAdam.Training.Data
open CudaAdam.Training.Models
open CudaAdam.Training.Layers
open CudaAdam.Experiments.Plotting
open CudaAdam.Experiments.Recording

// One OpenBLAS thread per run: the runs already go in parallel over the cores (OpenBlasGemm.SetThreads says why).
CudaAdam.Training.Tensors.OpenBlasGemm.SetThreads 1 |> ignore
let exp = experiment "deepobs"
let opts = exp.Options
// DeepOBS's protocol: a log grid of 36 lrs from 1e-5 to 1e2 searched with one seed, the best lr rerun with 10 seeds.
let gridPoints = exp.Int "grid_points"
let lrs = [| for i in 0 .. gridPoints - 1 -> Math.Pow(10.0, -5.0 + 7.0 * float i / float (gridPoints - 1)) |]
let qdEpochs = exp.Int "quadratic_epochs"
let lrEpochs = exp.Int "logreg_epochs"
let cnnEpochs = exp.Int "cnn_epochs"
let cnnTrain = exp.Int "cnn_train"
let searchSeed = exp.Seeds.[0]

// ---- the family: DeepOBS's baselines (SGD, momentum SGD, Adam) plus signadam for the consistency check; torch.optim's
// defaults except the lr ----
type Method = { Label: string; Algorithm: Algorithm; Hp: float -> Hyperparameters }
let methods =
    [ { Label = "adam"; Algorithm = Algorithm.Adam; Hp = fun lr -> Hyperparameters.For(Algorithm.Adam, lr = lr) }
      { Label = "signadam"; Algorithm = Algorithm.SignAdam; Hp = fun lr -> Hyperparameters.For(Algorithm.SignAdam, lr = lr) }
      { Label = "sgd-momentum"; Algorithm = Algorithm.Sgd; Hp = fun lr -> Hyperparameters.For(Algorithm.Sgd, lr = lr, momentum = 0.9) }
      { Label = "sgd"; Algorithm = Algorithm.Sgd; Hp = fun lr -> Hyperparameters.For(Algorithm.Sgd, lr = lr) } ]
let others = methods |> List.filter (fun m -> m.Label <> "adam" && m.Label <> "signadam")

// ---- problems: each run returns the metric per epoch (epoch 0 = before training) and, for reports, the test loss ----
type Problem =
    { Name: string
      Metric: string
      HigherIsBetter: bool
      Description: string
      /// Learning curves are plotted as metric − F* on a log axis when F* is known (quadratic_deep).
      CurveOffset: float option
      Run: Method -> float -> int -> float[] * float[] }   // method, lr, seed -> (metric per epoch, test loss per epoch)

/// Diverged runs (NaN, ±∞) count as the worst possible value.
let clean higher (v: float) = if Double.IsFinite v then v elif higher then Double.NegativeInfinity else Double.PositiveInfinity

let problemRun (p: IStochasticProblem) epochs batch (stepsPerEpoch: Nullable<int>) transform (m: Method) (lr: float) (seed: int) =
    let x = Parameter("x", p.InitialPoint())
    use opt = new Optimizer(m.Algorithm, [ x ], m.Hp lr)
    let t = Trainer(p, opt, x, TrainerOptions(Epochs = epochs, BatchSize = batch, StepsPerEpoch = stepsPerEpoch), Rng.ForStream(uint64 seed, 1UL))
    let losses = ResizeArray [ t.Initial().TestLoss ]
    // A run whose loss stops being finite ends there (TrainingDivergedException): its remaining epochs are NaN.
    (try t.Run(onEpoch = Action<EpochRecord>(fun e -> losses.Add e.TestLoss)) with :? TrainingDivergedException -> ())
    while losses.Count <= epochs do losses.Add nan
    let l = losses.ToArray()
    Array.map (transform >> clean false) l, l

let quadratic = QuadraticDeep()
let struct (fmTrain, fmTest) = FashionMnist.LoadEmbedded()

let classifierRun (build: Rng -> Sequential) (train: Dataset) (test: Dataset) (epochs: int) (m: Method) (lr: float) (seed: int) =
    let model = build (Rng.ForStream(uint64 seed, 0UL))
    use opt = new Optimizer(m.Algorithm, model.Parameters, m.Hp lr)
    let tr = Trainer(model, opt, train, test, TrainerOptions(Epochs = epochs, BatchSize = 128), Rng.ForStream(uint64 seed, 1UL), null)
    let struct (l0, a0) = (tr.Objective :?> ModelObjective).Evaluate(test)
    let accs = ResizeArray [ a0 ]
    let losses = ResizeArray [ l0 ]
    (try tr.Run(onEpoch = Action<EpochRecord>(fun e -> accs.Add e.TestAccuracy; losses.Add e.TestLoss))
     with :? TrainingDivergedException -> ())
    while losses.Count <= epochs do
        accs.Add nan
        losses.Add nan
    // A diverged run's loss is NaN; its accuracy is then meaningless: count it as 0.
    Array.map2 (fun a l -> if Double.IsFinite l then a else 0.0) (accs.ToArray()) (losses.ToArray()), losses.ToArray()

let logregRun = classifierRun (fun r -> ModelZoo.LogisticRegression(FashionMnist.Features, FashionMnist.Classes, r)) fmTrain fmTest lrEpochs
let cnnProblem =
    if cnnEpochs = 0 then []
    else
        let struct (full, fullTest) = FashionMnist.Load "auto"
        let tr, te = full.Take(Nullable cnnTrain), fullTest.Take(Nullable 2000)
        [ { Name = "fmnist_2c2d"; Metric = "test accuracy"; HigherIsBetter = true
            Description = sprintf "DeepOBS fmnist_2c2d (conv 32, conv 64, fc 1024; 3.27M parameters) on %d training / %d test images (%s), batch 128, %d epochs (DeepOBS: 60,000 images, 100 epochs)" tr.Count te.Count full.Name cnnEpochs
            CurveOffset = None
            Run = classifierRun (fun r -> ModelZoo.Cnn(28, 28, 10, r)) tr te cnnEpochs } ]
let problems =
    [ { Name = "quadratic_deep"; Metric = "test loss"; HigherIsBetter = false
        Description = sprintf "DeepOBS quadratic_deep (100-d, Q = Rᵀdiag(λ)R, 90%% of λ in U(0,1), 10%% in U(30,60), data N(0, 0.6²)), batch 128, %d epochs × 7 steps, F* = %s" qdEpochs (num quadratic.OptimalLoss.Value)
        CurveOffset = Some quadratic.OptimalLoss.Value
        Run = problemRun quadratic qdEpochs 128 (Nullable()) id }
      { Name = "fmnist_logreg"; Metric = "test accuracy"; HigherIsBetter = true
        Description = sprintf "softmax regression 784→10 on the embedded Fashion-MNIST subset (%d train / %d test images), batch 128, %d epochs × %d steps" fmTrain.Count fmTest.Count lrEpochs ((fmTrain.Count + 127) / 128)
        CurveOffset = None
        Run = logregRun } ] @ cnnProblem

let report = exp.Report
let problem name = problems |> List.find (fun p -> p.Name = name)
let methodOf label = methods |> List.find (fun m -> m.Label = label)
report.Setup(sprintf "Methods: %s (DeepOBS's baselines SGD, momentum SGD and Adam, plus signadam for the consistency check); torch.optim's defaults except lr (SGD momentum 0.9), constant lr, the CPU reference backend" (methods |> List.map (fun m -> m.Label) |> String.concat ", "))
report.Setup(sprintf "Protocol (DeepOBS, Schneider et al. 2019, §3): search over %d log-spaced lrs from 1e-5 to 1e2 with one seed (%d); the best lr of each (problem, method) by that seed's final metric; the best setting rerun with the %d seeds %s (seed k: initialization, minibatch order and noise; the same for every method), whose results are the performance (mean ± sd)" lrs.Length searchSeed exp.Seeds.Count (exp.Seeds |> Seq.map string |> String.concat ", "))
for p in problems do report.Setup(sprintf "Problem `%s`: %s; metric: %s (%s is better)" p.Name p.Description p.Metric (if p.HigherIsBetter then "higher" else "lower"))
report.Setup("Speed and tuneability (reported, not criteria) come from the search: speed = first epoch at which the search seed's curve at the best lr reaches 90% of the best decrease of any method on the problem; tuneability = the fraction of the lr grid whose final progress is ≥ 0.9 × the method's own best progress. Diverged runs count as the worst value (accuracy 0)")

// ---- stage 1: the search (one seed) ----
let searchJobs = [ for p in problems do for m in methods do for i in 0 .. lrs.Length - 1 -> p, m, i ]
let curveCols = [ "problem"; "optimizer"; "lr"; "seed"; "epoch"; "metric"; "test_loss" ]
let curveRows (p: Problem) (m: Method) (lr: float) (seed: int) =
    let metric, loss = p.Run m lr seed
    [ for e in 0 .. metric.Length - 1 -> [| box p.Name; box m.Label; box lr; box seed; box e; box metric.[e]; box loss.[e] |] ]
let search =
    exp.Run("search", searchJobs, (fun (p, m, i) -> sprintf "%s/%s/lr#%d" p.Name m.Label i), curveCols,
        fun (p, m, i) -> curveRows p m lrs.[i] searchSeed)

/// The metric per epoch of one run, indexed once per table (the bootstrap below asks for finals 10⁶ times).
let curveIndex = Collections.Generic.Dictionary<RawTable, Collections.Generic.Dictionary<string * string * float * int, float[]>>(HashIdentity.Reference)
let curve (t: RawTable) (pn: string) (ml: string) (lr: float) (seed: int) =
    if not (curveIndex.ContainsKey t) then
        let d = Collections.Generic.Dictionary<string * string * float * int, float[]>()
        for g in t.Rows |> Seq.groupBy (fun r -> r.Str "problem", r.Str "optimizer", r.Float "lr", r.Int "seed") do
            d.[fst g] <- snd g |> Seq.sortBy (fun r -> r.Int "epoch") |> Seq.map (fun r -> r.Float "metric") |> Seq.toArray
        curveIndex.[t] <- d
    curveIndex.[t].[(pn, ml, lr, seed)]
let better (p: Problem) a b = if p.HigherIsBetter then a > b else a < b
let searchFinal pn ml lr = let c = curve search pn ml lr searchSeed in c.[c.Length - 1]
let bestLr =
    dict [ for p in problems do
             for m in methods ->
                 let finals = lrs |> Array.map (fun lr -> searchFinal p.Name m.Label lr)
                 let b = finals |> Array.indexed |> Array.reduce (fun (i, a) (j, v) -> if better p v a then (j, v) else (i, a)) |> fst
                 (p.Name, m.Label), b ]

// ---- stage 2: the best setting of each (problem, method) rerun with every seed ----
let rerunJobs = [ for p in problems do for m in methods do for seed in exp.Seeds -> p, m, seed ]
let rerun =
    exp.Run("rerun", rerunJobs, (fun (p, m, seed) -> sprintf "%s/%s/lr#%d/seed=%d" p.Name m.Label bestLr.[(p.Name, m.Label)] seed), curveCols,
        fun (p, m, seed) -> curveRows p m lrs.[bestLr.[(p.Name, m.Label)]] seed)
let final pn ml seed = let c = curve rerun pn ml lrs.[bestLr.[(pn, ml)]] seed in c.[c.Length - 1]
let finals pn ml = [| for seed in exp.Seeds -> final pn ml seed |]
let mean (xs: float[]) = Array.average xs
let sd (xs: float[]) = let m = mean xs in sqrt (xs |> Array.sumBy (fun x -> (x - m) * (x - m)) |> fun s -> s / float (xs.Length - 1))

// ---- tables and plots ----
let fmt (p: Problem) (v: float) = if p.HigherIsBetter then sprintf "%.2f%%" (100.0 * v) else num v
for p in problems do
    report.Section(sprintf "%s (%s)" p.Name p.Metric)
    let m0 = (curve search p.Name "adam" lrs.[0] searchSeed).[0]
    let mBest = methods |> List.map (fun m -> searchFinal p.Name m.Label lrs.[bestLr.[(p.Name, m.Label)]]) |> List.reduce (fun a b -> if better p b a then b else a)
    let progress v = if m0 = mBest then 0.0 else (m0 - v) / (m0 - mBest)
    report.Table([ "optimizer"; "best lr (search)"; sprintf "performance: %s, mean ± sd over %d seeds" p.Metric exp.Seeds.Count; "speed (epoch to p ≥ 0.9, search)"; "tuneability (search)" ],
        [ for m in methods ->
            let b = bestLr.[(p.Name, m.Label)]
            let c = curve search p.Name m.Label lrs.[b] searchSeed
            let speed = c |> Array.tryFindIndex (fun v -> progress v >= 0.9)
            let prog = lrs |> Array.map (fun lr -> progress (searchFinal p.Name m.Label lr))
            let tune = prog |> Array.filter (fun q -> prog.[b] > 0.0 && q >= 0.9 * prog.[b]) |> Array.length |> fun k -> float k / float lrs.Length
            let fs = finals p.Name m.Label
            [ box m.Label; box (num lrs.[b]); box (sprintf "%s ± %s" (fmt p (mean fs)) (fmt p (sd fs))); box (match speed with Some e -> string e | None -> "–"); box (sprintf "%.2f" tune) ] ])
    let lrFile = sprintf "lr_%s.png" p.Name
    Plots.Lines(opts.File lrFile, sprintf "%s: final %s vs lr (search seed %d)" p.Name p.Metric searchSeed, "learning rate", p.Metric,
        [ for m in methods ->
            let ys = lrs |> Array.map (fun lr -> searchFinal p.Name m.Label lr)
            let keep = ys |> Array.map Double.IsFinite
            Series(m.Label, Array.zip lrs keep |> Array.filter snd |> Array.map fst, ys |> Array.filter Double.IsFinite, Markers = true, Dashed = (m.Label = "signadam")) ],
        logX = true, legend = (if p.HigherIsBetter then ScottPlot.Alignment.LowerLeft else ScottPlot.Alignment.UpperLeft))
    report.Image(lrFile, sprintf "%s: final %s against the learning rate (the search; signadam dashed, on adam)" p.Name p.Metric)
    let curveFile = sprintf "curves_%s.png" p.Name
    let offset = defaultArg p.CurveOffset 0.0
    Plots.Lines(opts.File curveFile, sprintf "%s: %s per epoch at each method's best lr (mean over %d seeds)" p.Name p.Metric exp.Seeds.Count, "epoch",
        (if p.CurveOffset.IsSome then p.Metric + " − F*" else p.Metric),
        [ for m in methods ->
            let cs = [| for seed in exp.Seeds -> curve rerun p.Name m.Label lrs.[bestLr.[(p.Name, m.Label)]] seed |]
            let c = Array.init cs.[0].Length (fun e -> cs |> Array.averageBy (fun c -> c.[e]) |> fun v -> v - offset)
            Series(sprintf "%s (lr %s)" m.Label (num lrs.[bestLr.[(p.Name, m.Label)]]), Array.init c.Length float, c, Dashed = (m.Label = "signadam")) ],
        logY = p.CurveOffset.IsSome, legend = (if p.HigherIsBetter then ScottPlot.Alignment.LowerRight else ScottPlot.Alignment.UpperRight))
    report.Image(curveFile, sprintf "%s: learning curves (seed mean) at the best lr of each method" p.Name)

// ---- criteria: per-seed effects (the seeds are paired across methods: same init, order and noise) ----
/// A problem's margin δ_p: the gap that counts as a real difference (criteria file).
let margin (p: Problem) = exp.Float (p.Name + "_margin")
/// Adam's shortfall against the best other baseline on p, per seed, in the metric's units (positive = Adam worse):
/// for a loss (m_adam − m_other), for accuracy (m_other − m_adam); the other is the best by seed-mean.
let bestOther (p: Problem) = others |> List.reduce (fun a b -> if better p (mean (finals p.Name b.Label)) (mean (finals p.Name a.Label)) then b else a)
let shortfall (p: Problem) (seed: int) =
    let o = bestOther p
    let a, b = final p.Name "adam" seed, final p.Name o.Label seed
    if p.HigherIsBetter then b - a else a - b
let perSeed (xs: float[]) = xs |> Array.map num |> String.concat ", "
let edgeOf p ml = let b = bestLr.[(p.Name, ml)] in b = 0 || b = lrs.Length - 1
for p in problems do
    let gaps = [| for seed in exp.Seeds -> shortfall p seed |]
    let o = bestOther p
    let departure =
        if p.Name = "fmnist_2c2d" then "fmnist_2c2d at a fraction of DeepOBS's budget (see the setup)"
        elif edgeOf p "adam" || edgeOf p o.Label then "a best lr at the edge of the grid" else null
    exp.EffectMean("adam-competitive-" + p.Name, gaps,
        sprintf "Adam %s vs %s %s (mean over seeds); shortfall per seed %s; margin %s" (fmt p (mean (finals p.Name "adam"))) o.Label (fmt p (mean (finals p.Name o.Label))) (perSeed gaps) (num (margin p)),
        departure) |> ignore

// No clear winner, as an effect: the method best on the most problems (by seed mean) — if it were the clear winner it
// would beat the best other method on every problem. θ = min over problems of its advantage there, in units of that
// problem's margin; "no clear winner" = θ < 0 (it loses somewhere by a margin's worth of the metric).
let winner =
    methods |> List.filter (fun m -> m.Label <> "signadam")
    |> List.maxBy (fun m -> problems |> List.filter (fun p -> others @ [ methodOf "adam" ] |> List.forall (fun o -> o.Label = m.Label || not (better p (mean (finals p.Name o.Label)) (mean (finals p.Name m.Label))))) |> List.length)
let advantage (p: Problem) (sample: Collections.Generic.IReadOnlyList<int>) =
    let rivals = methods |> List.filter (fun o -> o.Label <> winner.Label && o.Label <> "signadam" && not (winner.Label = "adam" && o.Label = "signadam"))
    let m ml = sample |> Seq.averageBy (fun seed -> final p.Name ml seed)
    let bestRival = rivals |> List.map (fun o -> m o.Label) |> List.reduce (fun a b -> if better p b a then b else a)
    (if p.HigherIsBetter then m winner.Label - bestRival else bestRival - m winner.Label) / margin p
let theta (sample: Collections.Generic.IReadOnlyList<int>) = problems |> List.map (fun p -> advantage p sample) |> List.min
exp.Effect("no-clear-winner", exp.Seeds, theta,
    sprintf "candidate winner %s; its advantage over the best rival per problem (in margins): %s" winner.Label
        (problems |> List.map (fun p -> sprintf "%s %s" p.Name (num (advantage p exp.Seeds))) |> String.concat ", ")) |> ignore

// Consistency: signadam's curves equal adam's, run for run, wherever both ran the same lr and seed.
let identical =
    [| for seed in exp.Seeds ->
        let pairs =
            [ for p in problems do
                for i in 0 .. lrs.Length - 1 do
                    if seed = searchSeed then yield curve search p.Name "adam" lrs.[i] seed, curve search p.Name "signadam" lrs.[i] seed
                if bestLr.[(p.Name, "adam")] = bestLr.[(p.Name, "signadam")] then
                    let lr = lrs.[bestLr.[(p.Name, "adam")]]
                    yield curve rerun p.Name "adam" lr seed, curve rerun p.Name "signadam" lr seed ]
        float (pairs |> List.filter (fun (a, b) -> a = b) |> List.length) / float (max 1 pairs.Length) |]
exp.EffectMean("signadam-identical", identical, sprintf "fraction of identical curves per seed: %s" (perSeed identical)) |> ignore

let edge = [ for p in problems do for m in methods do if edgeOf p m.Label then yield sprintf "%s/%s" p.Name m.Label ]
report.Text(sprintf "Raw data: `search.csv` (the search: metric and test loss per epoch), `rerun.csv` (the best settings, every seed). %s"
    (if edge.IsEmpty then "Every best lr is inside the grid." else sprintf "Best lr at the grid's edge: %s." (String.Join(", ", edge))))
finishExperiment exp
