using System.Globalization;
using System.Text;
using CudaAdam.IO;
using CudaAdam.Training.Data;

namespace CudaAdam.Training.Jobs;

/// <summary>The run folder's metrics CSVs, PNG plots (ScottPlot, headless) and markdown summary.</summary>
internal static class Reports
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>steps.csv (optimizer, step, epoch, lr, loss, wall_s) and epochs.csv (epoch 0 = before training).</summary>
    public static IEnumerable<string> WriteCsv(string folder, IReadOnlyList<OptimizerRun> runs)
    {
        var s = new StringBuilder("optimizer,step,epoch,lr,loss,wall_s\n");
        foreach (var r in runs)
        foreach (var x in r.Steps)
            s.Append(string.Create(Inv, $"{r.Config.Id},{x.Step},{x.Epoch},{x.Lr:R},{x.Loss:R},{x.WallSeconds:F4}\n"));
        AtomicFile.WriteAllText(Path.Combine(folder, "steps.csv"), s.ToString());
        var e = new StringBuilder("optimizer,epoch,step,train_loss,train_accuracy,test_loss,test_accuracy,wall_s\n");
        foreach (var r in runs)
        foreach (var x in r.Epochs)
            e.Append(string.Create(Inv,
                $"{r.Config.Id},{x.Epoch},{x.Step},{x.TrainLoss:R},{x.TrainAccuracy:R},{x.TestLoss:R},{x.TestAccuracy:R},{x.WallSeconds:F4}\n"));
        AtomicFile.WriteAllText(Path.Combine(folder, "epochs.csv"), e.ToString());
        return ["steps.csv", "epochs.csv"];
    }

    /// <summary>Reads back what <see cref="WriteCsv"/> wrote, by optimizer label (for <see cref="TrainJob.Resume"/>).
    /// Missing files give an empty result.</summary>
    /// <exception cref="ConfigException">A row does not parse; names the file and line.</exception>
    public static Dictionary<string, (List<StepRecord> Steps, List<EpochRecord> Epochs)> ReadCsv(string folder)
    {
        var result = new Dictionary<string, (List<StepRecord>, List<EpochRecord>)>(StringComparer.Ordinal);
        Read("steps.csv", 6, f => result.Get(f[0]).Steps.Add(
            new StepRecord(long.Parse(f[1], Inv), int.Parse(f[2], Inv), D(f[3]), D(f[4]), D(f[5]))));
        Read("epochs.csv", 8, f => result.Get(f[0]).Epochs.Add(
            new EpochRecord(int.Parse(f[1], Inv), long.Parse(f[2], Inv), D(f[3]), D(f[4]), D(f[5]), D(f[6]), D(f[7]))));
        return result;

        static double D(string s) => double.Parse(s, NumberStyles.Float, Inv);

        void Read(string file, int fields, Action<string[]> add)
        {
            string path = Path.Combine(folder, file);
            if (!File.Exists(path)) return;
            var lines = SafeFile.ReadAllText(path, 1L << 30).ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
            for (int i = 1; i < lines.Length; i++)
            {
                var f = lines[i].Split(',');
                try
                {
                    if (f.Length != fields) throw new FormatException($"{f.Length} fields, expected {fields}");
                    add(f);
                }
                catch (FormatException e) { throw new ConfigException($"{path}, line {i + 1}: {e.Message}", e); }
            }
        }
    }

    private static (List<StepRecord> Steps, List<EpochRecord> Epochs) Get(
        this Dictionary<string, (List<StepRecord>, List<EpochRecord>)> d, string label)
    {
        if (!d.TryGetValue(label, out var v)) d[label] = v = ([], []);
        return v;
    }

    /// <summary>Whether the job's model reports an accuracy (every model but the VAE).</summary>
    public static bool HasAccuracy(TrainConfig config) => config.Model.Kind != "vae";

    /// <summary>The loss's name in reports.</summary>
    public static string LossName(TrainConfig config) => HasAccuracy(config) ? "training loss" : "training -ELBO (nats)";

    /// <summary>y[i] replaced by the mean of y[max(0, i − window + 1) .. i]: a trailing running mean (the first values
    /// average what there is).</summary>
    internal static double[] TrailingMean(double[] y, int window)
    {
        var result = new double[y.Length];
        double sum = 0;
        for (int i = 0; i < y.Length; i++)
        {
            sum += y[i];
            if (i >= window) sum -= y[i - window];
            result[i] = sum / Math.Min(i + 1, window);
        }
        return result;
    }

    /// <summary>loss_vs_step.png, loss_vs_time.png, and test_accuracy.png (classifiers) or test_loss.png (the VAE:
    /// test −ELBO per epoch). The minibatch losses are drawn as a trailing mean over 1/50 of the run.</summary>
    public static IEnumerable<string> WritePlots(string folder, TrainConfig config, IReadOnlyList<OptimizerRun> runs)
    {
        string title = config.Name;
        string loss = LossName(config);
        string noise = HasAccuracy(config) ? "dropout on" : "one noise sample per image";
        // Minibatch losses are noisy enough to hide the differences between optimizers: plot their trailing mean.
        int window = Math.Max(1, runs.Max(r => r.Steps.Count) / 50);
        string smoothed = window > 1 ? $", mean of the last {window} steps" : "";
        Save("loss_vs_step.png", $"{title}: {loss} (minibatch, {noise}{smoothed})", "step", loss, ScottPlot.Alignment.UpperRight,
            runs.Select(r => (r.Config.Id, r.Steps.Select(s => (double)s.Step).ToArray(), TrailingMean(r.Steps.Select(s => s.Loss).ToArray(), window))));
        Save("loss_vs_time.png", $"{title}: {loss} vs wall-clock ({noise}{smoothed})", "wall-clock time (s)", loss, ScottPlot.Alignment.UpperRight,
            runs.Select(r => (r.Config.Id, r.Steps.Select(s => s.WallSeconds).ToArray(), TrailingMean(r.Steps.Select(s => s.Loss).ToArray(), window))));
        if (config.Model.IsProblem)
        {
            Save("objective.png", $"{title}: F(x) at each epoch's end (epoch 0: x0)", "epoch", "F(x)", ScottPlot.Alignment.UpperRight,
                runs.Select(r => (r.Config.Id, r.Epochs.Select(e => (double)e.Epoch).ToArray(), r.Epochs.Select(e => e.TestLoss).ToArray())), integerX: true);
            return ["loss_vs_step.png", "loss_vs_time.png", "objective.png"];
        }
        if (!HasAccuracy(config))
        {
            // From epoch 1: the loss at initialization (≈ 543 nats) would squeeze the differences into a few pixels.
            Save("test_loss.png", $"{title}: test -ELBO (nats per image, fixed evaluation noise)", "epoch", "test -ELBO (nats)",
                ScottPlot.Alignment.UpperRight,
                runs.Select(r => (r.Config.Id, r.Epochs.Where(e => e.Epoch > 0).Select(e => (double)e.Epoch).ToArray(),
                    r.Epochs.Where(e => e.Epoch > 0).Select(e => e.TestLoss).ToArray())), integerX: true);
            return ["loss_vs_step.png", "loss_vs_time.png", "test_loss.png"];
        }
        // From epoch 1: the accuracy before training (~10%) would squeeze the differences that matter into a few pixels.
        Save("test_accuracy.png", $"{title}: test accuracy (dropout off)", "epoch", "test accuracy (%)", ScottPlot.Alignment.LowerRight,
            runs.Select(r => (r.Config.Id, r.Epochs.Where(e => e.Epoch > 0).Select(e => (double)e.Epoch).ToArray(),
                r.Epochs.Where(e => e.Epoch > 0).Select(e => 100 * e.TestAccuracy).ToArray())), integerX: true);
        return ["loss_vs_step.png", "loss_vs_time.png", "test_accuracy.png"];

        void Save(string file, string plotTitle, string xLabel, string yLabel, ScottPlot.Alignment legend,
            IEnumerable<(string Label, double[] X, double[] Y)> series, bool integerX = false)
        {
            var plt = new ScottPlot.Plot();
            var all = series.ToArray();
            var styles = Styles(all);
            ScottPlot.LinePattern[] patterns = [ScottPlot.LinePattern.Solid, ScottPlot.LinePattern.Dashed, ScottPlot.LinePattern.Dotted];
            for (int i = 0; i < all.Length; i++)
            {
                var (_, x, y) = all[i];
                var line = plt.Add.Scatter(x, y);
                line.LegendText = styles[i].Legend;
                line.MarkerSize = x.Length > 50 ? 0 : 5;
                line.LineWidth = styles[i].Copy == 0 ? 1.5f : 2.5f;
                line.LinePattern = patterns[styles[i].Copy % patterns.Length];
            }
            plt.Title(plotTitle);
            plt.XLabel(xLabel);
            plt.YLabel(yLabel);
            plt.ShowLegend(legend);
            if (integerX) plt.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
            AtomicFile.WriteAllBytes(Path.Combine(folder, file), plt.GetImageBytes(1000, 600, ScottPlot.ImageFormat.Png));
        }
    }

    /// <summary>
    /// How each curve of a plot is told apart from an identical one (adam and signadam are the same step bit for bit, so
    /// their curves coincide and the later one would hide the earlier): a curve whose points equal an earlier curve's
    /// exactly is copy 1, 2, … of it (drawn dashed, then dotted, wider, over the solid original) and its legend says
    /// <c>"signadam ≡ adam"</c>; every other curve is copy 0 with its own label.
    /// </summary>
    internal static (string Legend, int Copy)[] Styles(IReadOnlyList<(string Label, double[] X, double[] Y)> series)
    {
        var result = new (string, int)[series.Count];
        for (int i = 0; i < series.Count; i++)
        {
            int first = -1, copies = 0;
            for (int j = 0; j < i; j++)
                if (series[j].X.AsSpan().SequenceEqual(series[i].X) && series[j].Y.AsSpan().SequenceEqual(series[i].Y))
                {
                    if (first < 0) first = j;
                    copies++;
                }
            result[i] = first < 0 ? (series[i].Label, 0) : ($"{series[i].Label} ≡ {series[first].Label}", copies);
        }
        return result;
    }

    private static string LoadAverage()
    {
        try { return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return "unknown"; }
    }

    /// <summary>summary.md of a problem run: the setup and per optimizer F(x) at the end, its gap to F*, the best epoch.</summary>
    public static string WriteProblemSummary(string folder, TrainConfig config, Problems.IStochasticProblem problem, int stepsPerEpoch,
        IReadOnlyList<OptimizerRun> runs)
    {
        var s = new StringBuilder();
        double fStar = problem.OptimalLoss ?? double.NaN;
        s.Append($"# {config.Name}\n\n");
        s.Append($"- problem: `{problem.Name}`: {problem.Description}\n");
        s.Append(string.Create(Inv,
            $"- training: {config.Training.Epochs} epochs of {stepsPerEpoch} steps, minibatch B = {config.Training.BatchSize}, schedule {TrainJob.DescribeSchedule(config.Schedule)}, " +
            $"seed {config.Training.Seed} (the same generator stream for every optimizer: same minibatch order; the noise draws coincide only while they do not depend on x), backend {config.Backend}\n"));
        s.Append("- train loss: mean minibatch loss over the epoch; F(x): the problem's objective (quadratic_deep: the test-set loss; " +
                 "the synthetic problems: the exact expected loss) at the epoch's end, after projection where the problem has a feasible set\n");
        s.Append(string.Create(Inv, $"- F* = {(double.IsNaN(fStar) ? "unknown" : fStar.ToString("G6", Inv))}; F(x0) = {runs[0].Epochs[0].TestLoss:G6}\n"));
        s.Append($"- wall-clock: training steps only; load average at the end: {LoadAverage()} on {Environment.ProcessorCount} cores\n\n");
        s.Append("| optimizer | hyperparameters | final train loss | final F(x) | F(x) − F* | best F(x) (epoch) | wall-clock (s) |\n");
        s.Append("|---|---|---:|---:|---:|---:|---:|\n");
        foreach (var r in runs)
        {
            var f = r.Final;
            var b = r.Epochs.Where(e => e.Epoch > 0 && !double.IsNaN(e.TestLoss)).DefaultIfEmpty(r.Epochs[0]).MinBy(e => e.TestLoss)!;
            string final = r.DivergedAt is { } step
                ? FormattableString.Invariant($"**diverged at step {step}** ({r.DivergedBecause}) | | ")
                : string.Create(Inv, $"{f.TrainLoss:G6} | {f.TestLoss:G6} | {f.TestLoss - fStar:G4} | ");
            s.Append(string.Create(Inv,
                $"| {r.Config.Id} | {TrainJob.DescribeHyperparameters(r.Config)} | {final}{b.TestLoss:G6} ({b.Epoch}) | {f.WallSeconds:F2} |\n"));
        }
        var finite = runs.Where(r => r.DivergedAt is null && double.IsFinite(r.Final.TestLoss)).ToList();
        if (finite.Count > 0)
        {
            var best = finite.MinBy(r => r.Final.TestLoss)!;
            s.Append(string.Create(Inv, $"\nLowest final F(x): **{best.Config.Id}** ({best.Final.TestLoss:G6}). "));
        }
        s.Append("One seed, one run per optimizer, each at its configured lr: a comparison at untuned rates (scripts/deepobs.fsx tunes lr over a grid with several seeds).\n");
        foreach (var r in runs)
        foreach (var w in r.Warnings)
            s.Append($"\n> {r.Config.Id}: {w}\n");
        s.Append("\n## Plots\n\n![minibatch loss vs step](loss_vs_step.png)\n\n![minibatch loss vs wall-clock](loss_vs_time.png)\n\n![F(x) per epoch](objective.png)\n");
        s.Append("\n## Files\n\n- `config.json`: the resolved config (`cudaadam train config.json` repeats the run)\n" +
                 "- `steps.csv`: optimizer, step, epoch, lr, minibatch loss, wall-clock seconds\n" +
                 "- `epochs.csv`: per epoch (0 = x0): mean train loss, F(x) as test_loss (accuracy columns NaN)\n");
        AtomicFile.WriteAllText(Path.Combine(folder, "summary.md"), s.ToString());
        return "summary.md";
    }

    /// <summary>summary.md: the setup and a table of final and best numbers per optimizer.</summary>
    public static string WriteSummary(string folder, TrainConfig config, Dataset train, Dataset test, string model, IReadOnlyList<OptimizerRun> runs,
        string? backend = null)
    {
        var s = new StringBuilder();
        s.Append($"# {config.Name}\n\n");
        s.Append(string.Create(Inv, $"- data: {train.Name}, {train.Count} training / {test.Count} test images\n"));
        s.Append($"- model: {model}\n");
        s.Append(string.Create(Inv,
            $"- training: {config.Training.Epochs} epochs, minibatch {config.Training.BatchSize}, schedule {TrainJob.DescribeSchedule(config.Schedule)}{TrainJob.DescribeClipping(config)}, " +
            $"seed {config.Training.Seed} (same initial weights, minibatches and {(HasAccuracy(config) ? "dropout masks" : "reparameterization noise")} for every optimizer), backend {backend ?? config.Backend}\n"));
        bool acc = HasAccuracy(config);
        s.Append(acc
            ? "- loss: softmax cross-entropy; train loss is the mean over the epoch's minibatches with dropout on; test numbers with dropout off\n"
            : "- loss: the negative ELBO per image in nats (Bernoulli reconstruction of the pixel intensities + KL to N(0, I)), a " +
              "single-sample estimate; train -ELBO is the mean over the epoch's minibatches (seeded training noise), test -ELBO " +
              "uses a fixed evaluation noise stream, the same for every epoch and optimizer; there is no accuracy\n");
        s.Append("- wall-clock: time in training steps only (no evaluation or checkpoints), optimizers run one after another on this machine; " +
                 $"the first one also pays the JIT warm-up. Load average at the end: {LoadAverage()} on {Environment.ProcessorCount} cores " +
                 "(a load above the core count makes wall-clock comparisons meaningless)\n\n");
        if (acc)
        {
            s.Append("| optimizer | hyperparameters | final train loss | final test loss | final test acc | best test acc (epoch) | wall-clock (s) |\n");
            s.Append("|---|---|---:|---:|---:|---:|---:|\n");
            foreach (var r in runs)
            {
                var f = r.Final;
                var b = r.Best;
                if (r.DivergedAt is { } step)
                {
                    s.Append(string.Create(Inv,
                        $"| {r.Config.Id} | {TrainJob.DescribeHyperparameters(r.Config)} | **diverged at step {step}** ({r.DivergedBecause}) | | | " +
                        $"{100 * b.TestAccuracy:F2}% ({b.Epoch}) | {f.WallSeconds:F1} |\n"));
                    continue;
                }
                s.Append(string.Create(Inv,
                    $"| {r.Config.Id} | {TrainJob.DescribeHyperparameters(r.Config)} | {f.TrainLoss:F4} | {f.TestLoss:F4} | {100 * f.TestAccuracy:F2}% | " +
                    $"{100 * b.TestAccuracy:F2}% ({b.Epoch}) | {f.WallSeconds:F1} |\n"));
            }
            if (runs.Where(r => r.DivergedAt is null).MaxBy(r => r.Final.TestAccuracy) is { } best)
                s.Append(string.Create(Inv, $"\nHighest final test accuracy: **{best.Config.Id}** ({100 * best.Final.TestAccuracy:F2}%). "));
            else
                s.Append("\nEvery optimizer diverged. ");
            s.Append(string.Create(Inv, $"Test accuracy before training: {100 * runs[0].Epochs[0].TestAccuracy:F2}%.\n"));
            s.Append("One seed, one run per optimizer: differences of a few tenths of a percent are within seed-to-seed noise.\n");
        }
        else
        {
            s.Append("| optimizer | hyperparameters | final train -ELBO | final test -ELBO | best test -ELBO (epoch) | wall-clock (s) |\n");
            s.Append("|---|---|---:|---:|---:|---:|\n");
            foreach (var r in runs)
            {
                var f = r.Final;
                var b = r.Best;
                string final = r.DivergedAt is { } step
                    ? string.Create(Inv, $"**diverged at step {step}** ({r.DivergedBecause}) | ")
                    : string.Create(Inv, $"{f.TrainLoss:F3} | {f.TestLoss:F3}");
                s.Append(string.Create(Inv,
                    $"| {r.Config.Id} | {TrainJob.DescribeHyperparameters(r.Config)} | {final} | {b.TestLoss:F3} ({b.Epoch}) | {f.WallSeconds:F1} |\n"));
            }
            if (runs.Where(r => r.DivergedAt is null).MinBy(r => double.IsNaN(r.Final.TestLoss) ? double.PositiveInfinity : r.Final.TestLoss) is { } best)
                s.Append(string.Create(Inv, $"\nLowest final test -ELBO: **{best.Config.Id}** ({best.Final.TestLoss:F3} nats). "));
            else
                s.Append("\nEvery optimizer diverged. ");
            s.Append(string.Create(Inv, $"Test -ELBO before training: {runs[0].Epochs[0].TestLoss:F3} nats (784 ln 2 = {784 * Math.Log(2):F1} for logits 0).\n"));
            s.Append("One seed, one run per optimizer: small differences are within seed-to-seed noise.\n");
        }
        foreach (var r in runs)
        foreach (var w in r.Warnings)
            s.Append($"\n> {r.Config.Id}: {w}\n");
        s.Append("\n## Plots\n\n![training loss vs step](loss_vs_step.png)\n\n![training loss vs wall-clock](loss_vs_time.png)\n\n" +
                 (acc ? "![test accuracy](test_accuracy.png)\n" : "![test -ELBO](test_loss.png)\n"));
        s.Append("\n## Files\n\n- `config.json`: the resolved config (`cudaadam train config.json` repeats the run)\n" +
                 "- `steps.csv`: optimizer, step, epoch, lr, minibatch loss, wall-clock seconds\n" +
                 (acc ? "- `epochs.csv`: per epoch (0 = before training): train loss/accuracy, test loss/accuracy\n"
                       : "- `epochs.csv`: per epoch (0 = before training): train and test -ELBO (the accuracy columns are NaN: no accuracy)\n"));
        if (config.Training.Checkpoints) s.Append("- `checkpoints/<optimizer>.ckpt`: model, optimizer state and RNG state after the last epoch\n");
        AtomicFile.WriteAllText(Path.Combine(folder, "summary.md"), s.ToString());
        return "summary.md";
    }
}
