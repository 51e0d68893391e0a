// The first layer's input gradient on vs off (issue 16): a Classifier's forward + backward at batch 128, the MLP
// 784-1000-1000-10 and the DeepOBS fmnist_2c2d CNN, OpenBLAS GEMM, medians of 5 interleaved rounds. Build first (./build.sh build).
//   dotnet fsi bench/input-gradient.fsx
#r "../src/CudaAdam.Training/bin/Release/net10.0/CudaAdam.Cuda.dll"
#r "../src/CudaAdam.Training/bin/Release/net10.0/CudaAdam.dll"
#r "../src/CudaAdam.Training/bin/Release/net10.0/CudaAdam.Training.dll"
open CudaAdam
open CudaAdam.Training
open CudaAdam.Training.Layers
open CudaAdam.Training.Models
open CudaAdam.Training.Tensors
let batch = 128
let x = Tensor.Zeros(batch, 784)
let r = Rng(3UL)
for i in 0 .. x.Data.Length - 1 do x.Data.[i] <- float32 (r.NextDouble())
let labels = Array.init batch (fun i -> byte (i % 10))
let setFirst (c: Classifier) on =
  match c.Model.Layers.[0] with
  | :? Linear as l -> l.InputGradient <- on
  | :? Conv2d as cv -> cv.InputGradient <- on
  | _ -> ()
let median (xs: float list) = let s = List.sort xs in s.[s.Length / 2]
for name, model in [ "mlp 784-1000-1000-10", ModelZoo.Mlp(784, [1000; 1000], 10, 0.0, 0.0, Rng(1UL), Rng(2UL))
                     "cnn fmnist_2c2d", ModelZoo.Cnn(28, 28, 10, Rng(1UL)) ] do
  let c = Classifier(model, null)
  let reps = if name.StartsWith "mlp" then 10 else 2
  let time on =
    setFirst c on
    let sw = System.Diagnostics.Stopwatch.StartNew()
    for _ in 1 .. reps do c.TrainBatch(x, System.ReadOnlySpan labels) |> ignore
    sw.Elapsed.TotalMilliseconds / float reps
  time true |> ignore; time false |> ignore
  let rounds = [ for _ in 1 .. 5 -> (time true, time false) ]
  let on = median (rounds |> List.map fst)
  let off = median (rounds |> List.map snd)
  printfn "%s, batch %d, forward+backward: with the first layer's input gradient %.1f ms, without %.1f ms (%.1f%% less), medians of 5 interleaved rounds" name batch on off (100.0 * (on - off) / on)
