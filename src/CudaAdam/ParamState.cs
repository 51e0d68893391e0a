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
/// <item><term>Rprop</term><description>M = prev, V = step_size</description></item>
/// <item><term>ASGD</term><description>M = ax; the scalars <see cref="Eta"/> (eta) and <see cref="Mu"/> (mu)</description></item>
/// <item><term>state_bits = 8 (Adam, AdamW)</term><description>M8 = exp_avg, V8 = exp_avg_sq, block-wise 8-bit (<see cref="QuantizedBuffer"/>); M and V null</description></item>
/// <item><term>AdamW/SGD Schedule-Free</term><description>M = z (created on the first step as a copy of the parameter), V = exp_avg_sq (AdamW)</description></item>
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
    /// <summary>With <see cref="Hyperparameters.StateBits"/> = 8: the block-wise 8-bit M (exp_avg, signed map); M is then null.</summary>
    public QuantizedBuffer? M8 { get; set; }
    /// <summary>With <see cref="Hyperparameters.StateBits"/> = 8: the block-wise 8-bit V (exp_avg_sq, unsigned map); V is then null.</summary>
    public QuantizedBuffer? V8 { get; set; }
    /// <summary>β1^t as a running product (not pow), so that a device-side step counter reproduces it exactly.</summary>
    public double Beta1Power { get; set; } = 1.0;
    /// <summary>β2^t as a running product.</summary>
    public double Beta2Power { get; set; } = 1.0;
    /// <summary>NAdam's Π_{i≤t} μ_i.</summary>
    public double MuProduct { get; set; } = 1.0;
    /// <summary>ASGD's η of the NEXT step (torch's float32 <c>state['eta']</c>, so a float32 value; lr when created).
    /// A descriptor scalar slot (<see cref="AlgorithmInfo.ScalarState"/>).</summary>
    public double Eta { get; set; }
    /// <summary>ASGD's averaging weight μ of the NEXT step (torch's float32 <c>state['mu']</c>; 1 when created).</summary>
    public double Mu { get; set; } = 1.0;
    /// <summary>Schedule-Free: the largest scheduled lr so far (the reference's group <c>lr_max</c>; 0 before the first step).</summary>
    public double LrMax { get; set; }
    /// <summary>Schedule-Free: the sum of the averaging weights so far (the reference's group <c>weight_sum</c>).</summary>
    public double WeightSum { get; set; }

    /// <summary>The state of a parameter of <paramref name="length"/> elements before its first step, as torch.optim
    /// creates it: one buffer per slot of the algorithm's descriptor (<see cref="AlgorithmInfo.State"/>) kept with these
    /// hyperparameters, filled with its initial value (0 unless the slot says); a slot torch creates on the first step
    /// stays null.</summary>
    public static ParamState Create(Algorithm algorithm, Hyperparameters hp, int length)
    {
        var s = new ParamState();
        foreach (var slot in algorithm.Info().StateWith(hp))
        {
            if (slot.OnFirstStep) continue;
            if (slot.QuantizedWith(hp))
            {
                s.SetQuantized(slot.Buffer, QuantizedBuffer.Zeros(slot.Quantized!.Value, length));
                continue;
            }
            var buffer = new float[length];
            if (slot.Initial?.Invoke(hp) is { } init and not 0f) Array.Fill(buffer, init);
            s[slot.Buffer] = buffer;
        }
        foreach (var scalar in algorithm.Info().ScalarState) scalar.Set(s, scalar.Initial(hp));
        return s;
    }

    /// <summary>The buffer in <paramref name="b"/>.</summary>
    public float[]? this[StateBuffer b]
    {
        get => b switch { StateBuffer.M => M, StateBuffer.V => V, StateBuffer.VMax => VMax, _ => Aux };
        set
        {
            switch (b)
            {
                case StateBuffer.M: M = value; break;
                case StateBuffer.V: V = value; break;
                case StateBuffer.VMax: VMax = value; break;
                default: Aux = value; break;
            }
        }
    }

    /// <summary>The 8-bit buffer in <paramref name="b"/> (M8 or V8), or null (float32 state, or a buffer that has no 8-bit form).</summary>
    public QuantizedBuffer? Quantized(StateBuffer b) => b switch { StateBuffer.M => M8, StateBuffer.V => V8, _ => null };

    /// <summary>Sets the 8-bit buffer of <paramref name="b"/> (M or V only).</summary>
    public void SetQuantized(StateBuffer b, QuantizedBuffer? value)
    {
        switch (b)
        {
            case StateBuffer.M: M8 = value; break;
            case StateBuffer.V: V8 = value; break;
            default: throw new ArgumentException($"state buffer {b} has no 8-bit form (only M and V do)");
        }
    }

    /// <summary>Bytes of state buffers this state holds (float32 buffers at 4 bytes per element, 8-bit ones with their
    /// absmax values): what <see cref="Hyperparameters.StateBits"/> saves.</summary>
    public long StateBytes =>
        ((long)(M?.Length ?? 0) + (V?.Length ?? 0) + (VMax?.Length ?? 0) + (Aux?.Length ?? 0)) * sizeof(float)
        + (M8?.Bytes ?? 0) + (V8?.Bytes ?? 0);

    /// <summary>A deep copy (checkpoints, tests).</summary>
    public ParamState Clone() => new()
    {
        Step = Step, M = (float[]?)M?.Clone(), V = (float[]?)V?.Clone(), VMax = (float[]?)VMax?.Clone(),
        Aux = (float[]?)Aux?.Clone(), M8 = M8?.Clone(), V8 = V8?.Clone(),
        Beta1Power = Beta1Power, Beta2Power = Beta2Power, MuProduct = MuProduct, Eta = Eta, Mu = Mu,
        LrMax = LrMax, WeightSum = WeightSum,
    };

    /// <summary>The buffer torch.optim calls <paramref name="torchName"/> for <paramref name="algorithm"/>, or null.</summary>
    public float[]? ByTorchName(Algorithm algorithm, string torchName) =>
        algorithm.Info().State.FirstOrDefault(slot => slot.TorchName == torchName) is { } slot ? this[slot.Buffer] : null;
}
