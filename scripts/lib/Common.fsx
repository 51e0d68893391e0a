// Shared helper of the experiment scripts (#load "lib/Common.fsx").
// It references the built assemblies of src/CudaAdam.Experiments (Release); build them first with
//   ./build.sh build      or      dotnet build src/CudaAdam.Experiments -c Release
// or run a script through scripts/fsx, which builds when a source changed.
#r "../../src/CudaAdam.Experiments/bin/Release/net10.0/CudaAdam.dll"
#r "../../src/CudaAdam.Experiments/bin/Release/net10.0/CudaAdam.Training.dll"
#r "../../src/CudaAdam.Experiments/bin/Release/net10.0/CudaAdam.Experiments.dll"
#r "../../src/CudaAdam.Experiments/bin/Release/net10.0/MathNet.Numerics.dll"
#r "../../src/CudaAdam.Experiments/bin/Release/net10.0/ScottPlot.dll"
#r "../../src/CudaAdam.Experiments/bin/Release/net10.0/SkiaSharp.dll"

open System
open System.Diagnostics
open CudaAdam
open CudaAdam.Experiments.Recording

/// The repository root (this file lives in scripts/lib/).
let repoRoot = IO.Path.GetFullPath(IO.Path.Combine(__SOURCE_DIRECTORY__, "..", ".."))

/// Parses the shared flags (--smoke | --full, --out DIR, --seed N); exits with code 2 and the usage on a bad flag.
let options (script: string) =
    let args = fsi.CommandLineArgs |> Array.skip 1
    try ScriptOptions.Parse(script, repoRoot, args)
    with :? ArgumentException as e ->
        eprintfn "%s: %s" script e.Message
        exit 2

let stopwatch = Stopwatch.StartNew()

/// Writes the report, prints where everything is and the verdict line, exits 0 (a criterion that did not hold is a
/// finding, not an error).
let finish (report: Report) =
    let path = report.Save(stopwatch.Elapsed)
    printfn "%s: %s (%.1f s)" report.Title (Report.Word report.Verdict) stopwatch.Elapsed.TotalSeconds
    for c in report.Criteria do
        printfn "  - %s: %s" (Report.Word c.Outcome) c.Evidence
    printfn "report: %s" path

let num (x: float) = Report.Num x

/// Geometric grid of n integers from a to b (inclusive, distinct, ascending).
let geomInts (a: int) (b: int) (n: int) =
    [ for i in 0 .. n - 1 -> int (Math.Round(float a * Math.Pow(float b / float a, float i / float (n - 1)))) ]
    |> List.distinct

/// Least-squares fit y = c + slope·x with a two-sided confidence interval for the slope (Student t, n − 2 dof), by
/// CudaAdam.Experiments.Statistics.SlopeFit (checked against SciPy's linregress). Returns
/// (slope, intercept, lower, upper, standard error).
let slopeFit (level: float) (xs: float[]) (ys: float[]) =
    let f = CudaAdam.Experiments.Statistics.SlopeFit.Linear(xs, ys, level)
    f.Slope, f.Intercept, f.SlopeLow, f.SlopeHigh, f.SlopeStdErr

/// Runs f over items on all cores and keeps the input order.
let parallelMap (f: 'a -> 'b) (items: 'a list) : 'b list =
    items |> List.toArray |> Array.Parallel.map f |> Array.toList
