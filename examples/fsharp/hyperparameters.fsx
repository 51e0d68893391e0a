// CudaAdam from F#: hyperparameters built from each algorithm's own defaults, copied with With, and an optimizer
// loop of your own. Fits a least-squares problem min ‖Ax − b‖²/2n with Adam, AdamW and Lion, each over a small
// learning-rate sweep made by copy-and-update, and checks that the best run of each brought the loss below 5% of
// where it started (exit 1 otherwise).
//   dotnet fsi examples/fsharp/hyperparameters.fsx        (after ./build.sh build: it references the Release build)
// From the NuGet package instead of the build: #r "nuget: CudaAdam" (with the artifacts folder as a source: #i "nuget: <dir>").
#r "../../src/CudaAdam/bin/Release/net10.0/CudaAdam.Cuda.dll"
#r "../../src/CudaAdam/bin/Release/net10.0/CudaAdam.dll"

open System
open CudaAdam

// Hyperparameters.For takes the algorithm first and reads its defaults from its descriptor; name only what changes.
// There is no Hyperparameters(Lr = …) any more: it gave every algorithm Adam's defaults (Lion's beta2 0.999, not 0.99).
let adam = Hyperparameters.For(Algorithm.Adam, lr = 1e-2)
let adamw = Hyperparameters.For(Algorithm.AdamW, lr = 1e-2)              // weight_decay 1e-2: AdamW's own default
let lion = Hyperparameters.For(Algorithm.Lion, lr = 1e-3)                // beta1 0.9, beta2 0.99: Lion's own
printfn "lion:  lr %g, beta1 %g, beta2 %g, weight_decay %g" lion.Lr lion.Beta1 lion.Beta2 lion.WeightDecay
printfn "adamw: lr %g, beta1 %g, beta2 %g, weight_decay %g" adamw.Lr adamw.Beta1 adamw.Beta2 adamw.WeightDecay

let n, d = 200, 20
let rng = Random(7)
let a = Array2D.init n d (fun _ _ -> float32 (rng.NextDouble() * 2.0 - 1.0))
let xTrue = Array.init d (fun j -> float32 (Math.Sin(float j)))
let b = Array.init n (fun i -> Seq.sum (seq { for j in 0 .. d - 1 -> a[i, j] * xTrue[j] }))

/// Loss ‖Ax − b‖²/2n and its gradient Aᵀ(Ax − b)/n, in double, rounded to float32 for the optimizer.
let lossAndGrad (x: float32[]) =
    let r = Array.init n (fun i -> float (Seq.sum (seq { for j in 0 .. d - 1 -> a[i, j] * x[j] })) - float b[i])
    let g = Array.init d (fun j -> float32 (Seq.sum (seq { for i in 0 .. n - 1 -> float a[i, j] * r[i] }) / float n))
    (Array.sumBy (fun v -> v * v) r) / (2.0 * float n), g

let train (algorithm: Algorithm) (hp: Hyperparameters) =
    let x = Parameter("x", Array.zeroCreate d)
    use opt = new Optimizer(algorithm, [ x ], hp)     // the default backend: the fast CPU step
    let first, _ = lossAndGrad x.Data
    for _ in 1 .. 300 do
        let _, g = lossAndGrad x.Data
        x.Grad <- g
        opt.Step() |> ignore
    let last, _ = lossAndGrad x.Data
    first, last

let failures =
    [ for name, algorithm, hp in [ "adam", Algorithm.Adam, adam; "adamw", Algorithm.AdamW, adamw; "lion", Algorithm.Lion, lion ] do
        // Copy-and-update: { hp with Lr = … } is F#-record syntax; Hyperparameters is a C# record, so it has With.
        let runs = [ for f in [ 0.3; 1.0; 3.0 ] -> let h = hp.With(lr = hp.Lr * f) in h.Lr, train algorithm h ]
        let bestLr, (first, best) = runs |> List.minBy (fun (_, (_, last)) -> last)
        printfn "%-6s best lr %-8g loss %.5f -> %.3g (%.2f%% of the start)" name bestLr first best (100.0 * best / first)
        if not (best < 0.05 * first) then yield sprintf "%s: the best loss %g is not below 5%% of the start %g" name best first ]

match failures with
| [] -> printfn "fsharp sample: OK"
| fs ->
    for f in fs do eprintfn "fsharp sample: FAILED: %s" f
    exit 1
