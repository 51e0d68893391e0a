// Reddi, Kale & Kumar, "On the Convergence of Adam and Beyond" (ICLR 2018): Adam's non-convergence on online
// linear problems over [-1, 1], against AMSGrad, SGD and AdaGrad.
//   scripts/fsx reddi [--smoke | --full] [--out DIR] [--seed N] [--seeds K] [--shard k/n] ...
// Criteria, sizes and seeds: scripts/criteria/reddi.json. Writes runs/reddi/{runs.csv, <problem>_x.png,
// <problem>_regret.png, report.md, verdicts.json, provenance.json}.
#load "lib/Common.fsx"
open System
open Common
open CudaAdam
open CudaAdam.Experiments.Plotting
open CudaAdam.Experiments.Problems
open CudaAdam.Experiments.Recording

let exp = experiment "reddi"
let opts = exp.Options
let steps = exp.Long "steps"
// Base rates α (lr_t = α/√t; AdaGrad: constant α, its 1/sqrt(Σg²) already decays the step). On the 3-cycle every
// optimizer uses α = 0.1 (src/CudaAdam/Problems/ReddiCounterexample.cs). On the 1010/−10 problems the mean slope
// (+0.2) is small against the spikes (stochastic: std ≈ 101 per round), so a finite run needs α matched to each
// method's step scale: the normalized methods (Adam, AMSGrad, AdaGrad) divide by ≈ 100, SGD does not. With α = 1 for
// them and 0.01 for SGD, the expected drift over T = 5e6 rounds (≈ 0.4·α·√T/scale ≈ 9) exceeds the width of [−1, 1]
// and the stationary spread (≈ lr·σ²/drift) is about 0.2 at the end. See the report's setup.
let alphaFor (problem: string) (label: string) =
    match problem, label with
    | "cycle3", _ -> 0.1
    | _, "SGD" -> 0.01
    | _ -> 1.0
/// The start of a seed's runs: uniform in [−0.5, 0.5] (neither limit is given away), the same for every optimizer.
let x0Of (seed: int) = -0.5 + Training.Rng.ForStream(uint64 seed, 7UL).NextDouble()

type Setup = { Label: string; Algorithm: Algorithm; Hp: Hyperparameters; InverseSqrt: bool; Expected: float }

let setups (problem: string) (beta1: float) (beta2: float) =
    let a = alphaFor problem
    let adam amsgrad = Hyperparameters.For(Algorithm.Adam, lr = a (if amsgrad then "AMSGrad" else "Adam"), beta1 = beta1, beta2 = beta2, eps = 1e-8, amsgrad = amsgrad)
    [ { Label = "Adam"; Algorithm = Algorithm.Adam; Hp = adam false; InverseSqrt = true; Expected = 1.0 }
      { Label = "AMSGrad"; Algorithm = Algorithm.Adam; Hp = adam true; InverseSqrt = true; Expected = -1.0 }
      { Label = "SGD"; Algorithm = Algorithm.Sgd; Hp = Hyperparameters.For(Algorithm.Sgd, lr = a "SGD"); InverseSqrt = true; Expected = -1.0 }
      { Label = "AdaGrad"; Algorithm = Algorithm.AdaGrad; Hp = Hyperparameters.For(Algorithm.AdaGrad, lr = a "AdaGrad", eps = 1e-10); InverseSqrt = false; Expected = -1.0 } ]

let c = 10.0
let problems =
    [ OnlineLinear.Cycle3(c), setups "cycle3" 0.0 (1.0 / (1.0 + c * c)), "β1 = 0, β2 = 1/(1+C²) = " + num (1.0 / (1.0 + c * c))
      OnlineLinear.Online(), setups "online" 0.9 0.99, "β1 = 0.9, β2 = 0.99"
      OnlineLinear.Stochastic(1), setups "stochastic" 0.9 0.99, "β1 = 0.9, β2 = 0.99" ]

let report = exp.Report
report.Setup(sprintf "Problems (x* = -1 in all three): %s" (problems |> List.map (fun (p, _, b) -> sprintf "`%s`: %s (%s)" p.Name p.Description b) |> String.concat "; "))
report.Setup(sprintf "T = %d rounds; lr_t = α/√t (AdaGrad: constant lr α, ε = 1e-10); projection onto [-1, 1] after each step" steps)
report.Setup("α: 0.1 for every optimizer on the 3-cycle; on the 1010/−10 problems α = 1 for Adam, AMSGrad and AdaGrad (their steps are divided by ≈ 100 = sqrt(0.01·1010²)) and α = 0.01 for SGD, so that within T rounds the mean drift crosses [−1, 1] several times while the spread from the spikes shrinks (see the comment in the script). Reddi et al. tuned α; the claims are asymptotic, so a finite run can miss them when α is off.")
report.Setup("Optimizers: the CPU reference (torch.optim semantics) of Adam, Adam with amsgrad=True, SGD (no momentum), AdaGrad; Adam's ε = 1e-8")
report.Setup(sprintf "Seeds %s: a seed sets the start x0 (uniform in [−0.5, 0.5]: %s) and the stochastic problem's slopes; x_t plotted as the mean over geometrically spaced windows (the first seed's run); final position θ = mean x over the last 10%% of rounds, one per seed"
    (exp.Seeds |> Seq.map string |> String.concat ", ") (exp.Seeds |> Seq.map (x0Of >> sprintf "%.3f") |> String.concat ", "))

// The grid: problem × optimizer × seed; each job runs on its own (the stochastic problem's generator is per run).
let jobs = [ for (p, ss, _) in problems do for s in ss do for seed in exp.Seeds -> p.Name, s, seed ]
let raw =
    exp.Run("runs", jobs, (fun (name, s, seed) -> sprintf "%s/%s/seed=%d" name s.Label seed),
        [ "problem"; "optimizer"; "seed"; "x0"; "t"; "x_window_mean"; "average_regret"; "tail_mean_x" ],
        fun (name, s, seed) ->
            let p = match name with
                    | "online" -> OnlineLinear.Online()
                    | "stochastic" -> OnlineLinear.Stochastic(seed)
                    | _ -> OnlineLinear.Cycle3(c)
            let x0 = x0Of seed
            let tr = p.Run(s.Algorithm, s.Hp, steps, s.InverseSqrt, x0)
            [ for i in 0 .. tr.T.Length - 1 -> [| box name; box s.Label; box seed; box x0; box tr.T.[i]; box tr.X.[i]; box tr.AverageRegret.[i]; box tr.TailMeanX |] ])

/// Per (problem, optimizer, seed): the trace (t, x, regret) and θ, read back from the raw table.
let runs =
    [ for (p, ss, _) in problems do
        for s in ss do
            for seed in exp.Seeds ->
                let rows = raw.Rows |> Seq.filter (fun r -> r.Str "problem" = p.Name && r.Str "optimizer" = s.Label && r.Int "seed" = seed) |> Seq.toArray
                let tr = OnlineLinear.Trace(rows |> Array.map (fun r -> r.Long "t"), rows |> Array.map (fun r -> r.Float "x_window_mean"),
                                            rows |> Array.map (fun r -> r.Float "average_regret"), rows.[0].Float "tail_mean_x")
                p.Name, s, seed, tr ]
let firstSeed = exp.Seeds.[0]

for (p, _, betas) in problems do
    let mine = runs |> List.filter (fun (n, _, seed, _) -> n = p.Name && seed = firstSeed)
    Plots.Lines(opts.File(p.Name + "_x.png"), sprintf "%s: x_t (%s, seed %d)" p.Name betas firstSeed, "t", "x_t (window mean)",
        [ for (_, s, _, tr) in mine -> Series(s.Label, tr.T |> Array.map float, tr.X) ], logX = true,
        references = [ ReferenceLine("x* = -1", -1.0); ReferenceLine("worst point +1", 1.0) ])
    Plots.Lines(opts.File(p.Name + "_regret.png"), sprintf "%s: average regret R_t/t (seed %d)" p.Name firstSeed, "t", "R_t / t",
        [ for (_, s, _, tr) in mine -> Series(s.Label, tr.T |> Array.map float, tr.AverageRegret) ], logX = true, logY = true)
    report.Section(sprintf "`%s`: %s, %s" p.Name p.Description betas)
    report.Table([ "optimizer"; "final x per seed (mean, last 10%)"; "literature"; "R_T/T (seed mean)" ],
        [ for (_, s, _, _) in mine ->
            let all = runs |> List.filter (fun (n, s', _, _) -> n = p.Name && s'.Label = s.Label)
            [ box s.Label; box (all |> List.map (fun (_, _, _, tr) -> num tr.TailMeanX) |> String.concat ", "); box s.Expected
              box (all |> List.averageBy (fun (_, _, _, tr) -> tr.AverageRegret.[tr.AverageRegret.Length - 1])) ] ])
    report.Image(p.Name + "_x.png", sprintf "%s: x_t" p.Name)
    report.Image(p.Name + "_regret.png", sprintf "%s: average regret R_t/t (log-log)" p.Name)

for (p, ss, _) in problems do
    for s in ss do
        let all = runs |> List.filter (fun (n, s', _, _) -> n = p.Name && s'.Label = s.Label)
        let theta = all |> List.map (fun (_, _, _, tr) -> tr.TailMeanX) |> List.toArray
        exp.EffectMean(sprintf "%s-%s" (if p.Name.StartsWith "cycle3" then "cycle3" else p.Name) (s.Label.ToLowerInvariant()), theta,
            sprintf "per seed %s" (theta |> Array.map num |> String.concat ", ")) |> ignore

finishExperiment exp
