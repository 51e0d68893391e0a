// The convergence rate of Adam under the schedules of "Simple Convergence Proof of Adam From a Sign-like Descent
// Perspective" (Peng et al., arXiv 2507.05966), judged by the paper's own metric, the mean over t of ‖∇F(x_t)‖₁:
// its log-log slope against the horizon T; a d-sweep that holds F(x0) − F*, L and σ fixed; an ε sweep up to well above
// sqrt(v̂); and the same rate on a problem that violates Conditions 2–3.
// Criteria, margins, seeds and the horizons: scripts/criteria/rate.json (its hash is in the report).
//   dotnet fsi scripts/rate.fsx [--smoke | --full] [--out DIR] [--seed N]
// Writes runs/rate/{rate.csv, sweeps.csv, rate.png, sweep_d.png, sweep_eps.png, report.md}.
#load "lib/Common.fsx"
open System
open Common
open CudaAdam
open CudaAdam.Experiments.Plotting
open CudaAdam.Experiments.Problems
open CudaAdam.Experiments.Recording
open CudaAdam.Experiments.Statistics

let exp = experiment "rate"
let opts = exp.Options
let report = exp.Report
let d0 = exp.Int "d"
let horizons = exp.Ints "horizons" |> List.ofArray
let sweepT = exp.Int "sweep_T"
let dims = exp.Ints "dims" |> List.ofArray
let epsilons = exp.Floats "epsilons" |> List.ofArray
let gamma0 = exp.Float "gamma0"
let active = exp.Int "active"
let seedList = exp.Seeds |> List.ofSeq
let seeds = seedList.Length
let sigma0, sigma1, p = 0.5, 0.5, 1.0
let startRadius = 3.0

/// β1 = 1 − 1/√T, β2 = 1 − 1/T^(3/4), γ = γ0/(√d·T^(3/4)), constant over the run.
let schedule (d: int) (T: int) (eps: float) =
    let t = float T
    Hyperparameters.For(Algorithm.Adam, beta1 = 1.0 - 1.0 / sqrt t, beta2 = 1.0 - 1.0 / Math.Pow(t, 0.75), lr = gamma0 / (sqrt (float d) * Math.Pow(t, 0.75)), eps = eps)

/// A problem: the exact gradient (returns ‖∇F‖₁, ‖∇F‖₂) and a noisy sample into a float32 buffer.
type Prob = { D: int; Sample: float32[] -> float32[] -> float * float; Start: float32[] }

/// rate.fsx's problem F = Σ_j [x_j²/2 − cos 2x_j] with p-affine noise (NoisyNonconvex). Start: `activeOnly` = the first
/// `active` coordinates from U[−3, 3] (the same draw at every d) and the rest at the minimizer 0; else all from U[−3, 3].
let nonconvex (d: int) (seed: int) (activeOnly: bool) =
    let prob = NoisyNonconvex(d, sigma0, sigma1, p, seed = seed)
    let x0 =
        if activeOnly then
            let head = NoisyNonconvex(active, sigma0, sigma1, p).Start(startRadius, 7919 * seed)
            Array.init d (fun j -> if j < active then head.[j] else 0.0f)
        else prob.Start(startRadius, 7919 * seed + d)
    { D = d; Start = x0; Sample = fun x g -> let struct (l2, l1) = prob.Sample(ReadOnlySpan x, Span g) in l1, l2 }

/// Violates Conditions 2–3: F = Σ_j c_j [x_j²/2 − cos 2x_j], c_j = 10^(−4 + 4j/(d−1)) (L = 5 at j = d−1), the same
/// p-affine noise on ∇_jF: the coordinates differ in curvature by 10⁴, so u is not identically distributed over them and
/// ‖∇F‖₁/‖∇F‖₂ drifts as the stiff coordinates converge first.
let heterogeneous (d: int) (seed: int) =
    let c = Array.init d (fun j -> Math.Pow(10.0, -4.0 + 4.0 * float j / float (max 1 (d - 1))))
    let rng = Random(seed)
    let normal () = let u1, u2 = 1.0 - rng.NextDouble(), rng.NextDouble() in sqrt (-2.0 * log u1) * cos (2.0 * Math.PI * u2)
    let x0 = NoisyNonconvex(d, sigma0).Start(startRadius, 7919 * seed + d)
    { D = d; Start = x0
      Sample = fun x g ->
        let mutable s1, s2 = 0.0, 0.0
        for j in 0 .. d - 1 do
            let gj = c.[j] * (float x.[j] + 2.0 * sin (2.0 * float x.[j]))
            s1 <- s1 + abs gj; s2 <- s2 + gj * gj
            g.[j] <- float32 (gj + normal () * sqrt (sigma0 * sigma0 + sigma1 * sigma1 * abs gj ** p))
        s1, sqrt s2 }

/// One run: (G = mean_t ‖∇F(x_t)‖₁, mean_t ‖∇F‖₂, min_t ‖∇F‖₂, min/max over t > T/10 of ‖∇F‖₁/‖∇F‖₂, median sqrt(v̂) at T,
/// mean_t of Σ_{j < active} |∇_jF| (the coordinates that start away from the minimizer in the d sweep; F's gradient)).
let run (prob: Prob) (T: int) (eps: float) =
    let x = Array.copy prob.Start
    let g = Array.zeroCreate<float32> prob.D
    let hp = schedule prob.D T eps
    let st = ReferenceStepper(Algorithm.Adam, hp, prob.D)
    let mutable s1, s2, best, rmin, rmax, sa = 0.0, 0.0, Double.PositiveInfinity, Double.PositiveInfinity, 0.0, 0.0
    let na = min active prob.D
    for t in 0 .. T - 1 do
        for j in 0 .. na - 1 do sa <- sa + abs (float x.[j] + 2.0 * sin (2.0 * float x.[j]))
        let l1, l2 = prob.Sample x g
        s1 <- s1 + l1; s2 <- s2 + l2; best <- min best l2
        if t > T / 10 && l2 > 0.0 then
            rmin <- min rmin (l1 / l2); rmax <- max rmax (l1 / l2)
        st.Step(Span x, ReadOnlySpan g)
    let c = 1.0 - Math.Pow(hp.Beta2, float T)
    let sv = st.State.V |> Array.map (fun v -> sqrt (float v / c)) |> Array.sort
    s1 / float T, s2 / float T, best, rmin / rmax, Bootstrap.Quantile(sv, 0.5), sa / float T

type Row = { Sweep: string; D: int; T: int; Eps: float; Seed: int; G: float; G2: float; Min2: float; RatioSpread: float; SqrtVhat: float; GActive: float }
let jobs =
    [ for k in seedList do
        for T in horizons -> "rate", d0, T, 1e-8, k
        for T in horizons -> "heterogeneous", d0, T, 1e-8, k
        for d in dims -> "d", d, sweepT, 1e-8, k
        for e in epsilons -> "eps", d0, sweepT, e, k ]
let raw =
    exp.Run("runs", jobs, (fun (sw, d, T, e, k) -> sprintf "%s d=%d T=%d eps=%g seed=%d" sw d T e k),
        [ "sweep"; "d"; "T"; "eps"; "seed"; "beta1"; "beta2"; "lr"; "mean_grad_l1"; "mean_grad_l2"; "min_grad_l2"; "l1_over_l2_min_over_max"; "median_sqrt_vhat"; "mean_grad_l1_first_active" ],
        fun (sw, d, T, e, k) ->
            let prob = match sw with "heterogeneous" -> heterogeneous d k | "d" -> nonconvex d k true | _ -> nonconvex d k false
            let g, g2, m2, rs, sv, ga = run prob T e
            let hp = schedule d T e
            [ [| box sw; box d; box T; box e; box k; box hp.Beta1; box hp.Beta2; box hp.Lr; box g; box g2; box m2; box rs; box sv; box ga |] ])
let rows =
    [ for r in raw.Rows ->
        { Sweep = r.Str "sweep"; D = r.Int "d"; T = r.Int "T"; Eps = r.Float "eps"; Seed = r.Int "seed"; G = r.Float "mean_grad_l1"; G2 = r.Float "mean_grad_l2"
          Min2 = r.Float "min_grad_l2"; RatioSpread = r.Float "l1_over_l2_min_over_max"; SqrtVhat = r.Float "median_sqrt_vhat"; GActive = r.Float "mean_grad_l1_first_active" } ]

// ---- statistics ------------------------------------------------------------------------------------------------------
let ciText (bd: BootstrapDistribution) = let struct (lo, hi) = bd.Interval(0.95) in sprintf "%s [%s, %s]" (num bd.Estimate) (num lo) (num hi)
let boot (values: float[]) (bseed: int) = BootstrapDistribution.OfMean(values, seed = bseed)
let olsSlope (xs: float[]) (ys: float[]) =
    let mx, my = Array.average xs, Array.average ys
    Array.fold2 (fun acc x y -> acc + (x - mx) * (y - my)) 0.0 xs ys / (xs |> Array.sumBy (fun x -> (x - mx) * (x - mx)))
let of' sw = rows |> List.filter (fun r -> r.Sweep = sw)
/// Per-seed slope of log(metric) on log(x) in one sweep.
let perSeedSlope sw (x: Row -> float) (metric: Row -> float) =
    [| for k in seedList -> let rs = of' sw |> List.filter (fun r -> r.Seed = k) |> List.toArray in olsSlope (rs |> Array.map (x >> log)) (rs |> Array.map (metric >> log)) |]
let slopeCi sw x metric bseed = boot (perSeedSlope sw x metric) bseed
let rateCi = slopeCi "rate" (fun r -> float r.T) (fun r -> r.G) 1
let rate2Ci = slopeCi "rate" (fun r -> float r.T) (fun r -> r.G2) 2
let rateMinCi = slopeCi "rate" (fun r -> float r.T) (fun r -> r.Min2) 3
let hetCi = slopeCi "heterogeneous" (fun r -> float r.T) (fun r -> r.G) 4
let dCi = slopeCi "d" (fun r -> float r.D) (fun r -> r.G) 5
let d2Ci = slopeCi "d" (fun r -> float r.D) (fun r -> r.G2) 8
let dActiveCi = slopeCi "d" (fun r -> float r.D) (fun r -> r.GActive) 9
let epsMax = List.max epsilons
let epsTheta = [| for k in seedList -> let at e = (of' "eps" |> List.find (fun r -> r.Seed = k && r.Eps = e)).G in log (at epsMax / at 1e-8) |]
let epsCi = boot epsTheta 6
let epsMin2Theta = boot [| for k in seedList -> let at e = (of' "eps" |> List.find (fun r -> r.Seed = k && r.Eps = e)).Min2 in log (at epsMax / at 1e-8) |] 7

// ---- report ----------------------------------------------------------------------------------------------------------
report.Setup(sprintf "Problem: F(x) = Σ_j [x_j²/2 − cos(2x_j)] (L = 5, nonconvex, F* = −d), g_j = ∇_jF + ξ_j·sqrt(σ0² + σ1²·|∇_jF|^p), ξ ~ N(0, 1), σ0 = %g, σ1 = %g, p = %g; rate and ε sweeps: x0 ~ U[−%g, %g]^d; d sweep: the first %d coordinates from U[−%g, %g] (the same draw at every d), the rest at the minimizer 0, so F(x0) − F*, L and the per-coordinate noise are the same at every d" sigma0 sigma1 p startRadius startRadius active startRadius startRadius)
report.Setup(sprintf "Schedule for horizon T (constant during the run): β1 = 1 − 1/√T, β2 = 1 − 1/T^(3/4), γ = %g/(√d·T^(3/4)), ε = 1e-8 unless swept (γ's T-exponent is our reading; see the earlier report's note)" gamma0)
report.Setup(sprintf "Metric: G = (1/T)·Σ_{t<T} ‖∇F(x_t)‖₁ (the paper's mean over t; the exact gradient). Rate: d = %d, T ∈ {%s}; d sweep at T = %d: d ∈ {%s}; ε sweep at T = %d, d = %d: ε ∈ {%s}; seeds %s. The horizons are fixed in the criteria file." d0 (horizons |> List.map string |> String.concat ", ") sweepT (dims |> List.map string |> String.concat ", ") sweepT d0 (epsilons |> List.map (sprintf "%g") |> String.concat ", ") (seedList |> List.map string |> String.concat ", "))
report.Setup("Problem violating Conditions 2–3: F = Σ_j c_j [x_j²/2 − cos 2x_j], c_j = 10^(−4 + 4j/(d−1)) (curvatures spread over 10⁴, L = 5), the same noise, the same schedule")

report.Section("Rate")
let meanAt sw (key: Row -> bool) (f: Row -> float) = of' sw |> List.filter key |> List.averageBy f
report.Table([ "T"; "G (mean_t ‖∇F‖₁)"; "mean_t ‖∇F‖₂"; "min_t ‖∇F‖₂"; "G, Conditions 2–3 violated"; "‖∇F‖₁/‖∇F‖₂ min/max, violated" ],
    [ for T in horizons ->
        [ box T; box (meanAt "rate" (fun r -> r.T = T) (fun r -> r.G)); box (meanAt "rate" (fun r -> r.T = T) (fun r -> r.G2)); box (meanAt "rate" (fun r -> r.T = T) (fun r -> r.Min2))
          box (meanAt "heterogeneous" (fun r -> r.T = T) (fun r -> r.G)); box (meanAt "heterogeneous" (fun r -> r.T = T) (fun r -> r.RatioSpread)) ] ])
report.Text(sprintf "Per-seed log-log slopes against T (seed mean [%.0f%% CI]): G (‖∇F‖₁, the decision) %s; mean_t ‖∇F‖₂ %s; min_t ‖∇F‖₂ (the earlier metric) %s; G on the problem violating Conditions 2–3 %s. The ratio ‖∇F‖₁/‖∇F‖₂ stays within a factor %s (min/max over t > T/10, seed mean at the largest T) on the original problem and %s on the violating one." 95.0 (ciText rateCi) (ciText rate2Ci) (ciText rateMinCi) (ciText hetCi)
    (num (1.0 / meanAt "rate" (fun r -> r.T = List.max horizons) (fun r -> r.RatioSpread))) (num (1.0 / meanAt "heterogeneous" (fun r -> r.T = List.max horizons) (fun r -> r.RatioSpread))))
let hs = horizons |> List.map float |> List.toArray
Plots.Lines(opts.File "rate.png", sprintf "Adam, d = %d: the paper's metric against T (seed means)" d0, "T", "gradient norm",
    [ Series("G = mean_t ‖∇F‖₁", hs, hs |> Array.map (fun T -> meanAt "rate" (fun r -> float r.T = T) (fun r -> r.G)), Markers = true)
      Series("min_t ‖∇F‖₂ (earlier metric)", hs, hs |> Array.map (fun T -> meanAt "rate" (fun r -> float r.T = T) (fun r -> r.Min2)), Markers = true)
      Series("G, Conditions 2–3 violated", hs, hs |> Array.map (fun T -> meanAt "heterogeneous" (fun r -> float r.T = T) (fun r -> r.G)), Markers = true)
      Series("slope −1/4", hs, hs |> Array.map (fun T -> meanAt "rate" (fun r -> r.T = horizons.Head) (fun r -> r.G) * Math.Pow(T / hs.[0], -0.25)), Dashed = true) ],
    logX = true, logY = true)
report.Image("rate.png", "G and min_t ‖∇F‖ against T, log-log")

report.Section("Sweeps of d (fixed F(x0) − F*, L, σ) and ε")
report.Table([ "d"; "G"; "mean_t ‖∇F‖₂"; sprintf "mean_t Σ_{j<%d} |∇_jF| (the coordinates that start away)" active; "min_t ‖∇F‖₂" ],
    [ for d in dims -> [ box d; box (meanAt "d" (fun r -> r.D = d) (fun r -> r.G)); box (meanAt "d" (fun r -> r.D = d) (fun r -> r.G2)); box (meanAt "d" (fun r -> r.D = d) (fun r -> r.GActive)); box (meanAt "d" (fun r -> r.D = d) (fun r -> r.Min2)) ] ])
report.Text(sprintf "Slopes in d (seed mean [CI]): G (ℓ1, the decision) %s; mean_t ‖∇F‖₂ %s; the %d coordinates that start away from the minimizer alone %s. The ℓ1 norm adds the noise-driven jitter of every coordinate that starts at the minimizer; the last slope is the progress on the part of the problem that is the same at every d, which γ ∝ 1/√d slows down." (ciText dCi) (ciText d2Ci) active (ciText dActiveCi))
report.Table([ "ε"; "G"; "min_t ‖∇F‖₂"; "median sqrt(v̂) at T"; "ε / median sqrt(v̂)" ],
    [ for e in epsilons ->
        let sv = meanAt "eps" (fun r -> r.Eps = e) (fun r -> r.SqrtVhat)
        [ box e; box (meanAt "eps" (fun r -> r.Eps = e) (fun r -> r.G)); box (meanAt "eps" (fun r -> r.Eps = e) (fun r -> r.Min2)); box sv; box (e / sv) ] ])
let svAtMax = meanAt "eps" (fun r -> r.Eps = 1e-8) (fun r -> r.SqrtVhat)
report.Text(sprintf "ε_max = %g is %s × the median sqrt(v̂) (%s, at ε = 1e-8). ln(G(ε_max)/G(1e-8)) = %s; the same for min_t ‖∇F‖₂ (the earlier metric): %s." epsMax (num (epsMax / svAtMax)) (num svAtMax) (ciText epsCi) (ciText epsMin2Theta))
let da = dims |> List.map float |> List.toArray
let ea = epsilons |> List.toArray
Plots.Lines(opts.File "sweep_d.png", sprintf "d sweep at T = %d (fixed F(x0) − F*)" sweepT, "d", "G",
    [ Series("G (seed mean)", da, dims |> List.map (fun d -> meanAt "d" (fun r -> r.D = d) (fun r -> r.G)) |> List.toArray, Markers = true) ], logX = true, logY = true)
Plots.Lines(opts.File "sweep_eps.png", sprintf "ε sweep at T = %d, d = %d" sweepT d0, "ε", "gradient norm",
    [ Series("G (seed mean)", ea, epsilons |> List.map (fun e -> meanAt "eps" (fun r -> r.Eps = e) (fun r -> r.G)) |> List.toArray, Markers = true)
      Series("min_t ‖∇F‖₂", ea, epsilons |> List.map (fun e -> meanAt "eps" (fun r -> r.Eps = e) (fun r -> r.Min2)) |> List.toArray, Markers = true) ], logX = true, logY = true)
report.Image("sweep_d.png", "G against d")
report.Image("sweep_eps.png", "G and min_t ‖∇F‖ against ε")

let seedsText (v: float[]) = v |> Array.map num |> String.concat ", "
exp.EffectMean("rate", perSeedSlope "rate" (fun r -> float r.T) (fun r -> r.G), sprintf "per-seed slopes %s" (seedsText (perSeedSlope "rate" (fun r -> float r.T) (fun r -> r.G)))) |> ignore
exp.EffectMean("dimension-free", perSeedSlope "d" (fun r -> float r.D) (fun r -> r.G), sprintf "per-seed slopes in d %s; in ℓ2 %s; on the %d coordinates that start away %s" (seedsText (perSeedSlope "d" (fun r -> float r.D) (fun r -> r.G))) (ciText d2Ci) active (ciText dActiveCi)) |> ignore
exp.EffectMean("eps-free", epsTheta, sprintf "per seed %s (G ×%s at ε = %g; ε_max / median sqrt(v̂) = %s)" (seedsText epsTheta) (num (Math.Exp (Array.average epsTheta))) epsMax (num (epsMax / svAtMax))) |> ignore
exp.EffectMean("rate-without-conditions", perSeedSlope "heterogeneous" (fun r -> float r.T) (fun r -> r.G), sprintf "per-seed slopes %s" (seedsText (perSeedSlope "heterogeneous" (fun r -> float r.T) (fun r -> r.G)))) |> ignore

report.Text("How to read it: the theorem bounds the mean over t, not the minimum; the minimum keeps improving with any lucky iterate and can decrease while the mean does not (the ε sweep shows it: a large ε turns Adam into a slower, SGD-like method whose mean gradient is larger while its best iterate may be as good). 'Dimension-free' is tested at fixed F(x0) − F*, L and per-coordinate noise: every extra coordinate starts at the minimizer and only adds the noise-driven jitter that a step γ ∝ 1/√d allows; what remains is how d enters through γ.")
report.Text("Earlier verdict (README, 2026-11-23): **held** — slope of min_t ‖∇F‖ −0.431, d ratio 1.56 (max/min ≤ 2, at a horizon changed after T = 4096 failed), ε ratio 1.03 over ε ≤ 0.1. Each of those three used a metric or range the theorem does not name; this version uses the mean over t, fixed F(x0) − F*, horizons fixed before the run and ε up to above sqrt(v̂).")
finishExperiment exp
