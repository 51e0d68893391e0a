namespace CudaAdam;

/// <summary>
/// The optimizer state of one parameter tensor, readable and writable by the caller (checkpoints, diagnostics).
/// Buffers are float32 like torch.optim's; the running products are float64 and feed <see cref="StepScalars"/>.
/// </summary>
/// <remarks>
/// Slot meanings, with torch.optim's state names:
/// <list type="table">
/// <item><term>Adam, AdamW, NAdam, RAdam, SignAdam</term><description>M = exp_avg, V = exp_avg_sq, VMax = max_exp_avg_sq (amsgrad)</description></item>
/// <item><term>AdaMax</term><description>M = exp_avg, V = exp_inf</description></item>
/// <item><term>SGD, Signum</term><description>M = momentum_buffer (SGD: created on the first step with momentum)</description></item>
/// <item><term>Lion</term><description>M = exp_avg</description></item>
/// <item><term>AdaGrad</term><description>V = sum</description></item>
/// <item><term>RMSProp</term><description>V = square_avg, M = momentum_buffer (momentum &gt; 0), Aux = grad_avg (centered)</description></item>
/// <item><term>AdaDelta</term><description>V = square_avg, Aux = acc_delta</description></item>
/// <item><term>SignSGD</term><description>no buffers</description></item>
/// </list>
/// </remarks>
public sealed class ParamState
{
    /// <summary>Steps this parameter has taken (torch: <c>state['step']</c>). A step without a gradient does not count.</summary>
    public long Step { get; set; }
    /// <summary>First moment / momentum buffer; see the slot table.</summary>
    public float[]? M { get; set; }
    /// <summary>Second moment / accumulator; see the slot table.</summary>
    public float[]? V { get; set; }
    /// <summary>AMSGrad's running maximum of <see cref="V"/>.</summary>
    public float[]? VMax { get; set; }
    /// <summary>RMSProp's grad_avg (centered) or AdaDelta's acc_delta.</summary>
    public float[]? Aux { get; set; }
    /// <summary>β1^t as a running product (not pow), so that a device-side step counter reproduces it exactly.</summary>
    public double Beta1Power { get; set; } = 1.0;
    /// <summary>β2^t as a running product.</summary>
    public double Beta2Power { get; set; } = 1.0;
    /// <summary>NAdam's Π_{i≤t} μ_i.</summary>
    public double MuProduct { get; set; } = 1.0;

    /// <summary>The state of a parameter of <paramref name="length"/> elements before its first step, as torch.optim creates it.</summary>
    public static ParamState Create(Algorithm algorithm, Hyperparameters hp, int length)
    {
        var s = new ParamState();
        float[] Zeros() => new float[length];
        switch (algorithm)
        {
            case Algorithm.Adam or Algorithm.AdamW or Algorithm.NAdam or Algorithm.RAdam or Algorithm.SignAdam:
                s.M = Zeros(); s.V = Zeros();
                if (hp.Amsgrad) s.VMax = Zeros();
                break;
            case Algorithm.AdaMax:
                s.M = Zeros(); s.V = Zeros();
                break;
            case Algorithm.Signum or Algorithm.Lion:
                s.M = Zeros();
                break;
            case Algorithm.Sgd:
                break; // torch creates momentum_buffer on the first step, as a copy of the gradient
            case Algorithm.AdaGrad:
                s.V = new float[length];
                Array.Fill(s.V, (float)hp.InitialAccumulatorValue);
                break;
            case Algorithm.RmsProp:
                s.V = Zeros();
                if (hp.Momentum > 0) s.M = Zeros();
                if (hp.Centered) s.Aux = Zeros();
                break;
            case Algorithm.AdaDelta:
                s.V = Zeros(); s.Aux = Zeros();
                break;
            case Algorithm.SignSgd:
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, null);
        }
        return s;
    }

    /// <summary>Which slots <see cref="Create"/> makes for <paramref name="algorithm"/> (each of the parameter's length),
    /// without allocating them: what <see cref="Optimizer"/> checks a state against on every step.</summary>
    internal static (bool M, bool V, bool VMax, bool Aux) Layout(Algorithm algorithm, Hyperparameters hp) => algorithm switch
    {
        Algorithm.Adam or Algorithm.AdamW or Algorithm.NAdam or Algorithm.RAdam or Algorithm.SignAdam => (true, true, hp.Amsgrad, false),
        Algorithm.AdaMax => (true, true, false, false),
        Algorithm.Signum or Algorithm.Lion => (true, false, false, false),
        Algorithm.Sgd or Algorithm.SignSgd => (false, false, false, false),
        Algorithm.AdaGrad => (false, true, false, false),
        Algorithm.RmsProp => (hp.Momentum > 0, true, false, hp.Centered),
        Algorithm.AdaDelta => (false, true, false, true),
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, null),
    };

    /// <summary>A deep copy (checkpoints, tests).</summary>
    public ParamState Clone() => new()
    {
        Step = Step, M = (float[]?)M?.Clone(), V = (float[]?)V?.Clone(), VMax = (float[]?)VMax?.Clone(),
        Aux = (float[]?)Aux?.Clone(), Beta1Power = Beta1Power, Beta2Power = Beta2Power, MuProduct = MuProduct,
    };

    /// <summary>The buffer torch.optim calls <paramref name="torchName"/> for <paramref name="algorithm"/>, or null.</summary>
    public float[]? ByTorchName(Algorithm algorithm, string torchName) => (algorithm, torchName) switch
    {
        (_, "exp_avg") => M,
        (Algorithm.AdaMax, "exp_inf") => V,
        (_, "exp_avg_sq") => V,
        (_, "max_exp_avg_sq") => VMax,
        (_, "momentum_buffer") => M,
        (Algorithm.AdaGrad, "sum") => V,
        (_, "square_avg") => V,
        (Algorithm.RmsProp, "grad_avg") => Aux,
        (Algorithm.AdaDelta, "acc_delta") => Aux,
        _ => null,
    };
}
