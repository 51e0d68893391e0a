// Loshchilov & Hutter, "Decoupled Weight Decay Regularization" (ICLR 2019): with decoupled weight decay (AdamW) the
// best weight decay is much less coupled to the learning rate than with Adam + L2 (the good region of the lr × wd
// heatmap is axis-aligned for AdamW, diagonal for Adam + L2), and AdamW's best result is at least as good.
//   scripts/fsx adamw [--smoke | --full] [--out DIR] [--seed N] [--seeds K] [--shard k/n]
// Criteria, sizes, seeds: scripts/criteria/adamw.json. Writes runs/adamw/{runs.csv, heatmap_<optimizer>_{loss,acc}.png,
// report.md, verdicts.json, provenance.json}.
//
// Model (v1 of the criteria file, issue 15): a *normalized* softmax regression, logits = s·Ŵx + b with Ŵ = W/‖W‖_F
// (scale-invariant in W, the property that batch or layer normalization gives the weights of a deep net and that
// makes weight decay act on the effective step lr/‖W‖²), on Fashion-MNIST 2×2-average-pooled to 14×14 = 196 features
// (1970 parameters, one flat tensor), from the 1,000-train / 500-test subset that CudaAdam.Training embeds
// (src/CudaAdam.Training/Data/Subset/*.gz), trained with a cosine lr schedule (the paper's setting) from a seeded
// random init. Small training set, many epochs: the model overfits, so the weight decay matters.
//
// Convention (the point of the experiment): torch.optim.AdamW multiplies x by (1 − lr·λ) per step, so its decay
// scales with lr. The paper's decoupling is x ← x − η_t·λ·x with η_t the schedule multiplier, independent of the
// base rate α. Our AdamW axis is therefore the paper's per-step decay λ' (constant schedule: η_t = 1), run as torch's
// AdamW with weight_decay = λ'/lr. Adam + L2's axis is torch.optim.Adam's weight_decay λ (g ← g + λx). A third grid
// runs AdamW in torch's parameterization (axis: torch's weight_decay, decay lr·wd per step), since that is the
// AdamW people use: the two AdamW grids differ only in which quantity is held fixed along the wd axis.
#load "lib/Common.fsx"
open System
open System.IO
open System.IO.Compression
open Common
open CudaAdam
open CudaAdam.Experiments.Plotting
open CudaAdam.Experiments.Problems
open CudaAdam.Experiments.Recording

let exp = experiment "adamw"
let opts = exp.Options
let gridN = exp.Int "grid"
let epochs = exp.Int "epochs"
let trainCount = exp.Int "train"
let scale = exp.Float "logit_scale"
let batch = 50
let lrs = [| for i in 0 .. gridN - 1 -> Math.Pow(10.0, -3.5 + 3.0 * float i / float (gridN - 1)) |]           // 10^-3.5 … 10^-0.5
let l2s = [| for i in 0 .. gridN - 1 -> Math.Pow(10.0, -4.0 + 4.0 * float i / float (gridN - 1)) |]           // Adam + L2: 1e-4 … 1
let decays = [| for i in 0 .. gridN - 1 -> Math.Pow(10.0, -6.0 + 4.0 * float i / float (gridN - 1)) |]        // AdamW λ': 1e-6 … 1e-2 per step
let torchWds = [| for i in 0 .. gridN - 1 -> Math.Pow(10.0, -3.0 + 4.0 * float i / float (gridN - 1)) |]      // AdamW (torch): 1e-3 … 10

// ---- data: gzip IDX (magic, dims, big-endian) ----
let subset = Path.Combine(repoRoot, "src", "CudaAdam.Training", "Data", "Subset")
let readIdx (file: string) =
    let path = Path.Combine(subset, file)
    if not (File.Exists path) then
        failwithf "%s is missing: it is part of the repository (src/CudaAdam.Training/Data/Subset); restore it with git checkout" path
    use gz = new GZipStream(File.OpenRead path, CompressionMode.Decompress)
    use ms = new MemoryStream()
    gz.CopyTo ms
    let b = ms.ToArray()
    let be i = (int b.[i] <<< 24) ||| (int b.[i + 1] <<< 16) ||| (int b.[i + 2] <<< 8) ||| int b.[i + 3]
    let nd = int b.[3]
    let dims = [| for d in 0 .. nd - 1 -> be (4 + 4 * d) |]
    dims, b.[4 + 4 * nd ..]

let side = 14
let features = side * side
let classes = 10
let load images labels count =
    let dims, px = readIdx images
    let _, lab = readIdx labels
    let n = min count dims.[0]
    let x = Array.zeroCreate<float32> (n * features)
    for s in 0 .. n - 1 do
        for r in 0 .. side - 1 do
            for c in 0 .. side - 1 do
                let at rr cc = float32 px.[s * 784 + rr * 28 + cc]
                x.[s * features + r * side + c] <- (at (2 * r) (2 * c) + at (2 * r) (2 * c + 1) + at (2 * r + 1) (2 * c) + at (2 * r + 1) (2 * c + 1)) / (4.0f * 255.0f)
    x, lab.[.. n - 1], n
let trainX, trainY, nTrain = load "train-images-idx3-ubyte.gz" "train-labels-idx1-ubyte.gz" trainCount
let testX, testY, nTest = load "t10k-images-idx3-ubyte.gz" "t10k-labels-idx1-ubyte.gz" 500

// ---- model: logits = s·Ŵ x + b, Ŵ = W/‖W‖_F; parameters [W (classes × features, row-major) | b] ----
let nParams = classes * features + classes
let nW = classes * features
/// Softmax cross-entropy over samples idx; adds the mean gradient into grad when given. Returns (mean loss, accuracy).
/// The gradient of W is s/‖W‖·(G − ⟨G, Ŵ⟩Ŵ), G the gradient with respect to the normalized weights: orthogonal to W.
let evaluate (p: float32[]) (x: float32[]) (y: byte[]) (idx: int[]) (grad: float32[] option) =
    let norm = sqrt (Array.sumBy (fun (v: float32) -> float v * float v) p.[.. nW - 1])
    let k = scale / norm
    let p = Array.init nParams (fun i -> if i < nW then float32 (float p.[i] * k) else p.[i])   // s·Ŵ | b
    let gn = match grad with Some _ -> Some (Array.zeroCreate<float32> nParams) | None -> None
    let logits = Array.zeroCreate<float> classes
    let mutable loss = 0.0
    let mutable correct = 0
    let inv = 1.0 / float idx.Length
    for s in idx do
        let o = s * features
        let mutable best = 0
        for c in 0 .. classes - 1 do
            let w = c * features
            let mutable z = float p.[classes * features + c]
            for f in 0 .. features - 1 do z <- z + float (p.[w + f] * x.[o + f])
            logits.[c] <- z
            if z > logits.[best] then best <- c
        if best = int y.[s] then correct <- correct + 1
        let mx = Array.max logits
        let mutable sum = 0.0
        for c in 0 .. classes - 1 do sum <- sum + Math.Exp (logits.[c] - mx)
        loss <- loss + (mx + log sum - logits.[int y.[s]])
        match gn with
        | Some g ->
            for c in 0 .. classes - 1 do
                let d = (Math.Exp (logits.[c] - mx) / sum - (if c = int y.[s] then 1.0 else 0.0)) * inv
                let df = float32 d
                let w = c * features
                for f in 0 .. features - 1 do g.[w + f] <- g.[w + f] + df * x.[o + f]
                g.[classes * features + c] <- g.[classes * features + c] + df
        | None -> ()
    match grad, gn with
    | Some g, Some gn ->
        // chain rule through s·W/‖W‖: dL/dW = (s/‖W‖)(G − ⟨G, Ŵ⟩Ŵ), with G = dL/d(s·Ŵ) and Ŵ = (s·Ŵ)/s
        let mutable dot = 0.0
        for i in 0 .. nW - 1 do dot <- dot + float gn.[i] * float p.[i] / scale
        for i in 0 .. nW - 1 do g.[i] <- g.[i] + float32 (k * (float gn.[i] - dot * float p.[i] / scale))
        for i in nW .. nParams - 1 do g.[i] <- g.[i] + gn.[i]
    | _ -> ()
    loss * inv, float correct / float idx.Length

type Run = { Optimizer: string; Lr: float; Wd: float; TrainLoss: float; TestLoss: float; TestAcc: float }

/// Trains from a seeded random init (W ~ N(0, 0.01²), b = 0; the same for every cell of a seed) with minibatches of
/// `batch` in a seeded order, lr_t = lr·(1 + cos(π(t−1)/T))/2 over the T steps, and evaluates at the end. The decay of
/// AdamW is lr_t·wd per step (torch), so it follows the schedule as the paper's η_t·λ does.
let train (name: string) (algorithm: Algorithm) (lr: float) (wdAxis: float) (torchWd: float) (seed: int) =
    let hp = Hyperparameters.For(algorithm, lr = lr, weightDecay = torchWd)
    let stepper = ReferenceStepper(algorithm, hp, nParams)
    let init = Training.Rng.ForStream(uint64 seed, 1UL)
    let p = Array.init nParams (fun i -> if i < nW then float32 (0.01 * init.NextNormal()) else 0.0f)
    let g = Array.zeroCreate<float32> nParams
    let rng = Random(seed)
    let order = Array.init nTrain id
    let total = epochs * ((nTrain + batch - 1) / batch)
    let mutable t = 0
    for _ in 1 .. epochs do
        rng.Shuffle order
        for b0 in 0 .. batch .. nTrain - 1 do
            Array.fill g 0 nParams 0.0f
            evaluate p trainX trainY order.[b0 .. min (b0 + batch) nTrain - 1] (Some g) |> ignore
            stepper.SetLr(lr * 0.5 * (1.0 + cos (Math.PI * float t / float total)))
            stepper.Step(p.AsSpan(), ReadOnlySpan g)
            t <- t + 1
    let trL, _ = evaluate p trainX trainY (Array.init nTrain id) None
    let teL, teA = evaluate p testX testY (Array.init nTest id) None
    { Optimizer = name; Lr = lr; Wd = wdAxis; TrainLoss = trL; TestLoss = (if Double.IsFinite teL then teL else infinity); TestAcc = teA }

/// One grid: a name for files, a label, the wd axis (its values and label) and how a cell is run.
type Grid = { Key: string; Label: string; Wds: float[]; Axis: string; Algorithm: Algorithm; TorchWd: float -> float -> float }
let grids =
    [ { Key = "adam_l2"; Label = "Adam + L2"; Wds = l2s; Axis = "log10 λ (torch.optim.Adam weight_decay, L2)"; Algorithm = Algorithm.Adam; TorchWd = fun _ wd -> wd }
      { Key = "adamw_paper"; Label = "AdamW, paper's λ'"; Wds = decays; Axis = "log10 λ' (decoupled decay per step)"; Algorithm = Algorithm.AdamW; TorchWd = fun lr wd -> wd / lr }
      { Key = "adamw_torch"; Label = "AdamW, torch's weight_decay"; Wds = torchWds; Axis = "log10 weight_decay (torch.optim.AdamW: decay lr·wd per step)"; Algorithm = Algorithm.AdamW; TorchWd = fun _ wd -> wd } ]

let jobs = [ for g in grids do for i in 0 .. gridN - 1 do for j in 0 .. gridN - 1 do for seed in exp.Seeds -> g, i, j, seed ]
let raw =
    exp.Run("runs", jobs, (fun (g, i, j, seed) -> sprintf "%s lr#%d wd#%d seed=%d" g.Key i j seed),
        [ "grid"; "optimizer"; "lr_index"; "wd_index"; "seed"; "lr"; "weight_decay_axis"; "torch_weight_decay"; "train_loss"; "test_loss"; "test_accuracy" ],
        fun (g, i, j, seed) ->
            let r = train g.Label g.Algorithm lrs.[i] g.Wds.[j] (g.TorchWd lrs.[i] g.Wds.[j]) seed
            [ [| box g.Key; box r.Optimizer; box i; box j; box seed; box r.Lr; box r.Wd; box (g.TorchWd r.Lr r.Wd); box r.TrainLoss; box r.TestLoss; box r.TestAcc |] ])
/// (grid, lr index, wd index, seed) -> run, read back from the raw table.
let bySeed =
    raw.Rows |> Seq.map (fun r ->
        (r.Str "grid", r.Int "lr_index", r.Int "wd_index", r.Int "seed"),
        { Optimizer = r.Str "optimizer"; Lr = r.Float "lr"; Wd = r.Float "weight_decay_axis"; TrainLoss = r.Float "train_loss"; TestLoss = r.Float "test_loss"; TestAcc = r.Float "test_accuracy" })
    |> dict
/// The seed-mean cell (the heatmaps and tables show it).
let runs =
    dict [ for g in grids do
             for i in 0 .. gridN - 1 do
               for j in 0 .. gridN - 1 ->
                 let rs = [ for seed in exp.Seeds -> bySeed.[(g.Key, i, j, seed)] ]
                 (g.Key, i, j), { rs.Head with TrainLoss = rs |> List.averageBy (fun r -> r.TrainLoss); TestLoss = rs |> List.averageBy (fun r -> r.TestLoss); TestAcc = rs |> List.averageBy (fun r -> r.TestAcc) } ]

/// Spearman rank correlation (average ranks for ties); 0 when either side is constant (an axis-parallel band).
let spearman (xs: float[]) (ys: float[]) =
    let ranks (v: float[]) =
        let sorted = v |> Array.mapi (fun i x -> x, i) |> Array.sortBy fst
        let r = Array.zeroCreate v.Length
        let mutable a = 0
        while a < sorted.Length do
            let mutable b = a
            while b + 1 < sorted.Length && fst sorted.[b + 1] = fst sorted.[a] do b <- b + 1
            for t in a .. b do r.[snd sorted.[t]] <- float (a + b) / 2.0
            a <- b + 1
        r
    let rx, ry = ranks xs, ranks ys
    let mx, my = Array.average rx, Array.average ry
    let sxy = Array.fold2 (fun s x y -> s + (x - mx) * (y - my)) 0.0 rx ry
    let sxx = rx |> Array.sumBy (fun x -> (x - mx) ** 2.0)
    let syy = ry |> Array.sumBy (fun y -> (y - my) ** 2.0)
    if sxx = 0.0 || syy = 0.0 then 0.0 else sxy / sqrt (sxx * syy)
/// Per lr, the grid index of the wd with the lowest test loss (cells: a lookup (grid, i, j) -> run).
let bestWdPerLrOf (cell: string * int * int -> Run) (g: Grid) = [| for i in 0 .. gridN - 1 -> [ 0 .. gridN - 1 ] |> List.minBy (fun j -> (cell (g.Key, i, j)).TestLoss) |]
/// The lr rows of the good region: those whose best test loss is within `goodFactor` of the grid's best (at least the 3 best rows).
let goodFactor = 1.25
let goodRowsOf (cell: string * int * int -> Run) (g: Grid) =
    let rowBest i = [ for j in 0 .. gridN - 1 -> (cell (g.Key, i, j)).TestLoss ] |> List.min
    let overall = [ for i in 0 .. gridN - 1 -> rowBest i ] |> List.min
    let good = [| for i in 0 .. gridN - 1 do if rowBest i <= goodFactor * overall then i |]
    if good.Length >= 3 then good else [| 0 .. gridN - 1 |] |> Array.sortBy rowBest |> Array.take 3 |> Array.sort
/// Over the good rows: ρ = Spearman correlation of lr with each lr's best wd, and the least-squares slope of log10
/// best wd on log10 lr (0 when the best wd is the same on every good row).
let couplingOf (cell: string * int * int -> Run) (g: Grid) =
    let best = bestWdPerLrOf cell g
    let rows = goodRowsOf cell g
    let x = rows |> Array.map (fun i -> Math.Log10 lrs.[i])
    let y = rows |> Array.map (fun i -> Math.Log10 g.Wds.[best.[i]])
    let slope = let s, _, _, _, _ = slopeFit 0.95 x y in s
    spearman x y, slope
let bestCellOf (cell: string * int * int -> Run) (g: Grid) = [ for i in 0 .. gridN - 1 do for j in 0 .. gridN - 1 -> cell (g.Key, i, j) ] |> List.minBy (fun r -> r.TestLoss)
let meanCell (k: string * int * int) = runs.[k]
let seedCell (seed: int) (key: string, i: int, j: int) = bySeed.[(key, i, j, seed)]
let bestWdPerLr, goodRows, coupling, bestCell = bestWdPerLrOf meanCell, goodRowsOf meanCell, couplingOf meanCell, bestCellOf meanCell
let stepsPerEpoch = (nTrain + batch - 1) / batch

let report = exp.Report
report.Setup(sprintf "Model: normalized softmax regression, logits = %g·(W/‖W‖_F)x + b (%d parameters; scale-invariant in W as the weights of a batch- or layer-normalized network are), on Fashion-MNIST 2×2-average-pooled to 14×14, %d training and %d test images of the embedded subset (src/CudaAdam.Training/Data/Subset); few training images and many epochs, so that the model overfits and the decay matters" scale nParams nTrain nTest)
report.Setup(sprintf "Training: %d epochs of minibatches of %d (%d steps), cosine lr schedule lr_t = lr·(1 + cos(π(t−1)/T))/2; seeds %s (init W ~ N(0, 0.01²) and batch order; the same for every cell of a seed); β = (0.9, 0.999), ε = 1e-8; decay applied to all parameters (bias included); the CPU reference (torch.optim semantics) through ReferenceStepper. Metric: test cross-entropy after the last step (accuracy shown too); heatmaps and tables show seed means, the criteria one value per seed" epochs batch (epochs * stepsPerEpoch) (exp.Seeds |> Seq.map string |> String.concat ", "))
report.Setup(sprintf "Grids %d × %d, lr ∈ {%s}; Adam + L2: torch.optim.Adam weight_decay λ ∈ {%s} (g ← g + λx); AdamW, paper's parameterization: per-step decay λ' ∈ {%s} (x ← x − λ'x whatever lr; constant schedule η_t = 1), run as torch.optim.AdamW with weight_decay = λ'/lr; AdamW, torch's parameterization: weight_decay ∈ {%s} (x ← x(1 − lr·wd)). Each wd axis spans 4 decades"
                 gridN gridN (lrs |> Array.map num |> String.concat ", ") (l2s |> Array.map num |> String.concat ", ") (decays |> Array.map num |> String.concat ", ") (torchWds |> Array.map num |> String.concat ", "))
report.Setup(sprintf "Coupling, over the good region's lr rows (those whose best test loss is within ×%g of the grid's best, at least the 3 best rows; the other rows are under-trained or unstable, their best wd is noise): for each lr the wd with the lowest test loss; θ = |slope| of log10 best wd on log10 lr, one per seed (0: axis-aligned; 1: the best wd moves one decade per decade of lr, a diagonal). Spearman's ρ (the v0 metric; ties and 2–3 rows made it coarse) is shown beside it for the seed-mean grid" goodFactor)

let results = [ for g in grids -> g, coupling g, bestCell g ]
for g, (rho, slope), best in results do
    let xs = lrs |> Array.map Math.Log10
    let yl = g.Wds |> Array.map Math.Log10
    // rows = wd (y), columns = lr (x)
    let loss = Array2D.init gridN gridN (fun j i -> let l = runs.[(g.Key, i, j)].TestLoss in if Double.IsFinite l then l else nan)
    let acc = Array2D.init gridN gridN (fun j i -> 100.0 * runs.[(g.Key, i, j)].TestAcc)
    let bw = bestWdPerLr g
    let overlay = [ Series("best wd per lr", xs, bw |> Array.map (fun j -> yl.[j]), Markers = true) ]
    Plots.Heatmap(opts.File(sprintf "heatmap_%s_loss.png" g.Key), sprintf "%s: test cross-entropy" g.Label, "log10 lr", g.Axis, xs, yl, loss, "test loss", overlay = overlay)
    Plots.Heatmap(opts.File(sprintf "heatmap_%s_acc.png" g.Key), sprintf "%s: test accuracy (%%)" g.Label, "log10 lr", g.Axis, xs, yl, acc, "test accuracy %")
    report.Section(g.Label)
    report.Table([ "lr \\ wd" ] @ [ for y in g.Wds -> num y ],
        [ for i in 0 .. gridN - 1 -> [ box (num lrs.[i]) ] @ [ for j in 0 .. gridN - 1 -> box (sprintf "%s / %.1f%%" (num runs.[(g.Key, i, j)].TestLoss) (100.0 * runs.[(g.Key, i, j)].TestAcc)) ] ])
    report.Text(sprintf "Cells: test loss / test accuracy (train loss in the CSV). Best wd per lr (lr ascending): %s; good rows: lr ∈ {%s}; over them ρ = %s, slope %s. Best cell: test loss %s (accuracy %.1f%%) at lr %s, wd %s."
                    (bw |> Array.map (fun j -> num g.Wds.[j]) |> String.concat ", ") (goodRows g |> Array.map (fun i -> num lrs.[i]) |> String.concat ", ") (num rho) (num slope) (num best.TestLoss) (100.0 * best.TestAcc) (num best.Lr) (num best.Wd))
    report.Image(sprintf "heatmap_%s_loss.png" g.Key, sprintf "%s: test loss over lr × wd (markers: best wd per lr)" g.Label)
    report.Image(sprintf "heatmap_%s_acc.png" g.Key, sprintf "%s: test accuracy over lr × wd" g.Label)

report.Section("Reading the heatmaps")
report.Text("Two mechanisms to keep apart when reading the rows. (a) With decoupled decay and Adam's normalized step (≈ lr per coordinate), the weights settle where decay and step balance, |W| ≈ lr/λ' = 1/wd_torch; with W normalized away from the output, |W| sets only the effective step lr/|W| of the direction Ŵ, which is the mechanism of normalized deep nets. (b) With a fixed number of steps, a small lr limits how far the weights move by itself, so the best decay at the smallest good lr tends to be the smallest on the grid, whatever the parameterization: this tilts every heatmap towards a diagonal. Loshchilov & Hutter trained CIFAR-10 ResNets (batch norm) with a cosine schedule to convergence; this model keeps the normalization and the schedule but is one layer and small. Both are readings, not tested here.")

let theta (key: string) = [| for seed in exp.Seeds -> abs (snd (couplingOf (seedCell seed) (grids |> List.find (fun g -> g.Key = key)))) |]
let perSeed (xs: float[]) = xs |> Array.map num |> String.concat ", "
let rhoOf key = let _, (rho, _), _ = results |> List.find (fun (g, _, _) -> g.Key = key) in rho
for key, id in [ "adam_l2", "l2-coupled"; "adamw_paper", "paper-decoupled"; "adamw_torch", "torch-decoupled" ] do
    let t = theta key
    exp.EffectMean(id, t, sprintf "|slope| per seed %s; seed-mean grid: ρ = %s" (perSeed t) (num (rhoOf key))) |> ignore
let ratio =
    [| for seed in exp.Seeds ->
        let best key = (bestCellOf (seedCell seed) (grids |> List.find (fun g -> g.Key = key))).TestLoss
        min (best "adamw_paper") (best "adamw_torch") / best "adam_l2" |]
exp.EffectMean("adamw-not-worse", ratio, sprintf "best AdamW / best Adam + L2 test loss per seed: %s" (perSeed ratio)) |> ignore

finishExperiment exp
