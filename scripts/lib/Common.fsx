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
    try
        let o = ScriptOptions.Parse(script, repoRoot, args)
        if o.Shard.HasValue || not (isNull o.Merge) || o.SeedCount.HasValue then
            raise (ArgumentException(sprintf "--shard, --merge and --seeds need the script on the criteria files (Experiment.Start); %s is not ported yet" script))
        o
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

// ---- issue 15: experiments on versioned criteria, effect sizes over seeds, shards ----
open CudaAdam.Experiments.Statistics

/// Starts an experiment on scripts/criteria/<script>.json: parses the flags (--smoke | --full, --out, --seed, --seeds,
/// --jobs, --shard k/n, --from, --merge), loads the criteria (sizes, seeds, margins), records provenance. A bad flag, a
/// bad criteria file or a criteria change without a version bump: one line on stderr, exit code 2.
let experiment (script: string) =
    try Experiment.Start(script, repoRoot, fsi.CommandLineArgs |> Array.skip 1)
    with
    | :? ArgumentException as e -> eprintfn "%s: %s" script e.Message; exit 2
    | :? IO.InvalidDataException as e -> eprintfn "%s: %s" script e.Message; exit 2

/// Writes the report (verdicts with Holm, raw-data hashes, provenance) and verdicts.json; prints the verdicts.
let finishExperiment (exp: Experiment) =
    let path = exp.Finish()
    let ds = exp.Report.Decisions()
    printfn "%s: %s (%.1f s)" exp.Report.Title (Report.Counts ds) stopwatch.Elapsed.TotalSeconds
    for d in ds do
        printfn "  - %s: %s, θ = %s [%s, %s]%s" d.Spec.Id (Report.Word d.Verdict) (num d.Estimate) (num d.Low) (num d.High)
            (match d.SeedsToDecide with null -> "" | s -> " — " + s)
    printfn "report: %s" path

/// The rows of a raw table whose column `col` has text value `v`.
let rowsWhere (col: string) (v: string) (t: RawTable) = t.Rows |> Seq.filter (fun r -> r.Str col = v) |> Seq.toList
