// The conditions of arXiv 2507.05966 ("Simple Convergence Proof of Adam From a Sign-like Descent Perspective") on real
// networks. Condition 2: the coordinates of u = |m|/(√v + ε) are i.i.d. (the paper checks it with Kolmogorov–Smirnov
// tests on ResNet-50 and GPT-2); Condition 3: the ratio ‖∇F‖₁/‖∇F‖₂ is stable, so that the sign-descent bound does
// not pick up a factor of the dimension. Adam trains the Fashion-MNIST MLP and the DeepOBS CNN; every k steps a seeded
// subsample of u per layer, a probe-batch gradient and the minibatch gradient are recorded; two-sample KS tests
// between layers and between times, and the ℓ1/ℓ2 ratio over training.
//   dotnet fsi scripts/conditions.fsx [--smoke | --full] [--out DIR] [--seed N]
// Writes runs/conditions/{u_summary.csv, u_last.csv, ks.csv, norms.csv, ecdf_*.png, ks_*.png, density_*.png, report.md}.
#load "lib/Common.fsx"
open System
open Common
open CudaAdam
open CudaAdam.Experiments.Conditions
open CudaAdam.Experiments.Plotting
open CudaAdam.Experiments.Recording
open CudaAdam.Training
open CudaAdam.Training.Data
open CudaAdam.Training.Layers
open CudaAdam.Training.Models
open CudaAdam.Training.Tensors

let opts = options "conditions"
let perLayer = opts.Pick(200, 1000, 1000)   // u values drawn per tensor and snapshot for the KS tests
let minCount = 100                           // tensors with fewer coordinates (the 10 output biases) are left out of the tests
let alpha = 0.05
let maxRejectFraction = 0.10                 // at α = 0.05 a true null rejects 5% of the time; allow twice that
let maxRatioSpread = 2.0                     // Condition 3: max/min of ‖∇F‖₁/‖∇F‖₂ over the snapshots

type Spec =
    { Name: string; Describe: string; Build: Rng -> Sequential; Batch: int; Steps: int; Snapshots: int; Probe: int; Lr: float }

let mlpHidden = opts.Pick([ 64; 64 ], [ 256; 256 ], [ 1000; 1000 ])
let (cnnC1, cnnC2), cnnHidden = opts.Pick(((4, 8), 32), ((32, 64), 1024), ((32, 64), 1024))
let specs =
    [ { Name = "mlp"
        Describe = sprintf "MLP 784-%s-10 (ReLU, no dropout)" (mlpHidden |> List.map string |> String.concat "-")
        Build = fun r -> ModelZoo.Mlp(784, mlpHidden, 10, 0.0, 0.0, r, Rng(0UL))
        Batch = 128; Steps = opts.Pick(40, 400, 4000); Snapshots = opts.Pick(4, 8, 10); Probe = opts.Pick(256, 2000, 10000); Lr = 1e-3 }
      { Name = "cnn"
        Describe = sprintf "CNN DeepOBS fmnist_2c2d (conv %d@5×5, pool, conv %d@5×5, pool, fc %d, fc 10)" cnnC1 cnnC2 cnnHidden
        Build = fun r -> ModelZoo.Cnn(28, 28, 10, r, channels = Nullable<struct (int * int)>(struct (cnnC1, cnnC2)), hidden = cnnHidden)
        Batch = opts.Pick(16, 32, 128); Steps = opts.Pick(8, 120, 1000); Snapshots = opts.Pick(4, 6, 10); Probe = opts.Pick(32, 128, 1000); Lr = 1e-3 } ]

let struct (train, _) = FashionMnist.Load "auto"

type Snapshot = { Step: int64; U: USample list; Probe: NormRatio list; Mini: NormRatio list; ProbeLoss: float }
type RunResult = { Spec: Spec; Params: int64; Snaps: Snapshot list; LastU: (string * float[]) list; Seconds: float }

/// The gradient of the loss on the first `n` training images (the probe batch: our estimate of ∇F), per tensor and
/// global. Overwrites Parameter.Grad; the next training step recomputes it.
let probeGradient (model: Sequential) (n: int) =
    let x = Tensor(train.Inputs.AsSpan(0, n * train.Features).ToArray(), n, train.Features)
    let logits = model.Forward(x, true)
    let g = Tensor.Zeros(logits.Rows, logits.Cols)
    let struct (loss, _) = SoftmaxCrossEntropy.Compute(logits, ReadOnlySpan(train.Labels, 0, n), g)
    model.Backward g |> ignore
    let parts = [ for p in model.Parameters -> SignConditions.Norms(p.Name, ReadOnlySpan p.Grad) ]
    loss, parts @ [ SignConditions.Global parts ]

let runModel (spec: Spec) =
    let clock = Diagnostics.Stopwatch.StartNew()
    let s = uint64 opts.Seed
    let model = spec.Build(Rng.ForStream(s, 1UL))
    use opt = new Optimizer(Algorithm.Adam, model.Parameters, Hyperparameters.For(Algorithm.Adam, lr = spec.Lr))
    let epochs = (spec.Steps * spec.Batch + train.Count - 1) / train.Count
    let tr = Trainer(model, opt, train, null, TrainerOptions(Epochs = epochs, BatchSize = spec.Batch), Rng.ForStream(s, 2UL), null)
    let sampler = Rng.ForStream(s, 3UL)
    let every = spec.Steps / spec.Snapshots
    let snaps =
        [ for t in 1 .. spec.Steps do
            tr.TrainStep() |> ignore
            if t % every = 0 then
                let mini = [ for p in model.Parameters -> SignConditions.Norms(p.Name, ReadOnlySpan p.Grad) ]
                let u = SignConditions.Sample(opt, perLayer, sampler) |> List.ofSeq
                let loss, probe = probeGradient model spec.Probe
                yield { Step = int64 t; U = u; Probe = probe; Mini = mini @ [ SignConditions.Global mini ]; ProbeLoss = loss } ]
    let lastU =
        [ for g in opt.Groups do
            for p in g.Params -> p.Name, SignConditions.Magnitudes(opt.State(p), g.Hyperparameters) ]
    { Spec = spec; Params = model.ParameterCount; Snaps = snaps; LastU = lastU; Seconds = clock.Elapsed.TotalSeconds }

let results = specs |> parallelMap runModel

// ---- the tests -------------------------------------------------------------------------------------------------------
type Ks = { Model: string; Kind: string; StepA: int64; StepB: int64; A: string; B: string; Pair: KsPair }

let tested (snap: Snapshot) = snap.U |> List.filter (fun u -> u.Count >= int64 minCount)
let ksOf (r: RunResult) =
    let m = r.Spec.Name
    let between =
        [ for snap in r.Snaps do
            for p in SignConditions.Pairwise([| for u in tested snap -> struct (u.Tensor, u.Sample) |]) ->
                { Model = m; Kind = "layers"; StepA = snap.Step; StepB = snap.Step; A = p.A; B = p.B; Pair = p } ]
    // The shape alone: each tensor's sample divided by its tensor's median u (all coordinates), so a layer that
    // differs from another only by a scale factor passes. Reported, not a criterion.
    let scaled =
        [ for snap in r.Snaps do
            let xs = [| for u in tested snap do if u.Median > 0.0 then struct (u.Tensor, u.Sample |> Array.map (fun x -> x / u.Median)) |]
            for p in SignConditions.Pairwise xs ->
                { Model = m; Kind = "layers-scaled"; StepA = snap.Step; StepB = snap.Step; A = p.A; B = p.B; Pair = p } ]
    let snaps = List.toArray r.Snaps
    let overTime =
        [ for i in 0 .. snaps.Length - 2 do
            for u in tested snaps.[i] do
                let v = snaps.[i + 1].U |> List.find (fun v -> v.Tensor = u.Tensor)
                yield { Model = m; Kind = "time"; StepA = snaps.[i].Step; StepB = snaps.[i + 1].Step; A = u.Tensor; B = u.Tensor
                        Pair = SignConditions.Test(u.Tensor, u.Sample, v.Tensor, v.Sample) } ]
    let firstLast =
        [ for u in tested snaps.[0] do
            let v = snaps.[snaps.Length - 1].U |> List.find (fun v -> v.Tensor = u.Tensor)
            yield { Model = m; Kind = "first-last"; StepA = snaps.[0].Step; StepB = snaps.[snaps.Length - 1].Step; A = u.Tensor; B = u.Tensor
                    Pair = SignConditions.Test(u.Tensor, u.Sample, v.Tensor, v.Sample) } ]
    // Control: two disjoint halves of one tensor's subsample are draws of one distribution, so this rejects ≈ α of the time.
    let control =
        [ for snap in r.Snaps do
            for u in tested snap do
                let h = u.Sample.Length / 2
                yield { Model = m; Kind = "control"; StepA = snap.Step; StepB = snap.Step; A = u.Tensor + "[first half]"; B = u.Tensor + "[second half]"
                        Pair = SignConditions.Test(u.Tensor, u.Sample.[.. h - 1], u.Tensor, u.Sample.[h ..]) } ]
    between @ scaled @ overTime @ firstLast @ control

let ks = results |> List.collect ksOf
let rejectFraction (xs: Ks list) = if xs.IsEmpty then nan else float (xs |> List.filter (fun k -> k.Pair.PValue < alpha) |> List.length) / float xs.Length
let medianD (xs: Ks list) =
    if xs.IsEmpty then nan
    else CudaAdam.Experiments.Statistics.Bootstrap.Quantile(xs |> List.map (fun k -> k.Pair.Statistic) |> List.sort |> List.toArray, 0.5)
let select m kind = ks |> List.filter (fun k -> k.Model = m && k.Kind = kind)

/// With every coordinate (no subsample), the last snapshot's two largest tensors: the sample sizes at which any
/// difference at all is "significant".
let fullSample (r: RunResult) =
    match r.LastU |> List.filter (fun (_, u) -> u.Length >= minCount) |> List.sortByDescending (fun (_, u) -> u.Length) with
    | (a, x) :: (b, y) :: _ -> Some (SignConditions.Test(a, x, b, y))
    | _ -> None

// ---- records ---------------------------------------------------------------------------------------------------------
let usum = CsvTable("model", "step", "tensor", "count", "mean_u", "median_u", "fraction_zero", "fraction_below_0.01", "fraction_sqrt_v_below_eps")
let ncsv = CsvTable("model", "step", "gradient", "tensor", "count", "l1", "l2", "l1_over_l2", "density", "probe_loss")
for r in results do
    for s in r.Snaps do
        for u in s.U do usum.Add(r.Spec.Name, s.Step, u.Tensor, u.Count, u.Mean, u.Median, u.FractionZero, u.FractionSmall, u.FractionEpsDominated)
        for (kind, norms) in [ "probe", s.Probe; "minibatch", s.Mini ] do
            for n in norms do ncsv.Add(r.Spec.Name, s.Step, kind, n.Tensor, n.Count, n.L1, n.L2, n.Ratio, n.Density, s.ProbeLoss)
usum.Save(opts.File "u_summary.csv")
ncsv.Save(opts.File "norms.csv")
let kcsv = CsvTable("model", "kind", "step_a", "step_b", "tensor_a", "tensor_b", "n_a", "n_b", "ks_D", "p_value")
for k in ks do kcsv.Add(k.Model, k.Kind, k.StepA, k.StepB, k.A, k.B, k.Pair.SizeA, k.Pair.SizeB, k.Pair.Statistic, k.Pair.PValue)
kcsv.Save(opts.File "ks.csv")
let lcsv = CsvTable("model", "step", "tensor", "u")
for r in results do
    let last = List.last r.Snaps
    for u in last.U do for x in u.Sample do lcsv.Add(r.Spec.Name, last.Step, u.Tensor, x)
lcsv.Save(opts.File "u_last.csv")

// ---- report ----------------------------------------------------------------------------------------------------------
let report = Report("Conditions 2 and 3 of arXiv 2507.05966 on the Fashion-MNIST MLP and CNN", opts)
for r in results do
    report.Setup(sprintf "%s: %s, %d parameters; Adam lr = %g (β1 = 0.9, β2 = 0.999, ε = 1e-8), minibatch %d, %d steps on %s (%d images), seed %d; a snapshot every %d steps; probe batch (∇F estimate): the first %d training images"
        r.Spec.Name r.Spec.Describe r.Params r.Spec.Lr r.Spec.Batch r.Spec.Steps train.Name train.Count opts.Seed (r.Spec.Steps / r.Spec.Snapshots) r.Spec.Probe)
report.Setup("u = |m̂|/(√v̂ + ε) with Adam's bias-corrected moments (the step actually taken is lr·u∘sign(m)); the uncorrected |m|/(√v + ε) differs by the factor √(1−β2^t)/(1−β1^t), which changes over these runs (β2^t ≫ 0 for t ≪ 1000), so over-time comparisons would measure the bias correction rather than the distribution")
report.Setup(sprintf "Condition 2 (i.i.d. coordinates of u), as tested here: identically distributed across layers (two-sample KS between every pair of tensors with ≥ %d coordinates, at every snapshot) and over time (each tensor between consecutive snapshots); %d values per tensor drawn uniformly without replacement (all of a smaller tensor) — with all coordinates (10⁵–10⁶ per layer) KS rejects any difference at all, so the subsample size sets the resolution: at n = %d per side KS detects D ≳ %.3f at α = 0.05" minCount perLayer perLayer (1.358 * sqrt (2.0 / float perLayer)))
report.Setup("Shape only (reported, not a criterion): the same tests between layers after dividing each tensor's u by its median, so that layers differing only by a scale factor pass")
report.Setup("Control: the same test between the two halves of each tensor's subsample (one distribution by construction): its rejection rate shows what α = 0.05 gives when the null is true")
report.Setup("Condition 3 (stable ℓ1/ℓ2 ratio), as tested here: ‖∇F‖₁/‖∇F‖₂ over all parameters of the probe-batch gradient at every snapshot; the density φ = ‖g‖₁²/(d‖g‖₂²) (1 = all coordinates equal, 2/π = Gaussian, 1/d = one coordinate) is the same number normalized by √d")
report.Setup("The paper's text was not available here: the conditions are read from a digest of it (Condition 2: coordinates of |m_t|/√v_t i.i.d., \"validated\" by KS tests; Condition 3: ‖∇F‖₁/‖∇F‖₂ bounded by C₁ relative to √d); a reviewer (ICLR 2026) called Conditions 1–3 and the lower bound E[u] ≥ v̄ > 0 \"unnatural and strong\" and noted that u may be very small — hence the fractions of u = 0 and u < 0.01 below")

for r in results do
    let m = r.Spec.Name
    report.Section(sprintf "%s (%s, %.0f s)" m r.Spec.Describe r.Seconds)
    let last = List.last r.Snaps
    // empirical CDFs of u per tensor at the last snapshot
    Plots.Lines(opts.File (sprintf "ecdf_%s.png" m), sprintf "%s: empirical CDF of u per tensor, step %d" m last.Step, "u = |m̂|/(√v̂ + ε)", "fraction ≤ u",
        [ for u in tested last ->
            let xs = Array.sort u.Sample
            Series(sprintf "%s (d = %d)" u.Tensor u.Count, xs, xs |> Array.mapi (fun i _ -> float (i + 1) / float xs.Length)) ])
    let steps = r.Snaps |> List.map (fun s -> float s.Step) |> List.toArray
    Plots.Lines(opts.File (sprintf "ks_%s.png" m), sprintf "%s: KS statistic D (median over pairs)" m, "step", "KS D",
        [ Series("between layers", steps, r.Snaps |> List.map (fun s -> medianD (select m "layers" |> List.filter (fun k -> k.StepA = s.Step))) |> List.toArray, Markers = true)
          Series("over time (vs previous snapshot)", steps.[1..], r.Snaps.Tail |> List.map (fun s -> medianD (select m "time" |> List.filter (fun k -> k.StepB = s.Step))) |> List.toArray, Markers = true)
          Series("control (halves of one tensor)", steps, r.Snaps |> List.map (fun s -> medianD (select m "control" |> List.filter (fun k -> k.StepA = s.Step))) |> List.toArray, Markers = true, Dashed = true) ],
        references = [ ReferenceLine(sprintf "KS critical D at α = 0.05, n = %d" perLayer, 1.358 * sqrt (2.0 / float perLayer)) ])
    let globalOf (xs: NormRatio list) = xs |> List.find (fun n -> n.Tensor = "global")
    Plots.Lines(opts.File (sprintf "density_%s.png" m), sprintf "%s: density ‖g‖₁²/(d‖g‖₂²) over training" m, "step", "density φ",
        [ yield Series("probe gradient (∇F estimate), all parameters", steps, r.Snaps |> List.map (fun s -> (globalOf s.Probe).Density) |> List.toArray, Markers = true)
          yield Series("minibatch gradient, all parameters", steps, r.Snaps |> List.map (fun s -> (globalOf s.Mini).Density) |> List.toArray, Markers = true, Dashed = true)
          for p in last.Probe |> List.filter (fun n -> n.Tensor <> "global" && n.Count >= int64 minCount) do
            yield Series(sprintf "probe, %s" p.Tensor, steps, r.Snaps |> List.map (fun s -> (s.Probe |> List.find (fun n -> n.Tensor = p.Tensor)).Density) |> List.toArray) ],
        logY = true)
    report.Table([ "step"; "probe loss"; "‖∇F‖₁/‖∇F‖₂"; "density φ (probe)"; "density φ (minibatch)"; "KS layers: rejected"; "median D"; "control: rejected" ],
        [ for s in r.Snaps ->
            let lay = select m "layers" |> List.filter (fun k -> k.StepA = s.Step)
            let ctl = select m "control" |> List.filter (fun k -> k.StepA = s.Step)
            [ box s.Step; box s.ProbeLoss; box (globalOf s.Probe).Ratio; box (globalOf s.Probe).Density; box (globalOf s.Mini).Density
              box (sprintf "%d/%d" (lay |> List.filter (fun k -> k.Pair.PValue < alpha) |> List.length) lay.Length); box (medianD lay)
              box (sprintf "%d/%d" (ctl |> List.filter (fun k -> k.Pair.PValue < alpha) |> List.length) ctl.Length) ] ])
    report.Table([ "tensor"; "d"; "mean u"; "median u"; "u = 0"; "u < 0.01"; "√v̂ < ε"; "density φ (probe)"; "KS D first→last snapshot"; "p" ],
        [ for u in last.U ->
            let fl = select m "first-last" |> List.tryFind (fun k -> k.A = u.Tensor)
            let pr = last.Probe |> List.find (fun n -> n.Tensor = u.Tensor)
            [ box u.Tensor; box u.Count; box u.Mean; box u.Median; box u.FractionZero; box u.FractionSmall; box u.FractionEpsDominated; box pr.Density
              (match fl with Some k -> box k.Pair.Statistic | None -> box "—"); (match fl with Some k -> box k.Pair.PValue | None -> box "—") ] ])
    match fullSample r with
    | Some k ->
        let crit = 1.358 * sqrt (float (k.SizeA + k.SizeB) / (float k.SizeA * float k.SizeB))
        report.Text(sprintf "All coordinates at step %d, %s (%d) vs %s (%d): D = %s, p = %s. At these sizes any D above %s is significant at α = 0.05, so a test on all coordinates rejects every difference, however small; the criteria use the %d-value subsample, which flags only D ≳ %s." last.Step k.A k.SizeA k.B k.SizeB (num k.Statistic) (num k.PValue) (num crit) perLayer (num (1.358 * sqrt (2.0 / float perLayer))))
    | None -> ()
    let perTensor = last.Probe |> List.filter (fun n -> n.Tensor <> "global" && n.Count >= int64 minCount)
    let lowest = tested last |> List.minBy (fun u -> u.Median)
    let gd = (globalOf last.Probe).Density
    let below = perTensor |> List.forall (fun n -> gd < n.Density)
    report.Text(sprintf "Reading (step %d): the density of the whole gradient, φ = %s, is %s the per-tensor densities (%s to %s)%s. The smallest u: %s, median u = %s, %.0f%% of its coordinates below 0.01 and %.0f%% with √v̂ < ε (there ε, not m, sets u; these include the coordinates with u = 0)."
        last.Step (num gd) (if below then "below every one of" else "not below all of") (num (perTensor |> List.map (fun n -> n.Density) |> List.min)) (num (perTensor |> List.map (fun n -> n.Density) |> List.max))
        (if below then ": the layers' gradients differ in scale, so over all parameters ‖∇F‖₁/‖∇F‖₂ is set by the few layers with the largest gradients, not by the number of coordinates" else "")
        lowest.Tensor (num lowest.Median) (100.0 * lowest.FractionSmall) (100.0 * lowest.FractionEpsDominated))
    report.Image(sprintf "ecdf_%s.png" m, sprintf "%s: distribution of u per tensor at the last snapshot" m)
    report.Image(sprintf "ks_%s.png" m, sprintf "%s: KS statistics between layers, over time, and the control" m)
    report.Image(sprintf "density_%s.png" m, sprintf "%s: ℓ1/ℓ2 density over training" m)

for r in results do
    let m = r.Spec.Name
    let lay, time, ctl = select m "layers", select m "time", select m "control"
    report.Decide(sprintf "%s — Condition 2 across layers: u is identically distributed in every layer" m,
        sprintf "at most %.0f%% of the KS tests between pairs of tensors (all snapshots, n = %d per side) reject at α = %g" (100.0 * maxRejectFraction) perLayer alpha,
        rejectFraction lay <= maxRejectFraction,
        sprintf "%d of %d rejected (%.0f%%), median D = %s; control %.0f%% rejected (median D %s); shape only (u ÷ its tensor's median): %.0f%% rejected (median D %s)"
            (lay |> List.filter (fun k -> k.Pair.PValue < alpha) |> List.length) lay.Length (100.0 * rejectFraction lay) (num (medianD lay)) (100.0 * rejectFraction ctl) (num (medianD ctl))
            (100.0 * rejectFraction (select m "layers-scaled")) (num (medianD (select m "layers-scaled"))))
    |> ignore
    report.Decide(sprintf "%s — Condition 2 over time: the distribution of u is stationary" m,
        sprintf "at most %.0f%% of the KS tests of one tensor between consecutive snapshots reject at α = %g" (100.0 * maxRejectFraction) alpha,
        rejectFraction time <= maxRejectFraction,
        sprintf "%d of %d rejected (%.0f%%), median D = %s; first vs last snapshot: %d of %d rejected, median D = %s"
            (time |> List.filter (fun k -> k.Pair.PValue < alpha) |> List.length) time.Length (100.0 * rejectFraction time) (num (medianD time))
            (select m "first-last" |> List.filter (fun k -> k.Pair.PValue < alpha) |> List.length) (select m "first-last").Length (num (medianD (select m "first-last"))))
    |> ignore
    let ratios = r.Snaps |> List.map (fun s -> (s.Probe |> List.find (fun n -> n.Tensor = "global")).Ratio)
    let dens = r.Snaps |> List.map (fun s -> (s.Probe |> List.find (fun n -> n.Tensor = "global")).Density)
    report.Decide(sprintf "%s — Condition 3: the ℓ1/ℓ2 ratio of the gradient is stable over training" m,
        sprintf "max/min over the snapshots of ‖∇F‖₁/‖∇F‖₂ (probe gradient, all parameters) ≤ %g" maxRatioSpread,
        List.max ratios / List.min ratios <= maxRatioSpread,
        sprintf "ratio from %s to %s (max/min %s; √d = %s); density φ from %s to %s"
            (num (List.min ratios)) (num (List.max ratios)) (num (List.max ratios / List.min ratios)) (num (sqrt (float r.Params)))
            (num (List.min dens)) (num (List.max dens)))
    |> ignore

finish report
