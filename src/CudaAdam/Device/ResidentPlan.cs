#pragma warning disable CS1591 // CS1591 backlog (issue 13): 9 public members here have no XML doc yet; document them, then delete this line
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CudaAdam.Cuda;
using CudaAdam.Cuda.Driver;
using CudaAdam.Diagnostics;

namespace CudaAdam.Device;

/// <summary>The per-tensor device clock: the C# twin of <c>struct CaClock</c> in <c>kernels/clock.cu</c> (104 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Size = 104)]
public struct CaClock
{
    public long Step;
    public double Beta1Power, Beta2Power, Beta1, Beta2, WeightDecay, LrDecay;
    public double LrMax, WeightSum, WarmupSteps, R, WeightLrPower;
    public int Group;
    public int Kind;
}

/// <summary>
/// The device-resident mode of <see cref="DeviceBackend"/> (<see cref="Residency.Device"/>): parameters, gradients,
/// state, the step counters, the running products β1^t, β2^t and the learning rates all live in device memory, so a
/// step needs no host copy of the tensors and its launches take no per-step argument; with
/// <see cref="DeviceBackendOptions.CaptureGraph"/> on a CUDA device the whole step is captured in a CUDA graph once and
/// replayed (torch's <c>capturable</c>).
/// </summary>
/// <remarks>
/// <para>One step is: reset the skip flag (a memset), the non-finite check (<c>grad_nonfinite_check</c>) or, with
/// clipping, <c>grad_norm_partial</c> + <c>grad_clip_finalize</c>; <c>step_clock</c> (kernels/clock.cu: advances the
/// clocks in double exactly as <see cref="StepScalars.Advance"/> and writes the float scalars exactly as
/// <see cref="KernelScalars.Pack"/>, unless the step is skipped); with per-tensor norms (<see cref="AlgorithmInfo.TensorNorms"/>)
/// the algorithm's partial kernel over the 4,096-element piece table and <c>tensor_norms_finalize</c> (reading this step's
/// clocked scalars and the group's lr from the device, writing the trust slots); the fused step kernel. So a captured, replayed step
/// is bitwise an uncaptured one, and both are bitwise the host-resident engine and the CPU reference with the same
/// learning rates (the conformance registry runs every applicable case on all of them).</para>
/// <para>What a graph freezes: the set of tensors (all of them step every time), the hyperparameters other than lr
/// (lr is a device write, <see cref="SetLr"/>); the step contract (inv_scale, clipping, non-finite policy) is part of
/// the capture key: changing it re-captures on the next step.</para>
/// <para>Not supported: an algorithm without a device clock (NAdam: its momentum schedule needs pow, not correctly
/// rounded on the GPU), stochastic rounding (per-step keys).</para>
/// </remarks>
internal sealed class ResidentPlan : IDisposable
{
    /// <summary><c>CA_CLOCK_NO_BIAS_CORRECTION</c> of kernels/clock.cu, OR-ed into the kind: bias correction off.</summary>
    private const int ClockNoBiasCorrection = 0x100;
    private const int Epoch = 1;

    private readonly IDevice _device;
    private readonly DeviceBackendOptions _options;
    private readonly Parameter[] _params;
    private readonly Hyperparameters[] _groupHp;
    private readonly int[] _groupOf;
    private readonly long[] _offsets;
    private readonly Dictionary<Parameter, int> _index = new(ReferenceEqualityComparer.Instance);
    private readonly KernelArgs _args = new();
    private readonly DeviceBuffer<float>? _p, _m, _v, _vmax, _aux;
    private readonly DeviceBuffer<float> _g;
    private readonly DeviceBuffer<ushort>? _lp;
    private readonly DeviceBuffer<CaTensor> _tensorTable;
    private readonly DeviceBuffer<CaChunk> _chunkTable;
    private readonly DeviceBuffer<CaClock> _clocks;
    private readonly DeviceBuffer<double> _lrs, _partials, _norm;
    private readonly DeviceBuffer<float> _coef;
    private readonly DeviceBuffer<int> _flag, _scratchFlag;
    private readonly DeviceBuffer<long> _counters;
    private readonly Kernel _stepKernel, _clockKernel, _checkKernel, _normKernel, _finalizeKernel;
    private readonly int _chunkCount;
    private readonly bool _hasM, _hasV, _hasVMax, _hasAux;
    private CudaGraph? _graph;
    private StepContract _captured, _last;
    private readonly double[] _lr;
    private bool _disposed;
    private readonly FusedSignDiagnostics? _diag;
    private bool _stepped;
    // Per-tensor norms (AlgorithmInfo.TensorNorms): piece table, norms table, partials, sums; null without.
    private readonly DeviceBuffer<CaChunk>? _pieceTable;
    private readonly DeviceBuffer<CaNormTensor>? _normTable;
    private readonly DeviceBuffer<double>? _normPartials, _normSums;
    private readonly Kernel? _normsKernel, _normsFinalizeKernel;
    private readonly int _pieceCount;

    /// <summary>Places every parameter of <paramref name="groups"/> on <paramref name="device"/>, uploads its values,
    /// and creates its state as <see cref="ParamState.Create"/> does (zeros; AdaGrad's initial accumulator).</summary>
    /// <exception cref="NotSupportedException">No device clock (NAdam), stochastic rounding, or diagnostics for an algorithm without them.</exception>
    public ResidentPlan(IDevice device, Algorithm algorithm, IReadOnlyList<ParamGroup> groups, DeviceBackendOptions options)
    {
        _device = device ?? throw new ArgumentNullException(nameof(device));
        _options = options;
        if (_options.Precision.StochasticRounding)
            throw new NotSupportedException("the device-resident mode does not support stochastic rounding: its random stream key " +
                                            "changes every step on the host (LowPrecision.Key); use Residency.Host");
        ChunkTable.CheckLayout();
        if (Unsafe.SizeOf<CaClock>() != 104) throw new InvalidOperationException("CaClock must be 104 bytes (kernels/clock.cu)");
        if (algorithm.Info().Clock == 0)
            throw new NotSupportedException($"{algorithm.Name()} cannot run in the graph-capturable mode: it has no device clock " +
                                            "(kernels/clock.cu; NAdam's momentum schedule mu_t = beta1 (1 - 0.96^(t psi) / 2) and ASGD's " +
                                            "eta_t = lr / (1 + lambd lr t)^alpha and Adan's third bias correction 1 - beta3^t need pow, " +
                                            "which the GPU does not round like the host, so the clock could not be bitwise the host's); " +
                                            $"use Residency.Host for {algorithm.Name()}");
        if (_options.Diagnostics) FusedSignDiagnostics.RequireKernelOf(algorithm);   // before any allocation
        Algorithm = algorithm;
        var groupList = groups.ToArray();
        _groupHp = groupList.Select(g => g.Hyperparameters).ToArray();
        foreach (var hp in _groupHp)
        {
            hp.Validate(algorithm);
            if (algorithm.Info().ClockRefusal?.Invoke(hp) is { } refusal)
                throw new NotSupportedException($"{algorithm.Name()} cannot run device-resident with these hyperparameters: {refusal}; use Residency.Host");
        }
        _params = groupList.SelectMany(g => g.Params).ToArray();
        _groupOf = groupList.SelectMany((g, gi) => g.Params.Select(_ => gi)).ToArray();
        for (int i = 0; i < _params.Length; i++)
            if (!_index.TryAdd(_params[i], i))
                throw new ArgumentException($"parameter '{_params[i].Name}' appears twice");

        // Layout: one offset per tensor in every arena.
        var states = new ParamState[_params.Length];
        _offsets = new long[_params.Length];
        long offset = 0;
        for (int i = 0; i < _params.Length; i++)
        {
            long a = _options.Alignment;
            offset = (offset + a - 1) / a * a;
            _offsets[i] = offset;
            offset += _params[i].Data.Length;
            var hp = _groupHp[_groupOf[i]];
            states[i] = new ParamState();   // which slots exist (length 0: no host memory for 256M elements)
            foreach (var slot in algorithm.Info().StateWith(hp)) states[i][slot.Buffer] = [];
            _hasM |= states[i].M is not null;
            _hasV |= states[i].V is not null;
            _hasVMax |= states[i].VMax is not null;
            _hasAux |= states[i].Aux is not null;
        }
        long total = Math.Max(offset, 1);
        var precision = _options.Precision;
        bool lowp = precision.Format != ParamFormat.Fp32;
        bool fp32Params = !lowp || precision.MasterWeights;
        if (fp32Params) _p = Zeroed<float>(total);
        _g = Zeroed<float>(total);
        if (_hasM) _m = Zeroed<float>(total);
        if (_hasV) _v = Zeroed<float>(total);
        if (_hasVMax) _vmax = Zeroed<float>(total);
        if (_hasAux) _aux = Zeroed<float>(total);
        if (lowp) _lp = Zeroed<ushort>(total);

        // Values: parameters, non-zero initial state (AdaGrad's accumulator).
        for (int i = 0; i < _params.Length; i++)
        {
            var data = _params[i].Data;
            if (data.Length == 0) continue;
            if (_p is not null) _device.CopyToDevice<float>(data, _p, _offsets[i]);
            if (lowp && !precision.MasterWeights)
            {
                var bits = new ushort[data.Length];
                for (int j = 0; j < bits.Length; j++) bits[j] = LowPrecision.RoundNearest(data[j], precision.Format);
                _device.CopyToDevice<ushort>(bits, _lp!, _offsets[i]);
            }
            foreach (var slot in algorithm.Info().StateWith(_groupHp[_groupOf[i]]))
                if (slot.Initial?.Invoke(_groupHp[_groupOf[i]]) is { } init and not 0f)
                {
                    var v = new float[data.Length];
                    Array.Fill(v, init);   // ParamState.Create's value
                    _device.CopyToDevice<float>(v, Arena(slot.Buffer)!, _offsets[i]);
                }
        }

        // Tensor table (scalars packed for step 1; the clock rewrites the step-dependent ones), chunk table, clocks.
        var table = new CaTensor[Math.Max(1, _params.Length)];
        var clocks = new CaClock[Math.Max(1, _params.Length)];
        Span<float> s = stackalloc float[CaTensor.ScalarCount];
        for (int i = 0; i < _params.Length; i++)
        {
            var hp = _groupHp[_groupOf[i]];
            var k = StepScalars.Advance(algorithm, hp, new ParamState());
            uint flags = KernelScalars.Pack(algorithm, hp, k, s) | KernelFlags.Active | precision.Flags;
            ref var e = ref table[i];
            SetScalars(ref e, s);
            e.Flags = flags;
            e.N = _params[i].Data.Length;
            e.P = Address(_p, i);
            e.G = Address(_g, i);
            e.M = states[i].M is not null ? Address(_m, i) : 0;
            e.V = states[i].V is not null ? Address(_v, i) : 0;
            e.VMax = states[i].VMax is not null ? Address(_vmax, i) : 0;
            e.Aux = states[i].Aux is not null ? Address(_aux, i) : 0;
            e.Lp = _lp is { } lpa ? lpa.Pointer + (nint)(_offsets[i] * sizeof(ushort)) : 0;
            clocks[i] = new CaClock
            {
                Step = 0, Beta1Power = 1, Beta2Power = 1, Beta1 = algorithm.Info().EvalInterpolation?.Invoke(hp) ?? hp.Beta1,
                Beta2 = hp.Beta2, WeightDecay = hp.WeightDecay, LrDecay = hp.LrDecay,
                WarmupSteps = hp.WarmupSteps, R = hp.R, WeightLrPower = hp.WeightLrPower, Group = _groupOf[i],
                Kind = ClockKind(algorithm) | (hp.BiasCorrection ? 0 : ClockNoBiasCorrection),
            };
        }
        var chunks = ChunkTable.Build(_params.Select(p => (long)p.Data.Length).ToArray(), _options.ChunkSize);
        _chunkCount = chunks.Length;
        _tensorTable = _device.Allocate<CaTensor>(table.Length);
        _device.CopyToDevice<CaTensor>(table, _tensorTable);
        _chunkTable = _device.Allocate<CaChunk>(Math.Max(1, chunks.Length));
        if (chunks.Length > 0) _device.CopyToDevice<CaChunk>(chunks, _chunkTable);
        _clocks = _device.Allocate<CaClock>(clocks.Length);
        _device.CopyToDevice<CaClock>(clocks, _clocks);
        _lrs = _device.Allocate<double>(Math.Max(1, _groupHp.Length));
        _lr = _groupHp.Select(h => h.Lr).ToArray();
        _device.CopyToDevice<double>(_lr, _lrs);
        _partials = _device.Allocate<double>(Math.Max(1, chunks.Length));
        _norm = Zeroed<double>(1);
        _coef = _device.Allocate<float>(1);
        _device.CopyToDevice<float>([1f], _coef);
        _flag = Zeroed<int>(1);
        _scratchFlag = Zeroed<int>(1);
        _counters = Zeroed<long>(2);

        var (family, name) = _options.Diagnostics ? FusedSignDiagnostics.RequireKernelOf(algorithm) : KernelScalars.KernelOf(algorithm);
        _stepKernel = _device.GetKernel(family, name);
        if (_options.Diagnostics)
        {
            _diag = new FusedSignDiagnostics(_device);
            _diag.Resize(table.Length);
            _diag.Zero();   // stays zero when there is nothing to launch (only zero-size tensors)
        }
        _clockKernel = _device.GetKernel("clock", "step_clock");
        _normKernel = _device.GetKernel(KernelScalars.GradNormPartial.Family, KernelScalars.GradNormPartial.Name);
        _finalizeKernel = _device.GetKernel(KernelScalars.GradClipFinalize.Family, KernelScalars.GradClipFinalize.Name);
        _checkKernel = _device.GetKernel(KernelScalars.NonFiniteCheck.Family, KernelScalars.NonFiniteCheck.Name);

        if (algorithm.Info().TensorNorms is { } norms)
        {
            var pieces = TensorNorms.Pieces(_params.Select(p => (long)p.Data.Length).ToArray());
            _pieceCount = pieces.Length;
            var first = new int[_params.Length];
            for (int p = pieces.Length - 1; p >= 0; p--) first[pieces[p].Tensor] = p;
            _pieceTable = _device.Allocate<CaChunk>(Math.Max(1, pieces.Length));
            if (pieces.Length > 0) _device.CopyToDevice<CaChunk>(pieces, _pieceTable);
            var entries = new CaNormTensor[Math.Max(1, _params.Length)];
            for (int i = 0; i < _params.Length; i++)   // the lr of each entry is the group's, lrs[group], read at each step
                entries[i] = TensorNorms.Entry(algorithm.Info(), _groupHp[_groupOf[i]], first[i], _params[i].Data.Length, _groupOf[i]);
            _normTable = _device.Allocate<CaNormTensor>(entries.Length);
            _device.CopyToDevice<CaNormTensor>(entries, _normTable);
            _normPartials = _device.Allocate<double>(Math.Max(1, 2L * pieces.Length));
            _normSums = Zeroed<double>(Math.Max(1, 2L * _params.Length));
            _normsKernel = _device.GetKernel(norms.Kernel.Family, norms.Kernel.Name);
            _normsFinalizeKernel = _device.GetKernel(TensorNorms.Finalize.Family, TensorNorms.Finalize.Name);
        }
    }

    public Algorithm Algorithm { get; }
    public IDevice Device => _device;
    public IReadOnlyList<Parameter> Parameters => _params;

    /// <summary>Whether <paramref name="p"/> is placed here.</summary>
    public bool Holds(Parameter p) => _index.ContainsKey(p);

    /// <summary>The hyperparameters the plan was built with for <paramref name="p"/> (all but lr are frozen).</summary>
    public Hyperparameters HyperparametersOf(Parameter p) => _groupHp[_groupOf[IndexOf(p)]];

    /// <summary>The group index of <paramref name="p"/> (its lr slot).</summary>
    public int GroupOf(Parameter p) => _groupOf[IndexOf(p)];

    /// <summary>Whether the steps run as replays of a captured CUDA graph (CaptureGraph on a CUDA device).</summary>
    public bool UsesGraph => _options.CaptureGraph && _device is CudaDevice;

    /// <summary>How many times a graph was captured (0 without graphs).</summary>
    public int Captures { get; private set; }

    /// <summary>Kernel launches per step (the memset not counted): check or norm + finalize, clock, per-tensor norms +
    /// their finalize (<see cref="AlgorithmInfo.TensorNorms"/>), step.</summary>
    public int LaunchesPerStep => (_chunkCount == 0 ? 0 : _last.MaxGradNorm is not null ? 2 : _last.Checks ? 1 : 0) + 1
                                  + (_chunkCount > 0 ? 1 : 0) + (_normTable is not null && _pieceCount > 0 ? 2 : 0);

    /// <summary>The gradient arena: the gradient of parameter p lives at <see cref="Offset"/>(p), p.Data.Length floats.</summary>
    public DeviceBuffer<float> Gradients => _g;

    /// <summary>The fp32 parameter arena (the master weights with 16-bit parameters): parameter p's values live at
    /// <see cref="Offset"/>(p), p.Data.Length floats. Device layers read their weights here, so the step updates what
    /// the next forward pass reads (src/CudaAdam.Training/Device/).</summary>
    /// <exception cref="NotSupportedException">16-bit parameters without master weights (no fp32 arena).</exception>
    public DeviceBuffer<float> Values => _p ?? throw new NotSupportedException(
        "this device-resident backend keeps 16-bit parameters without fp32 master weights, so it has no fp32 parameter arena; " +
        "use PrecisionOptions with MasterWeights = true");

    /// <summary>Where <paramref name="p"/>'s elements start in every arena.</summary>
    public long Offset(Parameter p) => _offsets[IndexOf(p)];

    /// <summary>Sets the learning rate of group <paramref name="group"/> on the device (a small copy; takes effect on the
    /// next step, captured or not).</summary>
    public void SetLr(int group, double lr)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(group);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(group, _groupHp.Length);
        if (!double.IsFinite(lr) || lr < 0) throw new ArgumentException($"Invalid learning rate: {lr} (lr must be a finite number >= 0)");
        if (_lr[group] == lr) return;
        _lr[group] = lr;
        _device.CopyToDevice<double>([lr], _lrs, group);
    }

    /// <summary>Copies <paramref name="g"/> into <paramref name="p"/>'s place in <see cref="Gradients"/>.</summary>
    public void UploadGradient(Parameter p, float[] g)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int i = IndexOf(p);
        if (g.Length > 0) _device.CopyToDevice<float>(g, _g, _offsets[i]);
    }

    /// <summary>Queues one optimizer step under <paramref name="contract"/> (no host synchronization, no host copy).
    /// With CaptureGraph on a CUDA device, the first call (and the first after the contract changed) captures the step
    /// into a graph; every call launches the graph.</summary>
    public void Step(StepContract contract)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _stepped = true;
        _last = contract;
        if (_options.CaptureGraph && _device is CudaDevice cuda)
        {
            if (_graph is null || _captured != contract)
            {
                _graph?.Dispose();
                _graph = null;
                _captured = contract;
                _graph = cuda.CaptureGraph(Enqueue);
                Captures++;
            }
            cuda.Launch(_graph);
            return;
        }
        Enqueue();
    }

    /// <summary>Waits for the last step and reads what happened: refused (the skip flag), the norm and coefficient.</summary>
    public BackendStepOutcome Outcome()
    {
        _device.Synchronize();
        Span<int> flag = stackalloc int[1];
        _device.CopyToHost(_flag, flag);
        bool refused = _chunkCount > 0 && flag[0] == Epoch;
        if (_last.MaxGradNorm is null) return new BackendStepOutcome(refused, double.NaN, 1f);
        if (_chunkCount == 0) return new BackendStepOutcome(false, 0, 1f);
        Span<double> norm = stackalloc double[1];
        Span<float> coef = stackalloc float[1];
        _device.CopyToHost(_norm, norm);
        _device.CopyToHost(_coef, coef);
        return new BackendStepOutcome(refused, norm[0], refused ? 1f : coef[0]);
    }

    private void Enqueue()
    {
        var contract = _last;
        float invScale = contract.InvScale;
        _device.Zero(_flag);
        nint clip = 0;
        if (_chunkCount > 0)
        {
            if (contract.MaxGradNorm is { } maxNorm)
            {
                // Under propagate a non-finite norm must not skip (coefficient 1, the values go through, as the
                // reference): the partials and the finalize write a scratch flag nobody reads.
                var flag = contract.Checks ? _flag : _scratchFlag;
                _args.Clear().Add(_tensorTable).Add(_chunkTable).Add(invScale).Add(flag.Pointer).Add(Epoch).Add(_partials);
                _device.Launch(_normKernel, (uint)_chunkCount, (uint)_options.BlockSize, _args);
                _args.Clear().Add(_partials).Add(_chunkCount).Add(maxNorm).Add(_norm).Add(_coef).Add(flag.Pointer).Add(Epoch);
                _device.Launch(_finalizeKernel, 1, KernelScalars.FinalizeThreads, _args);
                clip = _coef.Pointer;
            }
            else if (contract.Checks)
            {
                _args.Clear().Add(_tensorTable).Add(_chunkTable).Add(invScale).Add(_flag.Pointer).Add(Epoch);
                _device.Launch(_checkKernel, (uint)_chunkCount, (uint)_options.BlockSize, _args);
            }
        }
        const uint clockBlock = 128;
        uint clockGrid = (uint)Math.Max(1, (_params.Length + clockBlock - 1) / clockBlock);
        _args.Clear().Add(_tensorTable).Add(_clocks).Add(_params.Length).Add(_lrs).Add(_flag.Pointer).Add(Epoch).Add(_counters);
        _device.Launch(_clockKernel, clockGrid, clockBlock, _args);
        if (_normTable is not null && _pieceCount > 0)
        {
            // After the clock (the direction reads this step's bias corrections), before the step (which reads the trust slot).
            _args.Clear().Add(_tensorTable).Add(_pieceTable!).Add(invScale).Add(clip).Add(_flag.Pointer).Add(Epoch).Add(_normPartials!);
            _device.Launch(_normsKernel!, (uint)_pieceCount, (uint)Reference.Reference.NormLanes, _args);
            const uint block = 128;
            _args.Clear().Add(_normPartials!).Add(_normTable).Add(_params.Length).Add(_lrs).Add(_tensorTable).Add(_normSums!)
                 .Add(_flag.Pointer).Add(Epoch);
            _device.Launch(_normsFinalizeKernel!, (uint)((_params.Length + block - 1) / block), block, _args);
        }
        if (_chunkCount > 0)
        {
            _args.Clear().Add(_tensorTable).Add(_chunkTable).Add(invScale).Add(_flag.Pointer).Add(Epoch).Add(clip);
            if (_diag is not null)
            {
                _diag.Zero();
                _args.Add(_diag.Edges).Add(_diag.Stats);
            }
            _device.Launch(_stepKernel, (uint)_chunkCount, (uint)_options.BlockSize, _args);
        }
    }

    /// <summary>
    /// The sign diagnostics of the last step (<see cref="DeviceBackendOptions.Diagnostics"/>), per tensor in
    /// <see cref="Parameters"/> order and global; reads the record from the device (synchronizes). g in the statistics is
    /// the gradient as the moments saw it (times inv_scale and the clip coefficient, negated when maximizing).
    /// </summary>
    /// <returns>null before the first step and when the last step was skipped (a non-finite gradient or norm).</returns>
    /// <exception cref="InvalidOperationException">Diagnostics are off.</exception>
    public SignDiagnosticsReport? ReadDiagnostics()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var diag = _diag ?? throw new InvalidOperationException("diagnostics are off: create the DeviceBackend with DeviceBackendOptions { Diagnostics = true }");
        if (!_stepped) return null;
        _device.Synchronize();
        Span<int> flag = stackalloc int[1];
        _device.CopyToHost(_flag, flag);
        if (flag[0] == Epoch) return null;
        var stats = diag.Read();
        var acc = new SignAccumulator[_params.Length];
        var info = new (string Name, double Bound)[_params.Length];
        for (int i = 0; i < _params.Length; i++)
        {
            acc[i] = DeviceSignDiagnostics.Decode(stats, i, _params[i].Data.Length, _params[i].Name, "the diagnostics-enabled step");
            info[i] = (_params[i].Name, _groupHp[_groupOf[i]].SignBound);
        }
        return SignAccumulator.Report(info, acc);
    }

    /// <summary>The canonical per-tensor sums of squares of <paramref name="p"/> from the last step's norms pass, or null
    /// (no norms, not stepped yet, or the last step was skipped).</summary>
    public (double A, double B)? NormSums(Parameter p)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int i = IndexOf(p);
        if (_normSums is null || !_stepped) return null;
        _device.Synchronize();
        Span<int> flag = stackalloc int[1];
        _device.CopyToHost(_flag, flag);
        if (flag[0] == Epoch) return null;
        Span<double> s = stackalloc double[2];
        _device.CopyToHost(_normSums, s, 2L * i);
        return (s[0], s[1]);
    }

    /// <summary>Waits for the queued steps.</summary>
    public void Synchronize() => _device.Synchronize();

    /// <summary>Steps taken and steps skipped (non-finite gradient or norm) so far, read from the device.</summary>
    public (long Taken, long Skipped) Counters()
    {
        Span<long> c = stackalloc long[2];
        _device.CopyToHost(_counters, c);
        return (c[0], c[1]);
    }

    /// <summary>The global gradient norm of the last clipped step (NaN without clipping), read from the device.</summary>
    public double LastGradNorm()
    {
        if (_last.MaxGradNorm is null) return double.NaN;
        Span<double> n = stackalloc double[1];
        _device.CopyToHost(_norm, n);
        return n[0];
    }

    /// <summary>Copies the parameters back into each <see cref="Parameter.Data"/> (fp32, or the master weights, or the
    /// 16-bit values widened exactly).</summary>
    public void Download()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        for (int i = 0; i < _params.Length; i++)
        {
            var data = _params[i].Data;
            if (data.Length == 0) continue;
            if (_p is not null) _device.CopyToHost(_p, data.AsSpan(), _offsets[i]);
            else
            {
                var bits = DownloadLowPrecision(_params[i])!;
                for (int j = 0; j < bits.Length; j++) data[j] = LowPrecision.Widen(bits[j], _options.Precision.Format);
            }
        }
    }

    /// <summary>Copies each <see cref="Parameter.Data"/> into the fp32 parameter arena (the inverse of
    /// <see cref="Download"/>; restoring a checkpoint). fp32 parameters only.</summary>
    /// <exception cref="NotSupportedException">16-bit parameters.</exception>
    public void Upload()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_lp is not null || _p is null)
            throw new NotSupportedException("uploading parameters to a device-resident backend supports fp32 parameters only (16-bit parameters would need re-rounding)");
        for (int i = 0; i < _params.Length; i++)
            if (_params[i].Data.Length > 0) _device.CopyToDevice<float>(_params[i].Data, _p, _offsets[i]);
    }

    /// <summary>Writes <paramref name="state"/> (from <see cref="DownloadState"/> or a checkpoint) into
    /// <paramref name="p"/>'s state buffers and clock (step, β1^t, β2^t), so the next step continues bitwise from it.
    /// A state buffer that this algorithm keeps but <paramref name="state"/> leaves null (SGD's momentum buffer before
    /// its first step) is zeroed.</summary>
    /// <exception cref="ArgumentException">A buffer has the wrong length, or holds a slot this optimizer does not keep.</exception>
    public void UploadState(Parameter p, ParamState state)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(state);
        int i = IndexOf(p);
        var tableEntry = new CaTensor[1];
        _device.CopyToHost(_tensorTable, tableEntry.AsSpan(), i);
        var e = tableEntry[0];
        int n = _params[i].Data.Length;
        var slots = new (string Name, float[]? Values, bool Kept, DeviceBuffer<float>? Arena)[]
        {
            ("M", state.M, e.M != 0, _m), ("V", state.V, e.V != 0, _v), ("VMax", state.VMax, e.VMax != 0, _vmax), ("Aux", state.Aux, e.Aux != 0, _aux),
        };
        foreach (var (name, values, kept, _) in slots)
        {
            if (values is null) continue;
            if (!kept) throw new ArgumentException($"parameter '{p.Name}': the state has {name}, which {Algorithm.Name()} with these settings does not keep");
            if (values.Length != n) throw new ArgumentException($"parameter '{p.Name}': state {name} has {values.Length} elements, the parameter {n}");
        }
        if (state.Step < 0) throw new ArgumentException($"parameter '{p.Name}': negative step {state.Step}");
        foreach (var (_, values, kept, arena) in slots)
        {
            if (!kept || n == 0) continue;
            _device.CopyToDevice<float>(values ?? new float[n], arena!, _offsets[i]);
        }
        Span<CaClock> clock = stackalloc CaClock[1];
        _device.CopyToHost(_clocks, clock, i);
        clock[0].Step = state.Step;
        clock[0].Beta1Power = state.Beta1Power;
        clock[0].Beta2Power = state.Beta2Power;
        (clock[0].LrMax, clock[0].WeightSum) = (state.LrMax, state.WeightSum);
        _device.CopyToDevice<CaClock>(clock, _clocks, i);
    }

    /// <summary>The 16-bit parameter bits of <paramref name="p"/>, or null for fp32 parameters.</summary>
    public ushort[]? DownloadLowPrecision(Parameter p)
    {
        if (_lp is null) return null;
        int i = IndexOf(p);
        var bits = new ushort[p.Data.Length];
        if (bits.Length > 0) _device.CopyToHost(_lp, bits.AsSpan(), _offsets[i]);
        return bits;
    }

    /// <summary>A host copy of <paramref name="p"/>'s state: buffers, step count and running products from the device.</summary>
    public ParamState DownloadState(Parameter p)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int i = IndexOf(p);
        Span<CaClock> clock = stackalloc CaClock[1];
        _device.CopyToHost(_clocks, clock, i);
        var s = new ParamState
        {
            Step = clock[0].Step, Beta1Power = clock[0].Beta1Power, Beta2Power = clock[0].Beta2Power,
            LrMax = clock[0].LrMax, WeightSum = clock[0].WeightSum,
        };
        var tableEntry = new CaTensor[1];
        _device.CopyToHost(_tensorTable, tableEntry.AsSpan(), i);
        s.M = tableEntry[0].M != 0 ? Read(_m!, i) : null;
        s.V = tableEntry[0].V != 0 ? Read(_v!, i) : null;
        s.VMax = tableEntry[0].VMax != 0 ? Read(_vmax!, i) : null;
        s.Aux = tableEntry[0].Aux != 0 ? Read(_aux!, i) : null;
        return s;
    }

    private float[] Read(DeviceBuffer<float> arena, int i)
    {
        var a = new float[_params[i].Data.Length];
        if (a.Length > 0) _device.CopyToHost(arena, a.AsSpan(), _offsets[i]);
        return a;
    }

    private int IndexOf(Parameter p) =>
        _index.TryGetValue(p, out int i) ? i : throw new ArgumentException($"parameter '{p.Name}' is not in this optimizer");

    private DeviceBuffer<float>? Arena(StateBuffer b) => b switch
    {
        StateBuffer.M => _m, StateBuffer.V => _v, StateBuffer.VMax => _vmax, _ => _aux,
    };

    /// <summary>The descriptor's <see cref="AlgorithmInfo.Clock"/> (the <c>CA_CLOCK_*</c> of kernels/clock.cu).</summary>
    private static int ClockKind(Algorithm a) =>
        a.Info().Clock is var kind and not 0 ? kind : throw new NotSupportedException($"{a.Name()} has no device clock");

    private DeviceBuffer<T> Zeroed<T>(long n) where T : unmanaged
    {
        var b = _device.Allocate<T>(n);
        _device.Zero(b);
        return b;
    }

    private nint Address(DeviceBuffer<float>? arena, int i) =>
        arena is null ? 0 : arena.Pointer + (nint)(_offsets[i] * sizeof(float));

    private static unsafe void SetScalars(ref CaTensor e, ReadOnlySpan<float> scalars)
    {
        fixed (float* s = e.S) scalars.CopyTo(new Span<float>(s, CaTensor.ScalarCount));
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _graph?.Dispose();
        _diag?.Dispose();
        foreach (var b in new IDisposable?[] { _p, _g, _m, _v, _vmax, _aux, _lp, _tensorTable, _chunkTable, _clocks, _lrs, _partials, _norm, _coef, _flag, _scratchFlag, _counters,
                     _pieceTable, _normTable, _normPartials, _normSums })
            b?.Dispose();
        _args.Dispose();
    }
}
