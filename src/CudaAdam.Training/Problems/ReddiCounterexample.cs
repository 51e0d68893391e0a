namespace CudaAdam.Problems;

/// <summary>
/// The online convex problem on which Adam fails to converge: Reddi, Kale &amp; Kumar, "On the Convergence of Adam
/// and Beyond", ICLR 2018, Section 3 (Theorem 1):
/// <code>
/// f_t(x) = C·x  if t mod 3 = 1,   −x otherwise        (t = 1, 2, ...;  C &gt; 2)
/// F = [−1, 1],  x_{t+1} = Π_F(x_t − step),  x* = −1 (each block of three steps sums to (C−2)·x)
/// R_T = Σ_t f_t(x_t) − min_{x∈F} Σ_t f_t(x)
/// </code>
/// With β1 = 0, β2 = 1/(1+C²) and α_t = α/√t, Adam drifts to the worst point x = +1, where the average regret tends
/// to 2(C−2)/3 (16/3 for C = 10), while AMSGrad, SGD and AdaGrad converge to x* = −1 (R_T/T → 0).
/// </summary>
/// <remarks>
/// Runs any <see cref="Algorithm"/> through the <see cref="Optimizer"/> API on a 1-element parameter: each step sets
/// the gradient ∇f_t(x_t) and the learning rate, steps, then projects onto [−1, 1]. Projection changes x but not the
/// optimizer state, as in the paper's Π_F.
/// </remarks>
public sealed class ReddiCounterexample
{
    /// <summary>The problem with constant <paramref name="c"/> (the paper's C; it needs C &gt; 2 for x* = −1).</summary>
    public ReddiCounterexample(double c = 10)
    {
        if (!(c > 2) || !double.IsFinite(c))
            throw new ArgumentOutOfRangeException(nameof(c), c, "C must be a finite number > 2 so that x* = -1");
        Problem = ReddiOnline.Cycle3(c);
    }

    /// <summary>The slope sequence, shared with <c>cudaadam train</c>'s <c>reddi-cycle3</c> and the scripts.</summary>
    public ReddiOnline Problem { get; }
    /// <summary>The paper's C.</summary>
    public double C => Problem.C;
    /// <summary>The feasible set's bounds.</summary>
    public const double Lower = ReddiOnline.Lower, Upper = ReddiOnline.Upper;
    /// <summary>The minimizer of the average loss.</summary>
    public double Optimum => Lower;
    /// <summary>The paper's β2 = 1/(1+C²) for the Adam family (β1 = 0).</summary>
    public double Beta2 => 1 / (1 + C * C);

    /// <summary>The slope of f_t (its gradient anywhere): C when t mod 3 = 1, else −1.</summary>
    public double Slope(long t) => Problem.Slope(t);

    /// <summary>f_t(x).</summary>
    public double Loss(long t, double x) => Slope(t) * x;

    /// <summary>How a run's learning rate evolves.</summary>
    public enum Schedule
    {
        /// <summary>α_t = α/√t (Reddi et al.'s schedule).</summary>
        InverseSqrt,
        /// <summary>α_t = α: the algorithm decays its own step (AdaGrad's 1/sqrt(Σg²), AdaDelta).</summary>
        Constant,
    }

    /// <summary>The outcome of <see cref="Run"/>.</summary>
    /// <param name="FinalX">x_{T+1}.</param>
    /// <param name="Regret">R_T.</param>
    /// <param name="Steps">T.</param>
    public sealed record Result(double FinalX, double Regret, long Steps)
    {
        /// <summary>R_T / T.</summary>
        public double AverageRegret => Steps == 0 ? 0 : Regret / Steps;
    }

    /// <summary>
    /// Plays <paramref name="steps"/> rounds with <paramref name="algorithm"/>: at round t the learner plays x_t, suffers
    /// f_t(x_t), receives ∇f_t, and the optimizer (lr per <paramref name="schedule"/> from <paramref name="hp"/>.Lr = α)
    /// steps, followed by projection onto [−1, 1].
    /// </summary>
    public Result Run(Algorithm algorithm, Hyperparameters hp, long steps, Schedule schedule, double x0 = 1,
        IStepBackend? backend = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        if (x0 < Lower || x0 > Upper) throw new ArgumentOutOfRangeException(nameof(x0), x0, "x0 must lie in [-1, 1]");
        var x = new Parameter("x", [(float)x0]);
        var group = new ParamGroup([x], hp);
        using var opt = new Optimizer(algorithm, [group], backend);
        double loss = 0, slopeSum = 0;
        var grad = new float[1];
        for (long t = 1; t <= steps; t++)
        {
            double slope = Slope(t);
            loss += slope * x.Data[0];
            slopeSum += slope;
            grad[0] = (float)slope;
            x.Grad = grad;
            if (schedule == Schedule.InverseSqrt)
                group.Hyperparameters = hp with { Lr = hp.Lr / Math.Sqrt(t) };
            opt.Step();
            Problem.Project(x.Data);
        }
        // min over [−1, 1] of the linear function x·Σ slopes.
        double best = -Math.Abs(slopeSum);
        return new Result(x.Data[0], loss - best, steps);
    }

    /// <summary>One row of the standard comparison: what runs, with which settings, and what the literature expects.</summary>
    /// <param name="Label">The optimizer's name, with <c>+amsgrad</c> for AMSGrad.</param>
    /// <param name="Algorithm">What runs.</param>
    /// <param name="Hyperparameters">Its settings; <c>Lr</c> is the base rate α.</param>
    /// <param name="Schedule">How lr evolves from α.</param>
    /// <param name="Expected">The final x the literature predicts, or null where it makes no claim.</param>
    /// <param name="Source">Where the prediction comes from.</param>
    public sealed record Setup(string Label, Algorithm Algorithm, Hyperparameters Hyperparameters, Schedule Schedule,
        double? Expected, string? Source);

    /// <summary>The base learning rate α of <see cref="StandardSetups"/> (lr_t = α/√t, or α for self-decaying algorithms).</summary>
    public const double Alpha = 0.1;

    /// <summary>
    /// Every algorithm of <see cref="AlgorithmNames.All"/>, plus Adam with AMSGrad, on this problem: torch's defaults
    /// except weight decay 0, lr α = <see cref="Alpha"/>, and for the Adam family β1 = 0, β2 = 1/(1+C²) as in Reddi et
    /// al. (RMSProp: α_rms = 1/(1+C²), the same second moment). AdaGrad and AdaDelta keep a constant lr (AdaGrad's
    /// 1/sqrt(Σg²) is already Reddi's α/√t normalization; AdaDelta has lr 1 by design); all others use α/√t.
    /// Lion keeps its own β1 = 0.9, β2 = 0.99, Signum its momentum 0.9.
    /// </summary>
    public IReadOnlyList<Setup> StandardSetups()
    {
        const string reddi = "Reddi et al. 2018";
        var list = new List<Setup>();
        foreach (var a in AlgorithmNames.All)
        {
            var hp = Hyperparameters.Defaults(a) with { WeightDecay = 0, Lr = Alpha };
            var schedule = Schedule.InverseSqrt;
            if (a is Algorithm.Adam or Algorithm.AdamW or Algorithm.AdaMax or Algorithm.NAdam or Algorithm.RAdam or Algorithm.SignAdam)
                hp = hp with { Beta1 = 0, Beta2 = Beta2 };
            if (a is Algorithm.RmsProp) hp = hp with { Alpha = Beta2 };
            if (a is Algorithm.AdaGrad) schedule = Schedule.Constant;
            if (a is Algorithm.AdaDelta) { hp = hp with { Lr = 1.0 }; schedule = Schedule.Constant; }
            double? expected = a switch
            {
                Algorithm.Adam => Upper,
                Algorithm.Sgd or Algorithm.AdaGrad => Lower,
                _ => null,
            };
            list.Add(new Setup(a.Name(), a, hp, schedule, expected, expected is null ? null : reddi));
            if (a is Algorithm.Adam)
                list.Add(new Setup("adam+amsgrad", a, hp with { Amsgrad = true }, schedule, Lower, reddi));
        }
        return list;
    }
}
