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
open CudaAdam.Experiments.Plotting
open CudaAdam.Experiments.Recording

// One OpenBLAS thread per run: the runs already go in parallel over the cores, and OpenBLAS's own threads on top of
// them made the smoke run 6x slower here (oversubscription). (Environment.SetEnvironmentVariable does not reach the
// native environment that OpenBLAS reads, hence its API.) Without OpenBLAS the managed GEMM is used and this is moot.
module OpenBlas =
    [<System.Runtime.InteropServices.DllImport("libopenblas.so.0")>]
    extern void openblas_set_num_threads(int n)
try OpenBlas.openblas_set_num_threads 1
with :? DllNotFoundException | :? EntryPointNotFoundException -> ()
let opts = options "deepobs"
let seeds = opts.Pick(1, 3, 5)
let lrExponents = opts.Pick([ -3.0; -2.0; -1.0 ], [ -4.0 .. 0.5 .. 0.0 ], [ -5.0 .. 0.25 .. 0.5 ])
let lrs = lrExponents |> List.map (fun e -> Math.Pow(10.0, e)) |> List.toArray
let qdEpochs = opts.Pick(5, 100, 100)
let lrEpochs = opts.Pick(2, 10, 40)
let rbEpochs, rbStepsPerEpoch = opts.Pick((3, 50), (20, 100), (40, 100))

// ---- the family: torch.optim's defaults except the lr (AdamW keeps its decoupled weight decay 0.01) ----
type Method = { Label: string; Algorithm: Algorithm; Hp: float -> Hyperparameters }
let methods =
    [ { Label = "adam"; Algorithm = Algorithm.Adam; Hp = fun lr -> Hyperparameters.For(Algorithm.Adam, lr = lr) }
      { Label = "adamw"; Algorithm = Algorithm.AdamW; Hp = fun lr -> Hyperparameters.For(Algorithm.AdamW, lr = lr, weightDecay = 0.01) }
      { Label = "amsgrad"; Algorithm = Algorithm.Adam; Hp = fun lr -> Hyperparameters.For(Algorithm.Adam, lr = lr, amsgrad = true) }
      { Label = "signadam"; Algorithm = Algorithm.SignAdam; Hp = fun lr -> Hyperparameters.For(Algorithm.SignAdam, lr = lr) }
      { Label = "lion"; Algorithm = Algorithm.Lion; Hp = fun lr -> Hyperparameters.For(Algorithm.Lion, lr = lr) }
      { Label = "sgd-momentum"; Algorithm = Algorithm.Sgd; Hp = fun lr -> Hyperparameters.For(Algorithm.Sgd, lr = lr, momentum = 0.9) }
      { Label = "rmsprop"; Algorithm = Algorithm.RmsProp; Hp = fun lr -> Hyperparameters.For(Algorithm.RmsProp, lr = lr) }
      { Label = "adagrad"; Algorithm = Algorithm.AdaGrad; Hp = fun lr -> Hyperparameters.For(Algorithm.AdaGrad, lr = lr) } ]

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
let rosen = NoisyRosenbrock(10, 1.0)
let struct (fmTrain, fmTest) = FashionMnist.LoadEmbedded()

let logregRun (m: Method) (lr: float) (seed: int) =
    let model = ModelZoo.LogisticRegression(FashionMnist.Features, FashionMnist.Classes, Rng.ForStream(uint64 seed, 0UL))
    use opt = new Optimizer(m.Algorithm, model.Parameters, m.Hp lr)
    let tr = Trainer(model, opt, fmTrain, fmTest, TrainerOptions(Epochs = lrEpochs, BatchSize = 128), Rng.ForStream(uint64 seed, 1UL), null)
    let struct (l0, a0) = (tr.Objective :?> ModelObjective).Evaluate(fmTest)
    let accs = ResizeArray [ a0 ]
    let losses = ResizeArray [ l0 ]
    (try tr.Run(onEpoch = Action<EpochRecord>(fun e -> accs.Add e.TestAccuracy; losses.Add e.TestLoss))
     with :? TrainingDivergedException -> ())
    while losses.Count <= lrEpochs do
        accs.Add nan
        losses.Add nan
    // A diverged run's loss is NaN; its accuracy is then meaningless: count it as 0.
    Array.map2 (fun a l -> if Double.IsFinite l then a else 0.0) (accs.ToArray()) (losses.ToArray()), losses.ToArray()

let problems =
    [ { Name = "quadratic_deep"; Metric = "test loss"; HigherIsBetter = false
        Description = sprintf "DeepOBS quadratic_deep (100-d, Q = Rᵀdiag(λ)R, 90%% of λ in U(0,1), 10%% in U(30,60), data N(0, 0.6²)), batch 128, %d epochs × 7 steps, F* = %s" qdEpochs (num quadratic.OptimalLoss.Value)
        CurveOffset = Some quadratic.OptimalLoss.Value
        Run = problemRun quadratic qdEpochs 128 (Nullable()) id }
      { Name = "fmnist_logreg"; Metric = "test accuracy"; HigherIsBetter = true
        Description = sprintf "softmax regression 784→10 on the embedded Fashion-MNIST subset (%d train / %d test images), batch 128, %d epochs × %d steps" fmTrain.Count fmTest.Count lrEpochs ((fmTrain.Count + 127) / 128)
        CurveOffset = None
        Run = logregRun }
      { Name = "rosenbrock"; Metric = "log10 F(x)"; HigherIsBetter = false
        Description = sprintf "10-d Rosenbrock Σ 100(x_(i+1) − x_i²)² + (1 − x_i)², gradient noise N(0, 1), batch 1, x0 = (−1.2, 1, …), %d epochs × %d steps, F* = 0" rbEpochs rbStepsPerEpoch
        CurveOffset = None
        Run = problemRun rosen rbEpochs 1 (Nullable rbStepsPerEpoch) (fun f -> Math.Log10(max f 1e-12)) } ]

let report = Report("DeepOBS-style benchmark of the Adam family", opts)
report.Setup(sprintf "Methods: %s; torch.optim's defaults except lr (AdamW: decoupled weight decay 0.01; Lion: β = (0.9, 0.99), no decay; SGD: momentum 0.9; AdaGrad ε = 1e-10), constant lr, the CPU reference backend" (methods |> List.map (fun m -> m.Label) |> String.concat ", "))
report.Setup(sprintf "Learning-rate grid: %d log-spaced values 10^%g … 10^%g; seeds %d (seed k: initialization, minibatch order and noise; the same for every method)" lrs.Length (List.head lrExponents) (List.last lrExponents) seeds)
for p in problems do report.Setup(sprintf "Problem `%s`: %s; metric: %s (%s is better)" p.Name p.Description p.Metric (if p.HigherIsBetter then "higher" else "lower"))
report.Setup("Protocol (DeepOBS): best lr = the grid point with the best seed-mean final metric; **performance** = that mean ± the seeds' standard deviation; progress p = (m0 − m)/(m0 − m_best) with m0 the metric before training and m_best the best seed-mean final metric of any method on the problem (accuracy: sign flipped); **speed** = first epoch at which the seed-mean curve at the best lr reaches p ≥ 0.9 ('–' if never); **tuneability** = fraction of the lr grid whose final seed-mean progress is ≥ 0.9 × the method's own best progress. Diverged runs count as the worst value (accuracy 0)")
report.Setup("Criteria (stated before the run): (1) *no clear winner* (DeepOBS): no method is better than every other method on every problem by more than 2 combined standard errors of the seed means; (2) *Adam is competitive*: on each problem, Adam's performance is within 2 combined standard errors of the best method's (|m_adam − m_best| ≤ 2·sqrt(se_adam² + se_best²), se = sd/√seeds); (3) *consistency*: every signadam run equals the adam run with the same lr and seed bit for bit (the sign-decomposed step is exactly Adam's)")

// ---- run the grid ----
let jobs = [ for p in problems do for m in methods do for lr in lrs do for s in 1 .. seeds -> p, m, lr, opts.Seed * 1000 + s ]
let results =
    jobs |> parallelMap (fun (p, m, lr, s) -> let metric, loss = p.Run m lr s in (p.Name, m.Label, lr, s), (metric, loss)) |> dict
printfn "%d runs in %.1f s" jobs.Length stopwatch.Elapsed.TotalSeconds

let runsCsv = CsvTable("problem", "optimizer", "lr", "seed", "final_metric", "final_test_loss", "epochs")
let curvesCsv = CsvTable("problem", "optimizer", "lr", "seed", "epoch", "metric", "test_loss")
for KeyValue((pn, ml, lr, s), (metric, loss)) in results do
    runsCsv.Add(pn, ml, lr, s, metric.[metric.Length - 1], loss.[loss.Length - 1], metric.Length - 1)
    for e in 0 .. metric.Length - 1 do curvesCsv.Add(pn, ml, lr, s, e, metric.[e], loss.[e])
runsCsv.Save(opts.File "deepobs_runs.csv")
curvesCsv.Save(opts.File "deepobs_curves.csv")

let mean (xs: float[]) = Array.average xs
let sd (xs: float[]) = if xs.Length < 2 then 0.0 else let m = mean xs in sqrt (xs |> Array.sumBy (fun x -> (x - m) * (x - m)) |> fun s -> s / float (xs.Length - 1))
let seedIds = [| for s in 1 .. seeds -> opts.Seed * 1000 + s |]
let finals pn ml lr = seedIds |> Array.map (fun s -> let m, _ = results.[(pn, ml, lr, s)] in m.[m.Length - 1])
let curveMean pn ml lr = let cs = seedIds |> Array.map (fun s -> fst results.[(pn, ml, lr, s)]) in Array.init cs.[0].Length (fun e -> cs |> Array.averageBy (fun c -> c.[e]))

type Row = { Problem: Problem; Method: string; BestLr: float; Perf: float; Sd: float; Se: float; Speed: int option; Tune: float; Progress: float[] }
let better (p: Problem) a b = if p.HigherIsBetter then a > b else a < b
let rows =
    [ for p in problems do
        let m0 = (fst results.[(p.Name, "adam", lrs.[0], seedIds.[0])]).[0]
        let byMethod =
            [ for m in methods ->
                let means = lrs |> Array.map (fun lr -> mean (finals p.Name m.Label lr))
                let best = means |> Array.indexed |> Array.reduce (fun (i, a) (j, b) -> if better p b a then (j, b) else (i, a)) |> fst
                m.Label, means, best ]
        let mBest = byMethod |> List.map (fun (_, means, b) -> means.[b]) |> List.reduce (fun a b -> if better p b a then b else a)
        let progress v = if m0 = mBest then 0.0 else (m0 - v) / (m0 - mBest)   // the same formula for both directions
        for label, means, b in byMethod do
            let fs = finals p.Name label lrs.[b]
            let curve = curveMean p.Name label lrs.[b]
            let speed = curve |> Array.tryFindIndex (fun v -> progress v >= 0.9)
            let prog = means |> Array.map progress
            let pBest = prog.[b]
            let tune = prog |> Array.filter (fun q -> pBest > 0.0 && q >= 0.9 * pBest) |> Array.length |> fun k -> float k / float lrs.Length
            yield { Problem = p; Method = label; BestLr = lrs.[b]; Perf = means.[b]; Sd = sd fs; Se = sd fs / sqrt (float seeds)
                    Speed = speed; Tune = tune; Progress = prog } ]

// ---- tables and plots ----
let fmt (p: Problem) (v: float) = if p.Name = "fmnist_logreg" then sprintf "%.2f%%" (100.0 * v) else num v
for p in problems do
    report.Section(sprintf "%s (%s)" p.Name p.Metric)
    let rs = rows |> List.filter (fun r -> r.Problem.Name = p.Name)
    report.Table([ "optimizer"; "best lr"; sprintf "performance: %s (± sd)" p.Metric; "speed (epoch to p ≥ 0.9)"; "tuneability" ],
                 [ for r in rs -> [ box r.Method; box (num r.BestLr); box (sprintf "%s ± %s" (fmt p r.Perf) (fmt p r.Sd))
                                    box (match r.Speed with Some e -> string e | None -> "–"); box (sprintf "%.2f" r.Tune) ] ])
    let lrFile = sprintf "lr_%s.png" p.Name
    Plots.Lines(opts.File lrFile, sprintf "%s: final %s vs lr (mean over %d seeds)" p.Name p.Metric seeds, "learning rate", p.Metric,
                [ for m in methods ->
                    let ys = lrs |> Array.map (fun lr -> mean (finals p.Name m.Label lr))
                    // Diverged points (±∞) are dropped from the plot.
                    let keep = ys |> Array.map Double.IsFinite
                    Series(m.Label, Array.zip lrs keep |> Array.filter snd |> Array.map fst, ys |> Array.filter Double.IsFinite,
                           Markers = true, Dashed = (m.Label = "signadam")) ],
                logX = true, legend = (if p.HigherIsBetter then ScottPlot.Alignment.LowerLeft else ScottPlot.Alignment.UpperLeft))
    report.Image(lrFile, sprintf "%s: final %s against the learning rate, one line per method (the tuneability picture of DeepOBS); signadam dashed (it lies on adam); missing points: every seed diverged" p.Name p.Metric)
    let curveFile = sprintf "curves_%s.png" p.Name
    let offset = defaultArg p.CurveOffset 0.0
    Plots.Lines(opts.File curveFile, sprintf "%s: %s per epoch at each method's best lr" p.Name p.Metric, "epoch",
                (if p.CurveOffset.IsSome then p.Metric + " − F*" else p.Metric),
                [ for r in rs ->
                    let c = curveMean p.Name r.Method r.BestLr |> Array.map (fun v -> v - offset)
                    Series(sprintf "%s (lr %s)" r.Method (num r.BestLr), Array.init c.Length float, c, Dashed = (r.Method = "signadam")) ],
                logY = p.CurveOffset.IsSome,
                legend = (if p.HigherIsBetter then ScottPlot.Alignment.LowerRight else ScottPlot.Alignment.UpperRight))
    report.Image(curveFile, sprintf "%s: learning curves (seed mean) at the best lr of each method" p.Name)

// ---- criteria ----
let bestOn (p: Problem) = rows |> List.filter (fun r -> r.Problem.Name = p.Name) |> List.reduce (fun a b -> if better p b.Perf a.Perf then b else a)
let beatsClearly (p: Problem) (a: Row) (b: Row) = better p a.Perf b.Perf && abs (a.Perf - b.Perf) > 2.0 * sqrt (a.Se * a.Se + b.Se * b.Se)
let dominators =
    [ for m in methods do
        let everywhere =
            problems |> List.forall (fun p ->
                let rs = rows |> List.filter (fun r -> r.Problem.Name = p.Name)
                let me = rs |> List.find (fun r -> r.Method = m.Label)
                rs |> List.filter (fun r -> r.Method <> m.Label && r.Method <> (if m.Label = "adam" then "signadam" elif m.Label = "signadam" then "adam" else ""))
                   |> List.forall (fun o -> beatsClearly p me o))
        if everywhere then yield m.Label ]
let winners = problems |> List.map (fun p -> sprintf "%s: %s" p.Name (bestOn p).Method) |> String.concat "; "
report.Decide("no clear winner (DeepOBS)", "no method beats every other (signadam ≡ adam aside) on every problem by > 2 combined se",
              dominators.IsEmpty,
              sprintf "best per problem: %s; dominating methods: %s" winners (if dominators.IsEmpty then "none" else String.Join(", ", dominators))) |> ignore

let adamGaps =
    [ for p in problems ->
        let best = bestOn p
        let adam = rows |> List.find (fun r -> r.Problem.Name = p.Name && r.Method = "adam")
        let gap = abs (adam.Perf - best.Perf)
        let tol = 2.0 * sqrt (adam.Se * adam.Se + best.Se * best.Se)
        p, best, adam, gap, tol, (gap <= tol) ]
report.Decide("Adam is competitive with the best tuned method on every problem",
              "|m_adam − m_best| ≤ 2·sqrt(se_adam² + se_best²) on each problem",
              adamGaps |> List.forall (fun (_, _, _, _, _, ok) -> ok),
              adamGaps
              |> List.map (fun (p, best, adam, gap, tol, ok) ->
                    sprintf "%s: adam %s vs best %s %s, gap %s vs 2 se %s (%s)" p.Name (fmt p adam.Perf) best.Method (fmt p best.Perf) (num gap) (num tol) (if ok then "within" else "outside"))
              |> String.concat "; ") |> ignore

let mismatches =
    [ for KeyValue((pn, ml, lr, s), (metric, _)) in results do
        if ml = "signadam" then
            let a, _ = results.[(pn, "adam", lr, s)]
            if a <> metric then yield sprintf "%s lr %s seed %d" pn (num lr) s ]
report.Decide("signadam ≡ adam bit for bit", "every signadam curve equals adam's for the same lr and seed",
              mismatches.IsEmpty,
              if mismatches.IsEmpty then sprintf "%d of %d (problem, lr, seed) curves identical" (problems.Length * lrs.Length * seeds) (problems.Length * lrs.Length * seeds)
              else sprintf "%d differ, e.g. %s" mismatches.Length (List.head mismatches)) |> ignore

report.Text(sprintf "Files: `deepobs_runs.csv` (one row per run: final metric and test loss), `deepobs_curves.csv` (metric and test loss per epoch). %d runs. The lr grid's ends matter: a best lr at the edge of the grid (%s or %s) means the grid did not bracket the optimum for that method." jobs.Length (num lrs.[0]) (num lrs.[lrs.Length - 1]))
let edge = rows |> List.filter (fun r -> r.BestLr = lrs.[0] || r.BestLr = lrs.[lrs.Length - 1]) |> List.map (fun r -> sprintf "%s/%s" r.Problem.Name r.Method)
if not edge.IsEmpty then report.Text(sprintf "Best lr at the grid's edge: %s." (String.Join(", ", edge)))
finish report
