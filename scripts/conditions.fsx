// The conditions of arXiv 2507.05966 ("Simple Convergence Proof of Adam From a Sign-like Descent Perspective") on real
// networks. Condition 2: the coordinates of u = |m|/(√v + ε) are i.i.d. (the paper checks it with Kolmogorov–Smirnov
// tests on ResNet-50 and GPT-2); Condition 3: the ratio ‖∇F‖₁/‖∇F‖₂ is stable, so that the sign-descent bound does
// not pick up a factor of the dimension. Adam trains the Fashion-MNIST MLP and the DeepOBS CNN; every k steps a seeded
// subsample of u per layer, a probe-batch gradient and the minibatch gradient are recorded; two-sample KS tests
// between layers and between times, and the ℓ1/ℓ2 ratio over training.
// Criteria, margins, seeds and sizes: scripts/criteria/conditions.json. One job per (model, seed).
//   scripts/fsx conditions [--smoke | --full] [--out DIR] [--seed N] [--seeds K] [--shard k/n]
// Writes runs/conditions/{snap.csv, u_summary.csv, ks.csv, u_last.csv, full.csv, ecdf_*.png, ks_*.png, density_*.png,
// report.md, verdicts.json, provenance.json}.
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

let exp = experiment "conditions"
let opts = exp.Options
let perLayer = exp.Int "per_layer"           // u values drawn per tensor and snapshot for the KS tests
let minCount = 100                           // tensors with fewer coordinates (the 10 output biases) are left out of the tests
let alpha = 0.05                             // the level of each KS test (the criteria's margins are on the rejection rate)

type Spec =
    { Name: string; Describe: string; Build: Rng -> Sequential; Batch: int; Steps: int; Snapshots: int; Probe: int; Lr: float }

let mlpHidden = exp.Ints "mlp_hidden" |> List.ofArray
let cnnC1, cnnC2, cnnHidden = (exp.Ints "cnn_channels").[0], (exp.Ints "cnn_channels").[1], exp.Int "cnn_hidden"
let specs =
    [ { Name = "mlp"
        Describe = sprintf "MLP 784-%s-10 (ReLU, no dropout)" (mlpHidden |> List.map string |> String.concat "-")
        Build = fun r -> ModelZoo.Mlp(784, mlpHidden, 10, 0.0, 0.0, r, Rng(0UL))
        Batch = 128; Steps = exp.Int "mlp_steps"; Snapshots = exp.Int "mlp_snapshots"; Probe = exp.Int "mlp_probe"; Lr = 1e-3 }
      { Name = "cnn"
        Describe = sprintf "CNN DeepOBS fmnist_2c2d (conv %d@5×5, pool, conv %d@5×5, pool, fc %d, fc 10)" cnnC1 cnnC2 cnnHidden
        Build = fun r -> ModelZoo.Cnn(28, 28, 10, r, channels = Nullable<struct (int * int)>(struct (cnnC1, cnnC2)), hidden = cnnHidden)
        Batch = exp.Int "cnn_batch"; Steps = exp.Int "cnn_steps"; Snapshots = exp.Int "cnn_snapshots"; Probe = exp.Int "cnn_probe"; Lr = 1e-3 } ]

let struct (train, _) = FashionMnist.Load "auto"

type Snapshot = { Step: int64; U: USample list; Probe: NormRatio list; Mini: NormRatio list; ProbeLoss: float }
type RunResult = { Spec: Spec; Seed: int; Params: int64; Snaps: Snapshot list; LastU: (string * float[]) list; Seconds: float }

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

let runModel (spec: Spec) (seed: int) =
    let clock = Diagnostics.Stopwatch.StartNew()
    let s = uint64 seed
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
    { Spec = spec; Seed = seed; Params = model.ParameterCount; Snaps = snaps; LastU = lastU; Seconds = clock.Elapsed.TotalSeconds }

// ---- the tests (inside each job) -------------------------------------------------------------------------------------
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

/// With every coordinate (no subsample), the last snapshot's two largest tensors: the sample sizes at which any
/// difference at all is "significant".
let fullSample (r: RunResult) =
    match r.LastU |> List.filter (fun (_, u) -> u.Length >= minCount) |> List.sortByDescending (fun (_, u) -> u.Length) with
    | (a, x) :: (b, y) :: _ -> Some (SignConditions.Test(a, x, b, y))
    | _ -> None

// ---- the sweep: one job per (model, seed); everything the analysis reads goes through the raw tables ----------------
let jobs = [ for spec in specs do for seed in exp.Seeds -> spec, seed ]
let tables =
    exp.RunTables("runs", jobs, (fun (spec, seed) -> sprintf "%s/seed=%d" spec.Name seed),
        [ "snap", [| "model"; "seed"; "params"; "seconds"; "step"; "probe_loss"; "ratio_probe"; "density_probe"; "density_minibatch" |] :> Collections.Generic.IReadOnlyList<string>
          "u_summary", [| "model"; "seed"; "step"; "tensor"; "count"; "mean_u"; "median_u"; "fraction_zero"; "fraction_below_0.01"; "fraction_sqrt_v_below_eps"; "density_probe" |]
          "ks", [| "model"; "seed"; "kind"; "step_a"; "step_b"; "tensor_a"; "tensor_b"; "n_a"; "n_b"; "ks_D"; "p_value" |]
          "u_last", [| "model"; "seed"; "tensor"; "u" |]
          "full", [| "model"; "seed"; "step"; "tensor_a"; "n_a"; "tensor_b"; "n_b"; "ks_D"; "p_value" |] ]
        |> List.map (fun (n, c) -> Tuple.Create(n, c)),
        fun (spec, seed) ->
            let r = runModel spec seed
            let m = spec.Name
            [ for s in r.Snaps do
                let gp = s.Probe |> List.find (fun n -> n.Tensor = "global")
                let gm = s.Mini |> List.find (fun n -> n.Tensor = "global")
                yield Tuple.Create("snap", [| box m; box seed; box r.Params; box (Math.Round(r.Seconds, 1)); box s.Step; box s.ProbeLoss; box gp.Ratio; box gp.Density; box gm.Density |])
                for u in s.U do
                    let pr = s.Probe |> List.find (fun n -> n.Tensor = u.Tensor)
                    yield Tuple.Create("u_summary", [| box m; box seed; box s.Step; box u.Tensor; box u.Count; box u.Mean; box u.Median; box u.FractionZero; box u.FractionSmall; box u.FractionEpsDominated; box pr.Density |])
              for k in ksOf r do
                yield Tuple.Create("ks", [| box m; box seed; box k.Kind; box k.StepA; box k.StepB; box k.A; box k.B; box k.Pair.SizeA; box k.Pair.SizeB; box k.Pair.Statistic; box k.Pair.PValue |])
              if seed = exp.Seeds.[0] then
                let last = List.last r.Snaps
                for u in last.U do for x in u.Sample do yield Tuple.Create("u_last", [| box m; box seed; box u.Tensor; box x |])
              match fullSample r with
              | Some k -> yield Tuple.Create("full", [| box m; box seed; box (List.last r.Snaps).Step; box k.A; box k.SizeA; box k.B; box k.SizeB; box k.Statistic; box k.PValue |])
              | None -> () ])

let snapT, usumT, ksT, ulastT, fullT = tables.["snap"], tables.["u_summary"], tables.["ks"], tables.["u_last"], tables.["full"]
let rows (t: RawTable) (f: RawRow -> bool) = t.Rows |> Seq.filter f |> Seq.toList
let rejectFraction (xs: RawRow list) = if xs.IsEmpty then nan else float (xs |> List.filter (fun k -> k.Float "p_value" < alpha) |> List.length) / float xs.Length
let rejected (xs: RawRow list) = xs |> List.filter (fun k -> k.Float "p_value" < alpha) |> List.length
let medianD (xs: RawRow list) =
    if xs.IsEmpty then nan
    else CudaAdam.Experiments.Statistics.Bootstrap.Quantile(xs |> List.map (fun k -> k.Float "ks_D") |> List.sort |> List.toArray, 0.5)
let select m seed kind = rows ksT (fun k -> k.Str "model" = m && k.Int "seed" = seed && k.Str "kind" = kind)
let first = exp.Seeds.[0]

// ---- report ----------------------------------------------------------------------------------------------------------
let report = exp.Report
for spec in specs do
    let sn = rows snapT (fun r -> r.Str "model" = spec.Name)
    report.Setup(sprintf "%s: %s, %d parameters; Adam lr = %g (β1 = 0.9, β2 = 0.999, ε = 1e-8), minibatch %d, %d steps on %s (%d images), seeds %s (a seed sets the init, the batch order and the u subsample); a snapshot every %d steps; probe batch (∇F estimate): the first %d training images"
        spec.Name spec.Describe (sn.Head.Long "params") spec.Lr spec.Batch spec.Steps train.Name train.Count (exp.Seeds |> Seq.map string |> String.concat ", ") (spec.Steps / spec.Snapshots) spec.Probe)
report.Setup("u = |m̂|/(√v̂ + ε) with Adam's bias-corrected moments (the step actually taken is lr·u∘sign(m)); the uncorrected |m|/(√v + ε) differs by the factor √(1−β2^t)/(1−β1^t), which changes over these runs (β2^t ≫ 0 for t ≪ 1000), so over-time comparisons would measure the bias correction rather than the distribution")
report.Setup(sprintf "Condition 2 (i.i.d. coordinates of u), as tested here: identically distributed across layers (two-sample KS between every pair of tensors with ≥ %d coordinates, at every snapshot) and over time (each tensor between consecutive snapshots); %d values per tensor drawn uniformly without replacement (all of a smaller tensor) — with all coordinates (10⁵–10⁶ per layer) KS rejects any difference at all, so the subsample size sets the resolution: at n = %d per side KS detects D ≳ %.3f at α = 0.05. θ per seed = the fraction of those tests that reject at α = 0.05 (a true null rejects 5%%)" minCount perLayer perLayer (1.358 * sqrt (2.0 / float perLayer)))
report.Setup("Shape only (reported, not a criterion): the same tests between layers after dividing each tensor's u by its median, so that layers differing only by a scale factor pass")
report.Setup("Control: the same test between the two halves of each tensor's subsample (one distribution by construction): its rejection rate shows what α = 0.05 gives when the null is true")
report.Setup("Condition 3 (stable ℓ1/ℓ2 ratio), as tested here: θ per seed = max/min over the snapshots of ‖∇F‖₁/‖∇F‖₂ over all parameters of the probe-batch gradient; the density φ = ‖g‖₁²/(d‖g‖₂²) (1 = all coordinates equal, 2/π = Gaussian, 1/d = one coordinate) is the same number normalized by √d")
report.Setup("The paper's text was not available here: the conditions are read from a digest of it (Condition 2: coordinates of |m_t|/√v_t i.i.d., \"validated\" by KS tests; Condition 3: ‖∇F‖₁/‖∇F‖₂ bounded by C₁ relative to √d); a reviewer (ICLR 2026) called Conditions 1–3 and the lower bound E[u] ≥ v̄ > 0 \"unnatural and strong\" and noted that u may be very small — hence the fractions of u = 0 and u < 0.01 below")

for spec in specs do
    let m = spec.Name
    let sn = rows snapT (fun r -> r.Str "model" = m && r.Int "seed" = first)
    report.Section(sprintf "%s (%s; plots and tables: seed %d, %.0f s per run)" m spec.Describe first (sn.Head.Float "seconds"))
    let steps = sn |> List.map (fun s -> s.Long "step") 
    let lastStep = List.last steps
    let tensorsLast = rows usumT (fun r -> r.Str "model" = m && r.Int "seed" = first && r.Long "step" = lastStep)
    let testedLast = tensorsLast |> List.filter (fun u -> u.Long "count" >= int64 minCount)
    Plots.Lines(opts.File (sprintf "ecdf_%s.png" m), sprintf "%s: empirical CDF of u per tensor, step %d" m lastStep, "u = |m̂|/(√v̂ + ε)", "fraction ≤ u",
        [ for u in testedLast ->
            let xs = rows ulastT (fun r -> r.Str "model" = m && r.Str "tensor" = u.Str "tensor") |> List.map (fun r -> r.Float "u") |> List.toArray |> Array.sort
            Series(sprintf "%s (d = %d)" (u.Str "tensor") (u.Long "count"), xs, xs |> Array.mapi (fun i _ -> float (i + 1) / float xs.Length)) ])
    let fsteps = steps |> List.map float |> List.toArray
    let at kind (col: string) step = select m first kind |> List.filter (fun k -> k.Long col = step)
    Plots.Lines(opts.File (sprintf "ks_%s.png" m), sprintf "%s: KS statistic D (median over pairs)" m, "step", "KS D",
        [ Series("between layers", fsteps, steps |> List.map (fun s -> medianD (at "layers" "step_a" s)) |> List.toArray, Markers = true)
          Series("over time (vs previous snapshot)", fsteps.[1..], steps.Tail |> List.map (fun s -> medianD (at "time" "step_b" s)) |> List.toArray, Markers = true)
          Series("control (halves of one tensor)", fsteps, steps |> List.map (fun s -> medianD (at "control" "step_a" s)) |> List.toArray, Markers = true, Dashed = true) ],
        references = [ ReferenceLine(sprintf "KS critical D at α = 0.05, n = %d" perLayer, 1.358 * sqrt (2.0 / float perLayer)) ])
    let densityOf tensor step = (rows usumT (fun r -> r.Str "model" = m && r.Int "seed" = first && r.Long "step" = step && r.Str "tensor" = tensor)).Head.Float "density_probe"
    Plots.Lines(opts.File (sprintf "density_%s.png" m), sprintf "%s: density ‖g‖₁²/(d‖g‖₂²) over training" m, "step", "density φ",
        [ yield Series("probe gradient (∇F estimate), all parameters", fsteps, sn |> List.map (fun s -> s.Float "density_probe") |> List.toArray, Markers = true)
          yield Series("minibatch gradient, all parameters", fsteps, sn |> List.map (fun s -> s.Float "density_minibatch") |> List.toArray, Markers = true, Dashed = true)
          for u in testedLast do
            yield Series(sprintf "probe, %s" (u.Str "tensor"), fsteps, steps |> List.map (densityOf (u.Str "tensor")) |> List.toArray) ],
        logY = true)
    report.Table([ "step"; "probe loss"; "‖∇F‖₁/‖∇F‖₂"; "density φ (probe)"; "density φ (minibatch)"; "KS layers: rejected"; "median D"; "control: rejected" ],
        [ for s in sn ->
            let lay = at "layers" "step_a" (s.Long "step")
            let ctl = at "control" "step_a" (s.Long "step")
            [ box (s.Long "step"); box (s.Float "probe_loss"); box (s.Float "ratio_probe"); box (s.Float "density_probe"); box (s.Float "density_minibatch")
              box (sprintf "%d/%d" (rejected lay) lay.Length); box (medianD lay); box (sprintf "%d/%d" (rejected ctl) ctl.Length) ] ])
    report.Table([ "tensor"; "d"; "mean u"; "median u"; "u = 0"; "u < 0.01"; "√v̂ < ε"; "density φ (probe)"; "KS D first→last snapshot"; "p" ],
        [ for u in tensorsLast ->
            let fl = select m first "first-last" |> List.tryFind (fun k -> k.Str "tensor_a" = u.Str "tensor")
            [ box (u.Str "tensor"); box (u.Long "count"); box (u.Float "mean_u"); box (u.Float "median_u"); box (u.Float "fraction_zero"); box (u.Float "fraction_below_0.01")
              box (u.Float "fraction_sqrt_v_below_eps"); box (u.Float "density_probe")
              (match fl with Some k -> box (k.Float "ks_D") | None -> box "—"); (match fl with Some k -> box (k.Float "p_value") | None -> box "—") ] ])
    match rows fullT (fun r -> r.Str "model" = m && r.Int "seed" = first) with
    | k :: _ ->
        let na, nb = float (k.Long "n_a"), float (k.Long "n_b")
        let crit = 1.358 * sqrt ((na + nb) / (na * nb))
        report.Text(sprintf "All coordinates at step %d, %s (%d) vs %s (%d): D = %s, p = %s. At these sizes any D above %s is significant at α = 0.05, so a test on all coordinates rejects every difference, however small; the criteria use the %d-value subsample, which flags only D ≳ %s." lastStep (k.Str "tensor_a") (k.Long "n_a") (k.Str "tensor_b") (k.Long "n_b") (num (k.Float "ks_D")) (num (k.Float "p_value")) (num crit) perLayer (num (1.358 * sqrt (2.0 / float perLayer))))
    | [] -> ()
    let gd = (List.last sn).Float "density_probe"
    let dens = testedLast |> List.map (fun u -> u.Float "density_probe")
    let below = dens |> List.forall (fun d -> gd < d)
    let lowest = testedLast |> List.minBy (fun u -> u.Float "median_u")
    report.Text(sprintf "Reading (step %d): the density of the whole gradient, φ = %s, is %s the per-tensor densities (%s to %s)%s. The smallest u: %s, median u = %s, %.0f%% of its coordinates below 0.01 and %.0f%% with √v̂ < ε (there ε, not m, sets u; these include the coordinates with u = 0)."
        lastStep (num gd) (if below then "below every one of" else "not below all of") (num (List.min dens)) (num (List.max dens))
        (if below then ": the layers' gradients differ in scale, so over all parameters ‖∇F‖₁/‖∇F‖₂ is set by the few layers with the largest gradients, not by the number of coordinates" else "")
        (lowest.Str "tensor") (num (lowest.Float "median_u")) (100.0 * lowest.Float "fraction_below_0.01") (100.0 * lowest.Float "fraction_sqrt_v_below_eps"))
    report.Image(sprintf "ecdf_%s.png" m, sprintf "%s: distribution of u per tensor at the last snapshot" m)
    report.Image(sprintf "ks_%s.png" m, sprintf "%s: KS statistics between layers, over time, and the control" m)
    report.Image(sprintf "density_%s.png" m, sprintf "%s: ℓ1/ℓ2 density over training" m)

// ---- criteria: one effect value per seed --------------------------------------------------------------------------
let perSeedText (xs: float[]) = xs |> Array.map num |> String.concat ", "
for spec in specs do
    let m = spec.Name
    let frac kind = [| for seed in exp.Seeds -> rejectFraction (select m seed kind) |]
    let lay, time, ctl, scaled = frac "layers", frac "time", frac "control", frac "layers-scaled"
    exp.EffectMean(m + "-layers", lay,
        sprintf "rejected per seed %s; control %s; shape only (u ÷ its tensor's median) %s; median D (seed %d) %s"
            (perSeedText lay) (perSeedText ctl) (perSeedText scaled) first (num (medianD (select m first "layers")))) |> ignore
    exp.EffectMean(m + "-time", time,
        sprintf "rejected per seed %s; first vs last snapshot rejected (seed %d): %d of %d, median D %s"
            (perSeedText time) first (rejected (select m first "first-last")) (select m first "first-last").Length (num (medianD (select m first "first-last")))) |> ignore
    let spread = [| for seed in exp.Seeds ->
                      let rs = rows snapT (fun r -> r.Str "model" = m && r.Int "seed" = seed) |> List.map (fun r -> r.Float "ratio_probe")
                      List.max rs / List.min rs |]
    let nParams = (rows snapT (fun r -> r.Str "model" = m)).Head.Long "params"
    exp.EffectMean(m + "-ratio", spread, sprintf "max/min per seed %s (√d = %s)" (perSeedText spread) (num (sqrt (float nParams)))) |> ignore

finishExperiment exp
