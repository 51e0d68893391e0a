using System.Globalization;
using CudaAdam.Problems;

namespace CudaAdam.Cli.Commands;

/// <summary>
/// <c>cudaadam reddi</c>: every optimizer on Reddi, Kale &amp; Kumar
/// (2018)'s counterexample (<see cref="ReddiCounterexample"/>), through the <see cref="Optimizer"/> API, with a table
/// of final x, average regret R_T/T and the literature's expectation.
/// </summary>
public sealed class ReddiCommand : ICommand
{
    public string Name => "reddi";
    public string Summary => "every optimizer on Reddi et al. (2018)'s counterexample where Adam fails: final x and regret";

    public string Usage =>
        "usage: cudaadam reddi [--steps T] [--c C] [--backend NAME]\n\n" +
        "Reddi, Kale & Kumar (2018), 'On the Convergence of Adam and Beyond', Theorem 1: f_t(x) = C*x when t mod 3 = 1,\n" +
        "else -x, on [-1, 1] (projected after each step); x* = -1. Adam with beta1 = 0, beta2 = 1/(1+C^2) goes to +1,\n" +
        "AMSGrad, SGD and AdaGrad to -1. Runs every optimizer from x0 = 1 and prints final x and R_T/T.\n\n" +
        "  --steps T       number of steps (default 30000)\n" +
        "  --c C           the constant C > 2 (default 10)\n" +
        $"  --backend NAME  {string.Join(" ", Backends.Names)} (default cpu)\n";

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var parsed = Arguments.Parse(args, ["steps", "c", "backend"], []);
        long steps = parsed.Get("steps") is { } s ? Arguments.ParseCount(s, "--steps") : 30_000;
        double c = parsed.Get("c") is { } cs ? Arguments.ParseDouble(cs, "--c") : 10;
        string backendName = parsed.Get("backend") ?? "cpu";
        if (!(c > 2) || !double.IsFinite(c)) throw new UsageException($"--c: {Invariant(c)} must be a finite number > 2 (so that x* = -1)");
        // Fail early on a bad backend name, before the table starts.
        try { Backends.Create(backendName).Dispose(); }
        catch (Exception e) when (e is ArgumentException or BackendUnavailableException) { throw new UsageException(e.Message, e); }

        var problem = new ReddiCounterexample(c);
        var inv = CultureInfo.InvariantCulture;
        stdout.WriteLine(string.Create(inv,
            $"Reddi, Kale & Kumar (2018), Theorem 1: f_t(x) = {c}x if t mod 3 = 1, else -x; x in [-1, 1] (projected); x* = -1"));
        stdout.WriteLine(string.Create(inv,
            $"T = {steps} steps from x0 = 1, backend {backendName}; Adam family: beta1 = 0, beta2 = 1/(1+C^2) = {problem.Beta2:G6}; " +
            $"lr_t = alpha/sqrt(t), alpha = {ReddiCounterexample.Alpha} (adagrad: alpha constant; adadelta: lr 1 constant)"));
        stdout.WriteLine("other settings: torch.optim defaults with weight decay 0; rmsprop alpha = 1/(1+C^2); " +
                         "lion beta1 = 0.9, beta2 = 0.99; signum momentum = 0.9");
        stdout.WriteLine(string.Create(inv,
            $"regret R_T = sum_t f_t(x_t) - min_x sum_t f_t(x); at x = +1 the average regret tends to 2(C-2)/3 = {2 * (c - 2) / 3:G4}"));
        stdout.WriteLine();
        string header = $"{"optimizer",-14} {"final x",10} {"R_T/T",10}  {"literature",-12} {"agrees",-6}";
        stdout.WriteLine(header);
        stdout.WriteLine(new string('-', header.Length));
        int disagreements = 0;
        foreach (var setup in problem.StandardSetups())
        {
            string row;
            try
            {
                using var backend = Backends.Create(backendName);
                var r = problem.Run(setup.Algorithm, setup.Hyperparameters, steps, setup.Schedule, x0: 1, backend);
                string expected = setup.Expected is { } e ? (e > 0 ? "+1" : "-1") : "-";
                string agrees = setup.Expected is { } ex ? (Math.Abs(r.FinalX - ex) < 0.1 ? "yes" : "NO") : "";
                if (agrees == "NO") disagreements++;
                row = string.Create(inv, $"{setup.Label,-14} {r.FinalX,10:F4} {r.AverageRegret,10:F4}  {expected,-12} {agrees,-6}");
            }
            catch (NotImplementedException)
            {
                row = $"{setup.Label,-14} {"(not implemented on this backend yet)",-40}";
            }
            stdout.WriteLine(row.TrimEnd());
        }
        stdout.WriteLine();
        stdout.WriteLine("literature: Reddi et al. 2018 (Theorem 1 for adam; Section 4 and Figure 1 for amsgrad; SGD and AdaGrad " +
                         "converge on this problem). 'agrees': |final x - expected| < 0.1.");
        if (disagreements > 0)
            stderr.WriteLine($"cudaadam reddi: warning: {disagreements} optimizer(s) disagree with the literature's expectation");
        return ExitCodes.Ok;

        static string Invariant(double v) => v.ToString(CultureInfo.InvariantCulture);
    }
}
