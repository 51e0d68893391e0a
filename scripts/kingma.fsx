// Kingma & Ba, "Adam: A Method for Stochastic Optimization" (ICLR 2015, arXiv 1412.6980), Figs. 1, 2 and 4 on
// Fashion-MNIST instead of MNIST, with the optimizers the paper compared:
//   Fig. 1: multinomial logistic regression, α_t = α/√t: Adam, AdaGrad, SGD with Nesterov momentum
//           ("Adam yields similar convergence as SGD with momentum and both converge faster than AdaGrad").
//   Fig. 2: MLP 784-1000-1000-10, ReLU, dropout: Adam, AdaGrad, RMSProp, SGD-Nesterov, AdaDelta
//           ("Adam shows better convergence than other methods").
//   Fig. 4: the VAE (softplus 784-500-50 / 50-500-784), β1 ∈ {0, 0.9}, β2 ∈ {0.99, 0.999, 0.9999}, a log grid of α,
//           with and without bias correction ("without bias correction, values of β2 close to 1 lead to instabilities
//           in training; the best results were achieved with small 1 − β2 and bias correction").
//   dotnet fsi scripts/kingma.fsx [--smoke | --full] [--out DIR] [--seed N]
// Writes runs/kingma/{runs.csv, curves.csv, fig1_loss.png, fig2_loss.png, fig4_beta2_*.png, report.md}.
//
// Everything trains through CudaAdam.Training's Trainer (the `cudaadam train` stack: OpenBLAS GEMM when installed, the
// CPU reference optimizers). Learning rates: the paper searched a dense grid per method and plotted the best; here
// each method gets a small grid around a usual value (3 points by default, 5 with --full) and the best final training
// loss is kept. The paper's settings as recalled (its text could not be retrieved here; check against arXiv 1412.6980):
// minibatch 128 (Figs. 1, 2), 100 (Fig. 4, after Kingma & Welling); L2 regularization in Fig. 1 is left out (the
// reported loss is the plain cross-entropy); the IMDB panel of Fig. 1 and the SFO panel of Fig. 2 are not reproduced.
#load "lib/Common.fsx"
open System
open Common
open CudaAdam
open CudaAdam.Experiments.Plotting
open CudaAdam.Experiments.Recording
open CudaAdam.Training
open CudaAdam.Training.Data
open CudaAdam.Training.Models
open CudaAdam.Training.Tensors

let opts = options "kingma"
let seed = uint64 opts.Seed
let smoke = opts.Size = RunSize.Smoke
// The system data set (Debian's dataset-fashion-mnist) when installed; the embedded 1,000/500 subset otherwise, and
// always in smoke mode.
let source = if smoke then "embedded" else "auto"
let struct (trainAll, testAll) = FashionMnist.Load source
let gemm = Gemm.Default

// ---- sizes ----
let lrFactors = opts.Pick([| 1.0 |], [| 1.0 / 3.0; 1.0; 3.0 |], [| 0.1; 1.0 / 3.0; 1.0; 3.0; 10.0 |])
let fig1Train, fig1Epochs = opts.Pick(500, 10000, 60000), opts.Pick(1, 3, 20)
let fig2Train, fig2Epochs, fig2Hidden = opts.Pick(300, 4000, 60000), opts.Pick(1, 3, 20), opts.Pick(32, 256, 1000)
let fig4Train, fig4Epochs, fig4Hidden, fig4Latent = opts.Pick(200, 2000, 60000), opts.Pick(1, 2, 10), opts.Pick(50, 200, 500), opts.Pick(10, 50, 50)
let fig4Test = opts.Pick(100, 500, 10000)
let fig4LogLrs = opts.Pick([| -3.0 |], [| -4.0; -3.5; -3.0; -2.5; -2.0 |], [| for i in 0 .. 8 -> -5.0 + 0.5 * float i |])
let fig4Beta1s = opts.Pick([| 0.9 |], [| 0.0; 0.9 |], [| 0.0; 0.9 |])
let fig4Beta2s = opts.Pick([| 0.9999 |], [| 0.99; 0.999; 0.9999 |], [| 0.99; 0.999; 0.9999 |])
let testClassifier = opts.Pick(100, 2000, 10000)

/// One training run's outcome: the per-epoch records (epoch 0 = before training) and per-step minibatch losses.
type Run =
    { Figure: string; Label: string; Algorithm: Algorithm; Hp: Hyperparameters; Epochs: EpochRecord[]; Steps: StepRecord[]; Seconds: float
      /// The step whose minibatch loss was not finite (the Trainer stops there: TrainingDivergedException), if any.
      DivergedAt: int64 option }
    member r.FinalTrain = if r.DivergedAt.IsSome then nan else r.Epochs.[r.Epochs.Length - 1].TrainLoss
    member r.FinalTest = if r.DivergedAt.IsSome then nan else r.Epochs.[r.Epochs.Length - 1].TestLoss
    member r.FinalAccuracy = if r.DivergedAt.IsSome then nan else r.Epochs.[r.Epochs.Length - 1].TestAccuracy

/// A non-finite loss (a diverged run) ranks last.
let rank (x: float) = if Double.IsFinite x then x else Double.PositiveInfinity

let train (figure: string) (label: string) (build: unit -> ITrainable) (algorithm: Algorithm) (hp: Hyperparameters)
          (data: Dataset) (test: Dataset) (epochs: int) (batch: int) (schedule: Func<Optimizer, int64, LrScheduler>) =
    let model = build ()
    use opt = new Optimizer(algorithm, model.Parameters, hp)
    let trainer = Trainer(model, opt, data, test, TrainerOptions(Epochs = epochs, BatchSize = batch, Scheduler = schedule), Rng.ForStream(seed, 1UL))
    let struct (l0, a0) = (trainer.Objective :?> ModelObjective).Evaluate test
    let epochsDone = ResizeArray [ EpochRecord(0, 0L, nan, nan, l0, a0, 0.0) ]
    let steps = ResizeArray()
    let diverged =
        try
            trainer.Run(onStep = Action<StepRecord>(steps.Add), onEpoch = Action<EpochRecord>(epochsDone.Add))
            None
        with :? TrainingDivergedException as e -> Some e.Step
    { Figure = figure; Label = label; Algorithm = algorithm; Hp = hp; Epochs = epochsDone.ToArray(); Steps = steps.ToArray(); Seconds = trainer.WallSeconds
      DivergedAt = diverged }

let allRuns = ResizeArray<Run>()
let log (r: Run) =
    allRuns.Add r
    let diverged = match r.DivergedAt with Some t -> sprintf "  diverged at step %d" t | None -> ""
    printfn "  %s %-34s lr %-8s train %s  test %s  (%.1f s)%s" r.Figure r.Label (num r.Hp.Lr) (num r.FinalTrain) (num r.FinalTest) r.Seconds diverged

/// Per figure and optimizer label: whether the kept lr is at an end of its grid (then a wider grid might do better).
let atEdge = Collections.Generic.Dictionary<string * string, bool>()

/// Runs each optimizer over its lr grid (base · lrFactors) and keeps, per optimizer, the lr with the lowest final
/// training loss (the paper reports the best setting of a grid search).
let compare (figure: string) (build: unit -> ITrainable) (data: Dataset) (test: Dataset) epochs batch schedule
            (specs: (string * Algorithm * float * (float -> Hyperparameters)) list) =
    [ for label, algorithm, baseLr, hp in specs ->
        let runs =
            [ for f in lrFactors ->
                let r = train figure label build algorithm (hp (baseLr * f)) data test epochs batch schedule
                log r
                r ]
        let best = runs |> List.minBy (fun r -> rank r.FinalTrain)
        atEdge.[(figure, label)] <- lrFactors.Length > 1 && (obj.ReferenceEquals(best, List.head runs) || obj.ReferenceEquals(best, List.last runs))
        best ]

// Each algorithm's own defaults (its descriptor's, torch.optim's) apart from what is named.
let adam (lr: float) = Hyperparameters.For(Algorithm.Adam, lr = lr)                // β = (0.9, 0.999), ε = 1e-8
let adagrad (lr: float) = Hyperparameters.For(Algorithm.AdaGrad, lr = lr, eps = 1e-10)
let rmsprop (lr: float) = Hyperparameters.For(Algorithm.RmsProp, lr = lr)          // α = 0.99, ε = 1e-8, no momentum
let adadelta (lr: float) = Hyperparameters.For(Algorithm.AdaDelta, lr = lr, eps = 1e-6)   // ρ = 0.9
let nesterov (lr: float) = Hyperparameters.For(Algorithm.Sgd, lr = lr, momentum = 0.9, nesterov = true)
for a, hp in [ Algorithm.Adam, adam 1e-3; Algorithm.AdaGrad, adagrad 1e-2; Algorithm.RmsProp, rmsprop 1e-2; Algorithm.AdaDelta, adadelta 1.0 ] do
    if hp <> Hyperparameters.Defaults a then failwithf "kingma.fsx: the written-out defaults of %s differ from Hyperparameters.Defaults" (a.Name())

let report = Report("Kingma & Ba (2015), Figs. 1, 2 and 4 on Fashion-MNIST", opts)
report.Setup(sprintf "Data: Fashion-MNIST (%s), pixels in [0, 1]; the paper used MNIST. Seed %d: every run of a figure starts from the same initial weights and sees the same minibatches (and dropout masks / VAE noise)" trainAll.Name opts.Seed)
report.Setup(sprintf "Learning rates: each method runs on a grid base·{%s} (bases: Fig. 1 Adam 0.03, AdaGrad 0.1, SGD-Nesterov 0.3; Fig. 2 Adam 3e-3, AdaGrad 1e-2, RMSProp 1e-3, SGD-Nesterov 0.05, AdaDelta 1; a first default run had Adam's best at the upper end of grids centred at 0.01 and 1e-3, so its bases were moved up one step) and the lr with the lowest final training loss is kept (the paper searched a dense grid and plotted the best). Optimizers are torch.optim's algorithms (the project's CPU reference); SGD-Nesterov is momentum 0.9. Losses are the mean over the last epoch's minibatches (dropout on, as trained); test numbers with dropout off"
                 (lrFactors |> Array.map num |> String.concat ", "))
report.Setup(sprintf "Fig. 1: logistic regression 784→10, %d training images, %d epochs of minibatch 128, α_t = α/√t (the paper's decay), no L2 term" (min fig1Train trainAll.Count) fig1Epochs)
report.Setup(sprintf "Fig. 2: MLP 784-%d-%d-10, ReLU, dropout 0.5 (input 0.2), %d training images, %d epochs of minibatch 128, constant α%s" fig2Hidden fig2Hidden (min fig2Train trainAll.Count) fig2Epochs (if fig2Hidden = 1000 then " (the paper's widths)" else "; the paper's widths are 1000-1000 (--full)"))
report.Setup(sprintf "Fig. 4: VAE 784-%d-%d (softplus; the paper's is 500 / 50, --full), Bernoulli likelihood on the intensities, %d training images, %d epochs of minibatch 100, constant α ∈ {%s}, β1 ∈ {%s}, β2 ∈ {%s}, bias correction on and off (off: x ← x − α·m/(√v + ε), RMSProp with momentum). Loss: the negative ELBO in nats on %d test images with a fixed evaluation noise (one sample per image; the paper plots the loss after 10 and 100 epochs); a run whose minibatch loss turns non-finite stops there (the trainer refuses the step) and counts as diverged (worst)"
                 fig4Hidden fig4Latent (min fig4Train trainAll.Count) fig4Epochs (fig4LogLrs |> Array.map (fun l -> num (10.0 ** l)) |> String.concat ", ")
                 (fig4Beta1s |> Array.map num |> String.concat ", ") (fig4Beta2s |> Array.map num |> String.concat ", ") (min fig4Test testAll.Count))
let inv = Globalization.CultureInfo.InvariantCulture

// ---- Fig. 1: logistic regression ----
printfn "Fig. 1: logistic regression"
let fig1 =
    let data, test = trainAll.Take(Nullable fig1Train), testAll.Take(Nullable testClassifier)
    let build () = Classifier(ModelZoo.LogisticRegression(FashionMnist.Features, FashionMnist.Classes, Rng.ForStream(seed, 0UL), gemm), null) :> ITrainable
    compare "fig1" build data test fig1Epochs 128 (LrScheduler.ForKind("inv-sqrt-t"))
        [ "adam", Algorithm.Adam, 3e-2, adam
          "adagrad", Algorithm.AdaGrad, 1e-1, adagrad
          "sgd-nesterov", Algorithm.Sgd, 0.3, nesterov ]

// ---- Fig. 2: MLP with dropout ----
printfn "Fig. 2: MLP with dropout"
let fig2 =
    let data, test = trainAll.Take(Nullable fig2Train), testAll.Take(Nullable testClassifier)
    let build () =
        let dropout = Rng.ForStream(seed, 2UL)
        Classifier(ModelZoo.Mlp(FashionMnist.Features, [| fig2Hidden; fig2Hidden |], FashionMnist.Classes, 0.5, 0.2, Rng.ForStream(seed, 0UL), dropout, gemm), dropout) :> ITrainable
    compare "fig2" build data test fig2Epochs 128 (LrScheduler.ForKind("constant"))
        [ "adam", Algorithm.Adam, 3e-3, adam
          "adagrad", Algorithm.AdaGrad, 1e-2, adagrad
          "rmsprop", Algorithm.RmsProp, 1e-3, rmsprop
          "sgd-nesterov", Algorithm.Sgd, 0.05, nesterov
          "adadelta", Algorithm.AdaDelta, 1.0, adadelta ]

// ---- Fig. 4: VAE, bias correction ----
printfn "Fig. 4: VAE, bias correction on/off"
let fig4 =
    let data, test = trainAll.Take(Nullable fig4Train), testAll.Take(Nullable fig4Test)
    let build () =
        VaeObjective(Vae(FashionMnist.Features, fig4Hidden, fig4Latent, Rng.ForStream(seed, 0UL), gemm), Rng.ForStream(seed, 2UL), Rng.ForStream(seed, 3UL)) :> ITrainable
    [ for b2 in fig4Beta2s do
        for b1 in fig4Beta1s do
            for bc in [ true; false ] do
                for logLr in fig4LogLrs ->
                    let hp = Hyperparameters.For(Algorithm.Adam, lr = 10.0 ** logLr, beta1 = b1, beta2 = b2, biasCorrection = bc)
                    let label = sprintf "b1=%s b2=%s %s" (num b1) (num b2) (if bc then "bc" else "no-bc")
                    let r = train "fig4" label build Algorithm.Adam hp data test fig4Epochs 100 (LrScheduler.ForKind("constant"))
                    log r
                    r ]

// ---- files ----
let csv = CsvTable("figure", "label", "algorithm", "lr", "beta1", "beta2", "bias_correction", "epochs", "steps", "diverged_at_step", "final_train_loss", "final_test_loss", "final_test_accuracy", "seconds")
for r in allRuns do
    csv.Add(r.Figure, r.Label, r.Algorithm.Name(), r.Hp.Lr, r.Hp.Beta1, r.Hp.Beta2, r.Hp.BiasCorrection, r.Epochs.Length - 1, r.Steps.Length,
            (match r.DivergedAt with Some t -> box t | None -> box ""), r.FinalTrain, r.FinalTest, r.FinalAccuracy, r.Seconds)
csv.Save(opts.File "runs.csv")
let curves = CsvTable("figure", "label", "lr", "epoch", "step", "train_loss", "test_loss", "test_accuracy")
for r in fig1 @ fig2 do
    for e in r.Epochs do curves.Add(r.Figure, r.Label, r.Hp.Lr, e.Epoch, e.Step, e.TrainLoss, e.TestLoss, e.TestAccuracy)
curves.Save(opts.File "curves.csv")

/// Minibatch losses smoothed over a window of w steps (the paper plots smoothed training cost).
let smooth (w: int) (xs: float[]) = Array.init xs.Length (fun i -> let a = max 0 (i - w + 1) in Array.average xs.[a .. i])
let lossPlot (file: string) (title: string) (runs: Run list) =
    let w = max 1 ((runs |> List.map (fun r -> r.Steps.Length) |> List.max) / 30)
    Plots.Lines(opts.File file, title, "step", sprintf "training loss (minibatch, mean of %d steps)" w,
        [ for r in runs -> Series(sprintf "%s (lr %s)" r.Label (num r.Hp.Lr), r.Steps |> Array.map (fun s -> float s.Step), smooth w (r.Steps |> Array.map (fun s -> s.Loss))) ],
        logY = true)

let classifierSection (title: string) (file: string) (runs: Run list) =
    report.Section title
    report.Table([ "optimizer"; "best lr"; "final training loss"; "final test loss"; "final test accuracy"; "seconds" ],
        [ for r in runs ->
            let edge = if atEdge.[(r.Figure, r.Label)] then " (grid edge)" else ""
            [ box r.Label; box (num r.Hp.Lr + edge); box (num r.FinalTrain); box (num r.FinalTest); box (sprintf "%.2f%%" (100.0 * r.FinalAccuracy)); box (sprintf "%.1f" r.Seconds) ] ])
    report.Text("The lr of each method is the best of its grid by final training loss (all runs: runs.csv); \"grid edge\": the best lr is an end of the grid, so a wider grid might lower that method's loss.")
    report.Image(file, sprintf "%s: training loss of each optimizer at its best lr" title)

lossPlot "fig1_loss.png" "Fig. 1: logistic regression, training loss" fig1
lossPlot "fig2_loss.png" "Fig. 2: MLP with dropout, training loss" fig2
classifierSection "Fig. 1: logistic regression" "fig1_loss.png" fig1
classifierSection "Fig. 2: MLP with dropout" "fig2_loss.png" fig2

// Fig. 4: one plot per β2: final −ELBO against log10 α, a line per (β1, bias correction); diverged cells are drawn at
// the cap (the loss at initialization, ≈ 543 nats) so they stay visible.
let fig4Loss (r: Run) = rank r.FinalTest
let cap = 784.0 * Math.Log 2.0
report.Section "Fig. 4: VAE, bias correction"
for b2 in fig4Beta2s do
    let file = sprintf "fig4_beta2_%s.png" (b2.ToString("R", inv))
    Plots.Lines(opts.File file, sprintf "Fig. 4: VAE, β2 = %s: test -ELBO after %d epochs" (num b2) fig4Epochs, "log10 α", "test -ELBO (nats; diverged drawn at 543)",
        [ for b1 in fig4Beta1s do
            for bc in [ true; false ] ->
                let rs = fig4 |> List.filter (fun r -> r.Hp.Beta1 = b1 && r.Hp.Beta2 = b2 && r.Hp.BiasCorrection = bc) |> List.sortBy (fun r -> r.Hp.Lr)
                Series(sprintf "β1 = %s, %s" (num b1) (if bc then "bias correction" else "no bias correction"),
                       rs |> List.map (fun r -> Math.Log10 r.Hp.Lr) |> List.toArray, rs |> List.map (fun r -> min cap (fig4Loss r)) |> List.toArray,
                       Markers = true, Dashed = not bc) ])
    report.Image(file, sprintf "β2 = %s: solid with bias correction, dashed without" (num b2))
report.Table([ "β2"; "β1"; "bias correction" ] @ [ for l in fig4LogLrs -> sprintf "α = %s" (num (10.0 ** l)) ],
    [ for b2 in fig4Beta2s do
        for b1 in fig4Beta1s do
            for bc in [ true; false ] ->
                [ box (num b2); box (num b1); box (if bc then "on" else "off") ] @
                [ for l in fig4LogLrs ->
                    let r = fig4 |> List.find (fun r -> r.Hp.Beta1 = b1 && r.Hp.Beta2 = b2 && r.Hp.BiasCorrection = bc && r.Hp.Lr = 10.0 ** l)
                    box (if Double.IsFinite r.FinalTest then num r.FinalTest else "diverged") ] ])
report.Text("Cells: test -ELBO (nats per image) after the last epoch.")
let fig4Steps = (fig4 |> List.head).Steps.Length
report.Text(sprintf "Reading (not a criterion): the corrected and the uncorrected step differ by the factor (1 − β1^t)/√(1 − β2^t); the numerator fades within ~1/(1 − β1) steps, the denominator only when t is of the order of 1/(1 − β2) (10⁴ steps at β2 = 0.9999). Until then dropping the correction multiplies α by about 1/√(t(1 − β2)) (%s at t = %d, β2 = 0.9999), most of all in the first steps: on a log grid the uncorrected runs behave like corrected runs at a larger α, their best cell sits lower on the α axis, and they diverge where that rescaled early α is too large. This run has %d steps per cell; the paper's Fig. 4 reports 10 and 100 epochs of 60,000 images (6·10³ and 6·10⁴ steps), where the uncorrected runs' effective α keeps shrinking as t grows and their early instability weighs differently. Criteria 3 and 4 are horizon-dependent: read them with the step count."
                (num (1.0 / sqrt (float fig4Steps * (1.0 - 0.9999)))) fig4Steps fig4Steps)

// ---- criteria ----
let others (runs: Run list) = runs |> List.filter (fun r -> r.Label <> "adam")
let adamOf (runs: Run list) = runs |> List.find (fun r -> r.Label = "adam")
let describe (runs: Run list) = runs |> List.map (fun r -> sprintf "%s %s" r.Label (num r.FinalTrain)) |> String.concat ", "
let a1 = adamOf fig1
let best1 = others fig1 |> List.minBy (fun r -> rank r.FinalTrain)
let ada1 = fig1 |> List.find (fun r -> r.Label = "adagrad")
report.Decide(
    "Fig. 1 (logistic regression): Adam converges at least as fast as the other methods (the paper: similar to SGD with Nesterov momentum, both faster than AdaGrad)",
    "Adam's final training loss ≤ 1.02 × the lowest of AdaGrad's and SGD-Nesterov's (2% = 'similar'), and < AdaGrad's",
    rank a1.FinalTrain <= 1.02 * rank best1.FinalTrain && rank a1.FinalTrain < rank ada1.FinalTrain,
    describe fig1) |> ignore
let a2 = adamOf fig2
let best2 = others fig2 |> List.minBy (fun r -> rank r.FinalTrain)
report.Decide(
    "Fig. 2 (MLP with dropout): Adam shows better convergence than the other methods (AdaGrad, RMSProp, SGD-Nesterov, AdaDelta)",
    "Adam's final training loss ≤ every other method's",
    rank a2.FinalTrain <= rank best2.FinalTrain,
    describe fig2) |> ignore
let bestOf b2 bc = fig4 |> List.filter (fun r -> r.Hp.Beta2 = b2 && r.Hp.BiasCorrection = bc) |> List.minBy fig4Loss
let b2max = Array.max fig4Beta2s
let withBc, withoutBc = bestOf b2max true, bestOf b2max false
report.Decide(
    sprintf "Fig. 4 (VAE): without bias correction, β2 close to 1 is unstable / worse: at β2 = %s the best loss with bias correction ≤ the best without" (num b2max),
    sprintf "min over (β1, α) of the test -ELBO at β2 = %s: with bias correction ≤ without" (num b2max),
    fig4Loss withBc <= fig4Loss withoutBc,
    sprintf "with %s (β1 %s, α %s), without %s (β1 %s, α %s)" (num withBc.FinalTest) (num withBc.Hp.Beta1) (num withBc.Hp.Lr)
        (num withoutBc.FinalTest) (num withoutBc.Hp.Beta1) (num withoutBc.Hp.Lr)) |> ignore
let overall = fig4 |> List.minBy fig4Loss
report.Decide(
    "Fig. 4 (VAE): the best results are achieved with bias correction",
    "the lowest test -ELBO of the whole grid has bias correction on",
    overall.Hp.BiasCorrection,
    sprintf "best cell: %s, α %s: %s" overall.Label (num overall.Hp.Lr) (num overall.FinalTest)) |> ignore
/// (β1, α) cells where switching bias correction off costs more than 1 nat (or diverges), at β2.
let hurt b2 =
    [ for b1 in fig4Beta1s do
        for l in fig4LogLrs do
            let pick bc = fig4 |> List.find (fun r -> r.Hp.Beta1 = b1 && r.Hp.Beta2 = b2 && r.Hp.BiasCorrection = bc && r.Hp.Lr = 10.0 ** l)
            if fig4Loss (pick false) > fig4Loss (pick true) + 1.0 then yield (b1, l) ]
let b2min = Array.min fig4Beta2s
report.Decide(
    "Fig. 4 (VAE): the harm of dropping bias correction grows as β2 → 1",
    sprintf "the number of (β1, α) cells where no bias correction is worse by > 1 nat: at β2 = %s > at β2 = %s" (num b2max) (num b2min),
    (hurt b2max).Length > (hurt b2min).Length,
    (fig4Beta2s |> Array.map (fun b2 -> sprintf "β2 = %s: %d of %d cells" (num b2) (hurt b2).Length (fig4Beta1s.Length * fig4LogLrs.Length)) |> String.concat "; ")) |> ignore

finish report
