// Ours for bench/cpu_train.py: a server that times one training step (forward + backward + Adam step, batch 128)
// of the DeepOBS fmnist_2c2d CNN or the MLP 784-1000-1000-10, the way the main job runs them on the CPU: CPU layers,
// OpenBLAS GEMM, the fast CPU step (CpuSimdBackend). Reads "cnn <steps>" / "mlp <steps>" lines, answers one line of
// per-step milliseconds. Build first (./build.sh build).
#r "../src/CudaAdam.Training/bin/Release/net10.0/CudaAdam.Cuda.dll"
#r "../src/CudaAdam.Training/bin/Release/net10.0/CudaAdam.dll"
#r "../src/CudaAdam.Training/bin/Release/net10.0/CudaAdam.Training.dll"
open System
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
let make (model: Sequential) =
  let c = Classifier(model, null)
  let opt = new Optimizer(Algorithm.Adam, model.Parameters, Hyperparameters.For(Algorithm.Adam, lr = 1e-3), CudaAdam.Cpu.CpuSimdBackend())
  let step () =
    c.TrainBatch(x, ReadOnlySpan labels) |> ignore
    opt.Step() |> ignore
  step (); step ()
  step
let steps =
  dict [ "cnn", make (ModelZoo.Cnn(28, 28, 10, Rng(1UL)))
         "mlp", make (ModelZoo.Mlp(784, [ 1000; 1000 ], 10, 0.0, 0.0, Rng(1UL), Rng(2UL))) ]
let backend = CudaAdam.Cpu.CpuSimdBackend()
printfn "ready gemm=%s openblas_threads=%d step=%s" Gemm.Default.Name OpenBlasGemm.Threads backend.Description
let mutable line = Console.ReadLine()
while not (isNull line) && line <> "quit" do
  let parts = line.Split ' '
  let step = steps.[parts.[0]]
  let ms = [ for _ in 1 .. int parts.[1] -> let sw = Diagnostics.Stopwatch.StartNew() in step (); sw.Elapsed.TotalMilliseconds ]
  printfn "%s" (String.Join(" ", ms |> List.map (fun m -> m.ToString("F3", Globalization.CultureInfo.InvariantCulture))))
  line <- Console.ReadLine()
