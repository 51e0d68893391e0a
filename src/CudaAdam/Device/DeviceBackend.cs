using CudaAdam.Cuda;
using CudaAdam.Diagnostics;

namespace CudaAdam.Device;

/// <summary>Device addresses of one tensor's copies in a <see cref="DeviceBackend"/>'s arenas (0 for a slot it does not have).</summary>
public readonly record struct DeviceTensorView(nint P, nint G, nint M, nint V, long Length);

/// <summary>Where the truth of a step lives: the caller's host arrays, or the device (<see cref="DeviceBackendOptions.Residency"/>).</summary>
public enum Residency
{
    /// <summary>The host arrays (<see cref="Parameter.Data"/>, <see cref="Parameter.Grad"/>, the optimizer's state) are
    /// the truth: each step uploads them and downloads the results. Always correct, and simple; the bus is the bottleneck.</summary>
    Host,
    /// <summary>Parameters, gradients and state live on the device between steps (torch's device tensors): a step moves
    /// nothing but the step contract's small results. Every parameter steps every time; a host gradient, when given, is
    /// uploaded first, else the device gradient arena is read (device layers write it). Read the parameters back with
    /// <see cref="Optimizer.DownloadParameters"/>; <see cref="Optimizer.State"/> reads the state from the device.</summary>
    Device,
}

/// <summary>Tuning and test knobs of <see cref="DeviceBackend"/>. The defaults are the production settings.</summary>
public sealed record DeviceBackendOptions
{
    /// <summary>Where the truth lives between steps (<see cref="Residency.Host"/> by default).</summary>
    public Residency Residency { get; init; } = Residency.Host;
    /// <summary>With <see cref="Residency.Device"/> on a CUDA device: capture the whole step (flag reset, check or clip,
    /// clock, step) into a CUDA graph on the first step and replay it afterwards (torch's <c>capturable</c>). Elsewhere
    /// (the emulator) the same launches simply run.</summary>
    public bool CaptureGraph { get; init; }
    /// <summary>Threads per block of the step kernels.</summary>
    public int BlockSize { get; init; } = 256;
    /// <summary>Elements per chunk (one thread block each). Keep it a multiple of 4 so that chunks of aligned
    /// tensors stay 16-byte aligned for the float4 path.</summary>
    public long ChunkSize { get; init; } = 32768;
    /// <summary>Each tensor starts at a multiple of this many elements in the device arenas (64 = 256 bytes);
    /// 1 packs tensors back to back, so odd lengths leave later tensors misaligned (the scalar path).</summary>
    public int Alignment { get; init; } = 64;
    /// <summary>Elements of padding before the first tensor (tests: 1 misaligns every tensor).</summary>
    public int BaseOffset { get; init; }
    /// <summary>16-bit parameters, master weights, stochastic rounding (<see cref="PrecisionOptions"/>); fp32 by default.</summary>
    public PrecisionOptions Precision { get; init; } = PrecisionOptions.Fp32;
    /// <summary>Start with <see cref="DeviceBackend.Diagnostics"/> on: every step runs the diagnostics-enabled kernel and
    /// leaves its <see cref="SignDiagnosticsReport"/> in <see cref="DeviceBackend.LastDiagnostics"/>.</summary>
    public bool Diagnostics { get; init; }

    internal void Validate()
    {
        KernelLimits.ValidateBlockSize(BlockSize);
        if (ChunkSize < 1) throw new ArgumentException($"ChunkSize {ChunkSize} must be >= 1");
        if (Alignment < 1) throw new ArgumentException($"Alignment {Alignment} must be >= 1 element");
        if (BaseOffset < 0) throw new ArgumentException($"BaseOffset {BaseOffset} must be >= 0");
        ArgumentNullException.ThrowIfNull(Precision);
        Precision.Validate();
        if (CaptureGraph && Residency != Residency.Device)
            throw new ArgumentException("CaptureGraph needs Residency.Device: a captured step cannot copy host arrays");
    }
}

/// <summary>
/// <see cref="IStepBackend"/> over any <see cref="IDevice"/> (the CUDA device or the host emulator): every step is
/// ONE launch of the algorithm's fused kernel (<c>kernels/adam.cu</c>, <c>sign.cu</c>, <c>baselines.cu</c>) over all
/// tensors, plus, under the skip and error policies (<see cref="StepContract.Checks"/>), ONE launch of
/// <c>grad_nonfinite_check</c> before it. With gradient clipping (<see cref="StepContract.MaxGradNorm"/>):
/// <c>grad_norm_partial</c> (check + per-chunk sums of squares), <c>grad_clip_finalize</c> (total norm, coefficient),
/// then the step, which multiplies the unscaled gradient by the coefficient in registers. An algorithm whose step needs
/// per-tensor norms (<see cref="AlgorithmInfo.TensorNorms"/>: LAMB, LARS) gets two launches just before its step: its
/// partial kernel over the piece table (pieces of 4,096, blocks of 256: the canonical order, whatever
/// <see cref="DeviceBackendOptions.ChunkSize"/> and <see cref="DeviceBackendOptions.BlockSize"/>) and
/// <c>tensor_norms_finalize</c>, which writes each tensor's trust ratio into its tensor-table entry.
/// </summary>
/// <remarks>
/// <para>Memory: one device arena per slot (p, g, m, v, vmax, aux); each tensor has a fixed offset in them
/// (aligned to <see cref="DeviceBackendOptions.Alignment"/>). Every tensor ever stepped keeps its place; the layout
/// (offsets, arenas, the device chunk table) is rebuilt only when a new tensor appears or a tensor's set of state
/// slots changes. A tensor without a gradient this step stays in the chunk table, marked inactive in the tensor
/// table, and its blocks return at once.</para>
/// <para>Transfers with <see cref="Residency.Host"/> (the default, always-correct policy): the host arrays are the truth. Each step uploads p, g and
/// the state of every tensor that steps (one copy per arena, through a host staging array, plus the tensor table),
/// and downloads p and the state afterwards. That is 2 × (bytes of p + state) + bytes of g over the bus per step, far
/// more than the kernel's own 28 bytes/parameter (Adam) of device traffic: fine for the emulator and for testing,
/// the bottleneck on a real GPU. With <see cref="Residency.Device"/> the same kernels run over arenas that stay on the
/// device (the device step clock advances the scalars; <c>ResidentPlan</c>): nothing but the step's outcome crosses.</para>
/// <para>Non-finite gradients (<see cref="NonFinitePolicy"/>): under skip and error, when any gradient of the step
/// times inv_scale is ±inf or NaN, nothing changes (params and every state bit) and the outcome says
/// <see cref="BackendStepOutcome.NonFinite"/>; <see cref="Optimizer"/> rolls back its step counters. Two phases:
/// <c>grad_nonfinite_check</c> writes the step's epoch into a device flag; the step kernel reads it first and returns
/// when it matches. Under propagate the step kernel gets no flag (clipping's finalize still runs, and writes
/// coefficient 1 for a non-finite norm), so the values go through as in the reference.</para>
/// </remarks>
public sealed class DeviceBackend : IStepBackend
{
    private const int SlotP = 0, SlotG = 1, SlotM = 2, SlotV = 3, SlotVMax = 4, SlotAux = 5, SlotCount = 6;
    // 8-bit state (state_bits = 8; kernels/state8.cu, adam8_step): the codes of m and v, a byte per element at the tensor's
    // Offset, and their float32 block absmax, one per 2,048 elements at the tensor's BlockOffset. TensorPlace.Slots bits.
    private const int Slot8M = 6, Slot8V = 7;
    private const uint State8Bits = 1u << Slot8M | 1u << Slot8V;

    private readonly IDevice _device;
    private readonly bool _ownsDevice;
    private readonly DeviceBackendOptions _options;
    private readonly KernelArgs _args = new();
    private readonly List<TensorPlace> _tensors = [];
    private readonly Dictionary<Parameter, int> _index = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<Parameter> _lastStepped = new(ReferenceEqualityComparer.Instance);
    private readonly DeviceBuffer<float>?[] _arenas = new DeviceBuffer<float>?[SlotCount];
    private readonly float[][] _staging = new float[SlotCount][];
    private readonly Dictionary<Parameter, ushort[]> _lowp = new(ReferenceEqualityComparer.Instance);
    private DeviceBuffer<ushort>? _lpArena;
    private ushort[] _lpStaging = [];
    private DeviceBuffer<CaTensor>? _tensorTable;
    private DeviceBuffer<CaChunk>? _chunkTable;
    private DeviceBuffer<int>? _flag;
    private DeviceBuffer<double>? _partials, _norm;
    private DeviceBuffer<float>? _coef;
    private Kernel? _normKernel, _finalizeKernel;
    private CaTensor[] _hostTable = [];
    private int _chunkCount;
    private int _epoch;
    private Algorithm? _algorithm;
    private Kernel? _stepKernel, _checkKernel;
    private bool _layoutDirty = true;
    private bool _disposed;
    private FusedSignDiagnostics? _diag;
    private Kernel? _diagKernel;
    private readonly Dictionary<Parameter, SignAccumulator> _lastDiag = new(ReferenceEqualityComparer.Instance);
    private ResidentPlan? _plan;
    private readonly DeviceBuffer<byte>?[] _codes = new DeviceBuffer<byte>?[2];
    private readonly DeviceBuffer<float>?[] _absmax = new DeviceBuffer<float>?[2];
    private readonly byte[][] _codeStaging = [[], []];
    private readonly float[][] _absmaxStaging = [[], []];
    private DeviceBuffer<float>? _maps;
    private Kernel? _state8Kernel;
    private bool _state8;   // the layout's tensors keep 8-bit state (all of them, or none)
    // Per-tensor norms (AlgorithmInfo.TensorNorms: LAMB, LARS): the piece table (4,096-element pieces), the norms table,
    // the pieces' partials, the per-tensor sums and lrs (kernels/norms.cu).
    private DeviceBuffer<CaChunk>? _pieceTable;
    private DeviceBuffer<CaNormTensor>? _normTable;
    private DeviceBuffer<double>? _normPartials, _normSums, _normLrs;
    private CaNormTensor[] _hostNorms = [];
    private double[] _hostLrs = [];
    private int[] _firstPiece = [];
    private int _pieceCount;
    private Kernel? _normsKernel, _normsFinalizeKernel;

    /// <param name="device">Where the kernels run.</param>
    /// <param name="options">Defaults when null.</param>
    /// <param name="ownsDevice">Dispose <paramref name="device"/> with this backend.</param>
    public DeviceBackend(IDevice device, DeviceBackendOptions? options = null, bool ownsDevice = false)
    {
        _device = device ?? throw new ArgumentNullException(nameof(device));
        _options = options ?? new DeviceBackendOptions();
        _options.Validate();
        _ownsDevice = ownsDevice;
        Diagnostics = _options.Diagnostics;
        ChunkTable.CheckLayout();
        for (int i = 0; i < SlotCount; i++) _staging[i] = [];
    }

    /// <summary>"emulator" or "cuda".</summary>
    public string Name => _device.Kind == DeviceKind.Cuda ? "cuda" : "emulator";

    /// <summary>The device the kernels run on (a <c>CudaDevice</c> or the host emulator); not owned: disposing the backend leaves it open.</summary>
    public IDevice Device => _device;

    /// <summary>The engine's options: residency (host or device), graph capture, diagnostics, block size.</summary>
    public DeviceBackendOptions Options => _options;

    /// <inheritdoc/>
    public bool Resident => _options.Residency == Residency.Device;

    /// <summary>With <see cref="Residency.Device"/>: places every parameter of <paramref name="groups"/> on the device
    /// (values uploaded, state created as <see cref="ParamState.Create"/> does). Called by <see cref="Optimizer"/>.</summary>
    /// <exception cref="NotSupportedException">The algorithm has no device clock (NAdam), or stochastic rounding.</exception>
    public void Attach(Algorithm algorithm, IReadOnlyList<ParamGroup> groups)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!Resident) return;
        if (groups.Any(g => g.Hyperparameters.StateBits == 8))
            throw new NotSupportedException("8-bit optimizer state (state_bits = 8) runs on the device backends host-resident only " +
                                            "(Residency.Host); the device-resident plan keeps float32 state. Use Residency.Host or state_bits = 32");
        if (_plan is not null) throw new InvalidOperationException("this device-resident backend already holds a parameter set; use one backend per optimizer");
        _plan = new ResidentPlan(_device, algorithm, groups, _options);
        _algorithm = algorithm;
    }

    private ResidentPlan Plan => _plan ?? throw new InvalidOperationException(
        Resident ? "the device-resident backend holds no parameters yet: hand it to an Optimizer first"
                 : "this is a host-resident backend (Residency.Host): its arenas are staging, not the truth");

    /// <summary>Device-resident: the gradient arena; device layers write parameter p's gradient at <see cref="Offset"/>(p).</summary>
    public DeviceBuffer<float> Gradients => Plan.Gradients;

    /// <summary>Device-resident: the fp32 parameter arena (the master weights with 16-bit parameters); device layers read
    /// their weights at <see cref="Offset"/>(p), so the step updates what the next forward pass reads.</summary>
    public DeviceBuffer<float> Values => Plan.Values;

    /// <summary>Device-resident: where <paramref name="p"/>'s elements start in every arena.</summary>
    public long Offset(Parameter p) => Plan.Offset(p);

    /// <summary>Device-resident: whether the steps replay a captured CUDA graph (CaptureGraph on a CUDA device).</summary>
    public bool UsesGraph => Plan.UsesGraph;

    /// <summary>Device-resident: how many times a graph was captured (0 without graphs; again when the contract changed).</summary>
    public int Captures => Plan.Captures;

    /// <summary>Device-resident: steps taken and skipped, counted by the device clock itself.</summary>
    public (long Taken, long Skipped) DeviceCounters() => Plan.Counters();

    /// <summary>Benchmarks: queues one device-resident step under <paramref name="contract"/> without reading its outcome
    /// (no host synchronization, the optimizer's counters do not advance: the device clock's do). Time it with events.</summary>
    internal void QueueStep(StepContract contract) => Plan.Step(contract);

    /// <summary>Benchmarks: the fused diagnostics of the last queued step (reads the device record).</summary>
    internal SignDiagnosticsReport? ReadQueuedDiagnostics() => Plan.ReadDiagnostics();

    /// <inheritdoc/>
    public void ReadState(Parameter p, ParamState into)
    {
        // The counters too: the device clock's own, which must equal the optimizer's (the conformance registry checks).
        var s = Plan.DownloadState(p);
        (into.M, into.V, into.VMax, into.Aux) = (s.M, s.V, s.VMax, s.Aux);
        (into.Step, into.Beta1Power, into.Beta2Power, into.LrMax, into.WeightSum) = (s.Step, s.Beta1Power, s.Beta2Power, s.LrMax, s.WeightSum);
    }

    /// <inheritdoc/>
    public void WriteState(Parameter p, ParamState state) => Plan.UploadState(p, state);

    /// <inheritdoc/>
    public void DownloadParameters()
    {
        if (Resident) Plan.Download();
    }

    /// <inheritdoc/>
    public void UploadParameters()
    {
        if (Resident) Plan.Upload();
    }

    /// <summary>
    /// Sign diagnostics fused into the step (issue 6): the step runs the algorithm's diagnostics-enabled kernel
    /// (<c>adam_step_diag</c>, <c>signadam_step_diag</c>, ...; <c>kernels/diagnostics.cuh</c>), bitwise the same step,
    /// which also accumulates, from the values in registers, the statistics of <see cref="SignDiagnostics"/> per tensor:
    /// <see cref="LastDiagnostics"/>. Adam, AdamW, AMSGrad, SignAdam, NAdam, RAdam; another algorithm's
    /// <see cref="Step"/> throws <see cref="NotSupportedException"/> while this is on. Can change between steps.
    /// </summary>
    /// <remarks>g in the statistics is the gradient as the step's moments saw it: times inv_scale and the
    /// clip coefficient, negated when maximizing (before coupled weight decay) — with InvScale = 1 and no clipping,
    /// the caller's g (negated when maximizing), as in the reference. ‖update‖∞ is of the fp32 value (16-bit parameters:
    /// the change before rounding to 16 bits).</remarks>
    public bool Diagnostics { get; set; }

    /// <summary>The diagnostics of the last step over the tensors it stepped (in the order the optimizer handed them),
    /// when <see cref="Diagnostics"/> was on; null otherwise, before the first step, and after a skipped step.</summary>
    public SignDiagnosticsReport? LastDiagnostics { get; private set; }

    /// <summary>Kernel launches of the last step: 0 (nothing to do), 1 (the fused step), 2 (check + step) or 3
    /// (norm partials + finalize + step, when clipping); 2 more with per-tensor norms (<see cref="AlgorithmInfo.TensorNorms"/>).</summary>
    public int LaunchesLastStep { get; private set; }

    /// <summary>How many times the layout and chunk table were (re)built.</summary>
    public int LayoutBuilds { get; private set; }

    /// <summary>Host-resident: the bytes of device memory the optimizer-state arenas of the current layout hold (m, v, vmax,
    /// aux in float32; with 8-bit state the codes and block absmax of m and v instead), as allocated (alignment padding
    /// included): what <see cref="Hyperparameters.StateBits"/> saves on the device.</summary>
    public long StateBytes
    {
        get
        {
            long bytes = 0;
            foreach (int slot in new[] { SlotM, SlotV, SlotVMax, SlotAux }) bytes += (_arenas[slot]?.Length ?? 0) * sizeof(float);
            for (int q = 0; q < 2; q++) bytes += (_codes[q]?.Length ?? 0) + (_absmax[q]?.Length ?? 0) * sizeof(float);
            return bytes;
        }
    }

    /// <summary>Chunks (thread blocks) per launch in the current layout.</summary>
    public int ChunkCount => _chunkCount;

    /// <summary>With 16-bit parameters: the 16-bit bits of <paramref name="p"/> after its last step (bf16 or IEEE half per
    /// <see cref="PrecisionOptions.Format"/>); null for fp32 parameters or before the first step.</summary>
    public ushort[]? LowPrecisionCopy(Parameter p) => _plan is { } plan ? plan.DownloadLowPrecision(p) : _lowp.GetValueOrDefault(p);

    private bool LowPrecisionParams => _options.Precision.Format != ParamFormat.Fp32;
    private bool HasFp32Params => !LowPrecisionParams || _options.Precision.MasterWeights;

    /// <inheritdoc/>
    public BackendStepOutcome Step(Algorithm algorithm, IReadOnlyList<StepItem> items, StepContract contract)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Resident) return ResidentStep(algorithm, items, contract);
        LaunchesLastStep = 0;
        _lastStepped.Clear();
        LastDiagnostics = null;
        _lastDiag.Clear();
        if (_algorithm is { } a && a != algorithm)
            throw new InvalidOperationException(
                $"this {Name} backend has stepped {a.Name()} and cannot step {algorithm.Name()}; use one backend per optimizer");
        bool diagnostics = Diagnostics;
        var diagKernelName = diagnostics ? FusedSignDiagnostics.RequireKernelOf(algorithm) : default;
        _algorithm = algorithm;
        bool clipping = contract.MaxGradNorm is not null;
        if (items.Count == 0) return new BackendStepOutcome(false, clipping ? 0 : double.NaN, 1f);
        bool state8 = items[0].Hyperparameters.StateBits == 8;
        if (state8 && diagnostics)
            throw new NotSupportedException("the fused sign diagnostics do not run with 8-bit state (state_bits = 8); turn Diagnostics off");

        // 1. Layout: place new tensors, notice changed slot sets.
        var slotsOf = new uint[items.Count];
        for (int i = 0; i < items.Count; i++)
        {
            var it = items[i];
            if (it.Param.Grad is null)
                throw new ArgumentException($"parameter '{it.Param.Name}' was handed to the backend without a gradient");
            slotsOf[i] = RequiredSlots(algorithm, it);
            if (_index.TryGetValue(it.Param, out int ti))
            {
                var place = _tensors[ti];
                if (place.Length != it.Param.Data.Length || place.Slots != slotsOf[i])
                {
                    _tensors[ti] = place with { Length = it.Param.Data.Length, Slots = slotsOf[i] };
                    _layoutDirty = true;
                }
            }
            else
            {
                _index[it.Param] = _tensors.Count;
                _tensors.Add(new TensorPlace(it.Param.Data.Length, slotsOf[i], 0));
                _layoutDirty = true;
            }
        }
        if (_layoutDirty) BuildLayout();
        if (state8 != _state8)
            throw new NotSupportedException("one step cannot mix 8-bit and float32 optimizer state on a device backend (one kernel per " +
                                            "launch): give every parameter group the same state_bits");

        // 2. The tensor table of this step, and the staged uploads.
        for (int t = 0; t < _hostTable.Length; t++) _hostTable[t].Flags = 0;
        var firstStep = new bool[items.Count];
        Span<float> scalars = stackalloc float[CaTensor.ScalarCount];
        for (int i = 0; i < items.Count; i++)
        {
            var it = items[i];
            int ti = _index[it.Param];
            var place = _tensors[ti];
            ref var e = ref _hostTable[ti];
            uint flags = KernelScalars.Pack(algorithm, it.Hyperparameters, it.Scalars, scalars) | KernelFlags.Active;
            SetScalars(ref e, scalars);
            if ((place.Slots & (1u << SlotM)) != 0 && it.State.M is null)
            {
                if (!algorithm.Info().StateWith(it.Hyperparameters).Any(x => x.Buffer == StateBuffer.M && x.OnFirstStep))
                    throw new InvalidOperationException($"parameter '{it.Param.Name}' has no {algorithm.Name()} state M");
                flags |= KernelFlags.FirstStep; // torch creates SGD's momentum_buffer from the first d_p, Schedule-Free's z from p
                firstStep[i] = true;
            }
            e.Flags = flags | _options.Precision.Flags;
            if (_normTable is not null)
            {
                _hostNorms[ti] = TensorNorms.Entry(algorithm.Info(), it.Hyperparameters, _firstPiece[ti], place.Length, group: ti);
                _hostLrs[ti] = it.Hyperparameters.Lr;
            }
            e.Key = _options.Precision.StochasticRounding ? LowPrecision.Key(_options.Precision.Seed, it.Param.Name, it.Scalars.Step) : 0;
            int n = place.Length;
            if (n == 0) continue;
            if (HasFp32Params) Stage(SlotP, place, it.Param.Data);
            else
                for (int j = 0; j < n; j++)
                    _lpStaging[place.Offset + j] = LowPrecision.RoundNearest(it.Param.Data[j], _options.Precision.Format);
            Stage(SlotG, place, it.Param.Grad!);
            if (!firstStep[i]) StageIf(SlotM, place, it.State.M);
            StageIf(SlotV, place, it.State.V);
            StageIf(SlotVMax, place, it.State.VMax);
            StageIf(SlotAux, place, it.State.Aux);
            if (state8) Stage8(place, it.State);
        }

        // 3. Upload, launch, download.
        for (int s = 0; s < SlotCount; s++)
            if (_arenas[s] is { Length: > 0 } arena) _device.CopyToDevice<float>(_staging[s], arena);
        for (int q = 0; q < 2; q++)
        {
            if (_codes[q] is { Length: > 0 } codes) _device.CopyToDevice<byte>(_codeStaging[q], codes);
            if (_absmax[q] is { Length: > 0 } absmax) _device.CopyToDevice<float>(_absmaxStaging[q], absmax);
        }
        if (_lpArena is { Length: > 0 } && !HasFp32Params) _device.CopyToDevice<ushort>(_lpStaging, _lpArena);
        _device.CopyToDevice<CaTensor>(_hostTable, _tensorTable!);
        if (_normTable is not null)
        {
            _device.CopyToDevice<CaNormTensor>(_hostNorms, _normTable);
            _device.CopyToDevice<double>(_hostLrs, _normLrs!);
        }
        bool skipped = false;
        double norm = clipping ? 0 : double.NaN;   // no chunk: an empty sum
        float coefficient = 1f;
        float invScale = contract.InvScale;
        if (_chunkCount > 0)
        {
            var (family, name) = KernelScalars.KernelOf(algorithm);
            var step = diagnostics
                ? _diagKernel ??= _device.GetKernel(diagKernelName.Family, diagKernelName.Name)
                : state8
                    ? _state8Kernel ??= _device.GetKernel(algorithm.Info().State8Kernel!.Value.Family, algorithm.Info().State8Kernel!.Value.Name)
                    : _stepKernel ??= _device.GetKernel(family, name);
            if (_epoch == int.MaxValue)
            {
                _device.Zero(_flag!); // an epoch must never meet a stale flag from 2^31 steps ago
                _epoch = 0;
            }
            _epoch++;
            // The flag the check (or the norm partials) writes, and the one the step kernel reads: none under propagate.
            nint flagPointer = 0, clipPointer = 0;
            if (clipping)
            {
                var (nf, nn) = KernelScalars.GradNormPartial;
                var (ff, fn) = KernelScalars.GradClipFinalize;
                var partialKernel = _normKernel ??= _device.GetKernel(nf, nn);
                var finalize = _finalizeKernel ??= _device.GetKernel(ff, fn);
                flagPointer = _flag!.Pointer;
                clipPointer = _coef!.Pointer;
                _args.Clear().Add(_tensorTable!).Add(_chunkTable!).Add(invScale).Add(flagPointer).Add(_epoch).Add(_partials!);
                _device.Launch(partialKernel, (uint)_chunkCount, (uint)_options.BlockSize, _args);
                _args.Clear().Add(_partials!).Add(_chunkCount).Add(contract.MaxGradNorm!.Value).Add(_norm!).Add(_coef!).Add(flagPointer).Add(_epoch);
                _device.Launch(finalize, 1, KernelScalars.FinalizeThreads, _args);
                LaunchesLastStep += 2;
            }
            else if (contract.Checks)
            {
                var (cf, cn) = KernelScalars.NonFiniteCheck;
                var check = _checkKernel ??= _device.GetKernel(cf, cn);
                flagPointer = _flag!.Pointer;
                _args.Clear().Add(_tensorTable!).Add(_chunkTable!).Add(invScale).Add(flagPointer).Add(_epoch);
                _device.Launch(check, (uint)_chunkCount, (uint)_options.BlockSize, _args);
                LaunchesLastStep++;
            }
            if (!contract.Checks) flagPointer = 0;
            if (_normTable is not null && _pieceCount > 0)
            {
                LaunchNorms(algorithm, invScale, clipPointer, flagPointer);
                LaunchesLastStep += 2;
            }
            _args.Clear().Add(_tensorTable!).Add(_chunkTable!).Add(invScale).Add(flagPointer).Add(_epoch).Add(clipPointer);
            if (state8) _args.Add(_maps!);
            if (diagnostics)
            {
                _diag ??= new FusedSignDiagnostics(_device);
                _diag.Resize(_hostTable.Length);
                _diag.Zero();
                _args.Add(_diag.Edges).Add(_diag.Stats);
            }
            _device.Launch(step, (uint)_chunkCount, (uint)_options.BlockSize, _args);
            LaunchesLastStep++;
            _device.Synchronize();
            if (flagPointer != 0)
            {
                Span<int> flag = stackalloc int[1];
                _device.CopyToHost(_flag!, flag);
                skipped = flag[0] == _epoch;
            }
            if (clipping)
            {
                Span<double> normOut = stackalloc double[1];
                Span<float> coef = stackalloc float[1];
                _device.CopyToHost(_norm!, normOut);
                _device.CopyToHost(_coef!, coef);
                norm = normOut[0];
                coefficient = coef[0];
            }
        }
        if (skipped) return BackendStepOutcome.Refused(norm);
        for (int s = 0; s < SlotCount; s++)
            if (s != SlotG && _arenas[s] is { Length: > 0 } arena) _device.CopyToHost(arena, _staging[s]);
        if (_lpArena is { Length: > 0 } lp) _device.CopyToHost(lp, _lpStaging);
        for (int q = 0; q < 2; q++)
        {
            if (_codes[q] is { Length: > 0 } codes) _device.CopyToHost(codes, _codeStaging[q]);
            if (_absmax[q] is { Length: > 0 } absmax) _device.CopyToHost(absmax, _absmaxStaging[q]);
        }
        for (int i = 0; i < items.Count; i++)
        {
            var it = items[i];
            var place = _tensors[_index[it.Param]];
            if (firstStep[i]) it.State.M = new float[place.Length];
            if (LowPrecisionParams)
            {
                var bits = _lpStaging.AsSpan((int)place.Offset, place.Length).ToArray();
                _lowp[it.Param] = bits;
                if (!HasFp32Params)
                    for (int j = 0; j < bits.Length; j++)
                        it.Param.Data[j] = LowPrecision.Widen(bits[j], _options.Precision.Format);
            }
            if (place.Length == 0) continue;
            if (HasFp32Params) Unstage(SlotP, place, it.Param.Data);
            UnstageIf(SlotM, place, it.State.M);
            UnstageIf(SlotV, place, it.State.V);
            UnstageIf(SlotVMax, place, it.State.VMax);
            UnstageIf(SlotAux, place, it.State.Aux);
            if (state8) Unstage8(place, it.State);
        }
        foreach (var it in items) _lastStepped.Add(it.Param);
        if (diagnostics) ReadDiagnostics(items);
        return new BackendStepOutcome(false, norm, coefficient);
    }

    /// <summary>The device-resident step: host gradients (when given) uploaded, each group's lr written when it changed,
    /// one queued step (or graph replay), then the flag (and norm) read back.</summary>
    private BackendStepOutcome ResidentStep(Algorithm algorithm, IReadOnlyList<StepItem> items, StepContract contract)
    {
        var plan = Plan;
        if (algorithm != _algorithm)
            throw new InvalidOperationException($"this backend holds a {_algorithm?.Name()} parameter set and cannot step {algorithm.Name()}");
        if (items.Count != plan.Parameters.Count)
            throw new InvalidOperationException($"the device-resident mode steps every parameter every time: {items.Count} of {plan.Parameters.Count} handed in");
        var lrSet = new HashSet<int>();
        foreach (var it in items)
        {
            var frozen = plan.HyperparametersOf(it.Param);
            if (frozen with { Lr = it.Hyperparameters.Lr } != it.Hyperparameters)
                throw new NotSupportedException($"parameter '{it.Param.Name}': in the device-resident mode only lr may change between steps " +
                                                "(the other hyperparameters are packed into the device tables once)");
            int group = plan.GroupOf(it.Param);
            if (lrSet.Add(group)) plan.SetLr(group, it.Hyperparameters.Lr);
            if (it.Param.Grad is { } g) plan.UploadGradient(it.Param, g);
        }
        plan.Step(contract);
        LaunchesLastStep = plan.LaunchesPerStep;
        var outcome = plan.Outcome();
        LastDiagnostics = _options.Diagnostics && !outcome.NonFinite ? plan.ReadDiagnostics() : null;
        return outcome;
    }

    /// <summary>Per-tensor norms (<see cref="TensorNormSpec"/>): the algorithm's partial kernel over the piece table (one block
    /// of 256 threads per 4,096-element piece), then <c>tensor_norms_finalize</c>, which writes the trust slots of the
    /// tensor table the step kernel reads next.</summary>
    private void LaunchNorms(Algorithm algorithm, float invScale, nint clipPointer, nint flagPointer)
    {
        var (kf, kn) = algorithm.Info().TensorNorms!.Kernel;
        var partial = _normsKernel ??= _device.GetKernel(kf, kn);
        var finalize = _normsFinalizeKernel ??= _device.GetKernel(TensorNorms.Finalize.Family, TensorNorms.Finalize.Name);
        _args.Clear().Add(_tensorTable!).Add(_pieceTable!).Add(invScale).Add(clipPointer).Add(flagPointer).Add(_epoch).Add(_normPartials!);
        _device.Launch(partial, (uint)_pieceCount, (uint)Reference.Reference.NormLanes, _args);
        const uint block = 128;
        _args.Clear().Add(_normPartials!).Add(_normTable!).Add(_hostTable.Length).Add(_normLrs!).Add(_tensorTable!).Add(_normSums!)
             .Add(flagPointer).Add(_epoch);
        _device.Launch(finalize, (uint)((_hostTable.Length + block - 1) / block), block, _args);
    }

    /// <summary>The canonical per-tensor sums of squares (Σa², Σb²) of <paramref name="p"/> that the last step's norms pass
    /// computed on the device (<see cref="AlgorithmInfo.TensorNorms"/>: LAMB's Σx², Σr²; LARS' Σw², Σg²), bitwise
    /// <see cref="Reference.Reference.CanonicalSumSquares"/> of the same quantities; null when the algorithm has no norms,
    /// <paramref name="p"/> did not step, or the step was skipped.</summary>
    public (double A, double B)? LastNormSums(Parameter p)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_plan is { } plan) return plan.NormSums(p);
        if (_normSums is null || !_lastStepped.Contains(p) || !_index.TryGetValue(p, out int ti)) return null;
        Span<double> s = stackalloc double[2];
        _device.CopyToHost(_normSums, s, 2L * ti);
        return (s[0], s[1]);
    }

    /// <summary>Decodes the fused record of the step just taken (not skipped) into <see cref="LastDiagnostics"/>.</summary>
    private void ReadDiagnostics(IReadOnlyList<StepItem> items)
    {
        ulong[] stats = _chunkCount > 0 && _diag is not null ? _diag.Read() : new ulong[Math.Max(1, _hostTable.Length) * DeviceSignDiagnostics.Stride];
        var acc = new SignAccumulator[items.Count];
        var info = new (string Name, double Bound)[items.Count];
        for (int i = 0; i < items.Count; i++)
        {
            var it = items[i];
            int ti = _index[it.Param];
            acc[i] = DeviceSignDiagnostics.Decode(stats, ti, _tensors[ti].Length, it.Param.Name, "the diagnostics-enabled step");
            info[i] = (it.Param.Name, it.Hyperparameters.SignBound);
            _lastDiag[it.Param] = acc[i];
        }
        LastDiagnostics = SignAccumulator.Report(info, acc);
    }

    /// <summary>The fused diagnostics of the last step for <paramref name="parameters"/> (in that order, with their bounds),
    /// or null when one of them has none (it did not step, or <see cref="Diagnostics"/> was off, or the step was skipped).</summary>
    internal SignDiagnosticsReport? LastDiagnosticsFor(IReadOnlyList<(Parameter Param, double Bound)> parameters)
    {
        var acc = new SignAccumulator[parameters.Count];
        for (int i = 0; i < parameters.Count; i++)
            if (!_lastDiag.TryGetValue(parameters[i].Param, out acc[i]!)) return null;
        return SignAccumulator.Report(parameters.Select(p => (p.Param.Name, p.Bound)).ToArray(), acc);
    }

    /// <summary>
    /// The device copies of <paramref name="param"/> as the last step left them: x after the step, the step's g, and
    /// the state. A hook for kernels that read them in place (diagnostics, <c>kernels/diagnostics.cu</c>); valid until
    /// the next step. False when <paramref name="param"/> did not take part in the last step or it was skipped.
    /// </summary>
    public bool TryGetDeviceTensor(Parameter param, out DeviceTensorView view)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        view = default;
        if (!_lastStepped.Contains(param) || !_index.TryGetValue(param, out int ti)) return false;
        var place = _tensors[ti];
        view = new DeviceTensorView(Address(SlotP, place), Address(SlotG, place), Address(SlotM, place), Address(SlotV, place), place.Length);
        return true;
    }

    private static unsafe void SetScalars(ref CaTensor e, ReadOnlySpan<float> scalars)
    {
        fixed (float* s = e.S) scalars.CopyTo(new Span<float>(s, CaTensor.ScalarCount));
    }

    /// <summary>The state slots (bit per slot) a tensor needs for this algorithm and its hyperparameters; checks that
    /// the state has them.</summary>
    private static uint RequiredSlots(Algorithm algorithm, StepItem it)
    {
        uint slots = 0;
        var st = it.State;
        var hp = it.Hyperparameters;
        void Need(int slot, float[]? buffer, string what)
        {
            if (buffer is not null && buffer.Length != it.Param.Data.Length)
                throw new InvalidOperationException(
                    $"parameter '{it.Param.Name}': state {what} has {buffer.Length} elements, the parameter {it.Param.Data.Length}");
            slots |= 1u << slot;
        }
        void Require(int slot, float[]? buffer, string what)
        {
            if (buffer is null)
                throw new InvalidOperationException(
                    $"parameter '{it.Param.Name}' has no state {what}, which {algorithm.Name()} needs with these hyperparameters " +
                    "(create the state with ParamState.Create)");
            Need(slot, buffer, what);
        }
        // Which buffers the algorithm keeps with these hyperparameters: ParamState.Create is the one place that knows.
        var layout = ParamState.Create(algorithm, hp, 0);
        if (layout.M is not null) Require(SlotM, st.M, "M");
        if (layout.V is not null) Require(SlotV, st.V, "V");
        if (layout.VMax is not null) Require(SlotVMax, st.VMax, "VMax");
        if (layout.Aux is not null) Require(SlotAux, st.Aux, "Aux");
        void Require8(int slot, QuantizedBuffer? have, QuantizedBuffer want, string what)
        {
            if (have is null || have.Length != it.Param.Data.Length || have.Map != want.Map)
                throw new InvalidOperationException(
                    $"parameter '{it.Param.Name}': state {what} must be 8-bit, {it.Param.Data.Length} long, on the {want.Map} map (state_bits = 8)");
            slots |= 1u << slot;
        }
        if (layout.M8 is { } m8) Require8(Slot8M, st.M8, m8, "M");
        if (layout.V8 is { } v8) Require8(Slot8V, st.V8, v8, "V");
        foreach (var slot in algorithm.Info().StateWith(hp))   // created by the first step's kernel (CA_FIRST_STEP)
            if (slot.OnFirstStep && slot.Buffer == StateBuffer.M) Need(SlotM, st.M, "M");
        return slots;
    }

    private void BuildLayout()
    {
        long offset = _options.BaseOffset, blocks = 0;
        var lengths = new long[_tensors.Count];
        _state8 = _tensors.Count > 0 && (_tensors[0].Slots & State8Bits) != 0;
        for (int t = 0; t < _tensors.Count; t++)
        {
            if (((_tensors[t].Slots & State8Bits) != 0) != _state8)
                throw new NotSupportedException("a device backend keeps either 8-bit or float32 optimizer state for all its tensors " +
                                                "(one kernel per launch): give every parameter group the same state_bits");
            long a = _options.Alignment;
            offset = (offset - _options.BaseOffset + a - 1) / a * a + _options.BaseOffset;
            _tensors[t] = _tensors[t] with { Offset = offset, BlockOffset = blocks };
            lengths[t] = _tensors[t].Length;
            offset += _tensors[t].Length;
            blocks += QuantizedBuffer.Blocks(_tensors[t].Length);
        }
        long total = offset;
        if (total > Array.MaxLength)
            throw new NotSupportedException($"the parameters need {total} elements per arena; the host staging arrays hold at most {Array.MaxLength}");
        uint used = (HasFp32Params ? 1u << SlotP : 0u) | 1u << SlotG;
        foreach (var p in _tensors) used |= p.Slots;
        for (int s = 0; s < SlotCount; s++)
        {
            _arenas[s]?.Dispose();
            _arenas[s] = null;
            _staging[s] = [];
            if ((used & (1u << s)) == 0 || total == 0) continue;
            _arenas[s] = _device.Allocate<float>(total);
            _staging[s] = new float[total];
        }
        _lpArena?.Dispose();
        _lpArena = null;
        _lpStaging = [];
        if (LowPrecisionParams && total > 0)
        {
            _lpArena = _device.Allocate<ushort>(total);
            _lpStaging = new ushort[total];
        }
        for (int q = 0; q < 2; q++)
        {
            _codes[q]?.Dispose();
            _absmax[q]?.Dispose();
            (_codes[q], _absmax[q], _codeStaging[q], _absmaxStaging[q]) = (null, null, [], []);
            if (!_state8 || total == 0) continue;
            _codes[q] = _device.Allocate<byte>(total);
            _codeStaging[q] = new byte[total];
            _absmax[q] = _device.Allocate<float>(Math.Max(1, blocks));
            _absmaxStaging[q] = new float[Math.Max(1, blocks)];
        }
        if (_state8 && _maps is null)
        {
            _maps = _device.Allocate<float>(512);
            _device.CopyToDevice<float>([.. DynamicMap.Signed, .. DynamicMap.Unsigned], _maps);
        }
        // 8-bit state: one thread block per quantization block (kernels/state8.cu), so a chunk is a 2,048-element block.
        var chunks = ChunkTable.Build(lengths, _state8 ? QuantizedBuffer.BlockSize : _options.ChunkSize);
        _chunkCount = chunks.Length;
        _chunkTable?.Dispose();
        _chunkTable = _device.Allocate<CaChunk>(Math.Max(1, chunks.Length));
        if (chunks.Length > 0) _device.CopyToDevice<CaChunk>(chunks, _chunkTable);
        _tensorTable?.Dispose();
        _tensorTable = _device.Allocate<CaTensor>(Math.Max(1, _tensors.Count));
        _hostTable = new CaTensor[_tensors.Count];
        for (int t = 0; t < _tensors.Count; t++)
        {
            var place = _tensors[t];
            ref var e = ref _hostTable[t];
            e.N = place.Length;
            e.P = Address(SlotP, place);
            e.G = Address(SlotG, place);
            e.M = Address(SlotM, place);
            e.V = Address(SlotV, place);
            e.VMax = Address(SlotVMax, place);
            e.Aux = Address(SlotAux, place);
            if (_state8 && total > 0)
            {
                // kernels/state8.cu: m, v → the codes; vmax, aux → the block absmax of m and v.
                (e.M, e.V) = (_codes[0]!.Pointer + (nint)place.Offset, _codes[1]!.Pointer + (nint)place.Offset);
                (e.VMax, e.Aux) = (_absmax[0]!.Pointer + (nint)(place.BlockOffset * sizeof(float)), _absmax[1]!.Pointer + (nint)(place.BlockOffset * sizeof(float)));
            }
            e.Lp = _lpArena is { } lpa ? lpa.Pointer + (nint)(place.Offset * sizeof(ushort)) : 0;
        }
        _partials?.Dispose();
        _partials = _device.Allocate<double>(Math.Max(1, chunks.Length));
        foreach (var b in new IDisposable?[] { _pieceTable, _normTable, _normPartials, _normSums, _normLrs }) b?.Dispose();
        (_pieceTable, _normTable, _normPartials, _normSums, _normLrs, _pieceCount) = (null, null, null, null, null, 0);
        if (_algorithm?.Info().TensorNorms is not null)
        {
            var pieces = TensorNorms.Pieces(lengths);
            _pieceCount = pieces.Length;
            _firstPiece = new int[_tensors.Count];
            for (int p = pieces.Length - 1; p >= 0; p--) _firstPiece[pieces[p].Tensor] = p;
            _pieceTable = _device.Allocate<CaChunk>(Math.Max(1, pieces.Length));
            if (pieces.Length > 0) _device.CopyToDevice<CaChunk>(pieces, _pieceTable);
            _normTable = _device.Allocate<CaNormTensor>(Math.Max(1, _tensors.Count));
            _normPartials = _device.Allocate<double>(Math.Max(1, 2L * pieces.Length));
            _normSums = _device.Allocate<double>(Math.Max(1, 2L * _tensors.Count));
            _normLrs = _device.Allocate<double>(Math.Max(1, _tensors.Count));
            _hostNorms = new CaNormTensor[_tensors.Count];
            _hostLrs = new double[_tensors.Count];
        }
        _norm ??= _device.Allocate<double>(1);
        _coef ??= _device.Allocate<float>(1);
        if (_flag is null)
        {
            _flag = _device.Allocate<int>(1);
            _device.Zero(_flag);
            _epoch = 0;
        }
        LayoutBuilds++;
        _layoutDirty = false;
    }

    private nint Address(int slot, TensorPlace place)
    {
        bool has = slot is SlotP && HasFp32Params || slot is SlotG || (place.Slots & (1u << slot)) != 0;
        if (!has || _arenas[slot] is not { } arena) return 0;
        return arena.Pointer + (nint)(place.Offset * sizeof(float));
    }

    private void Stage8(TensorPlace place, ParamState state)
    {
        if (place.Length == 0) return;
        state.M8!.Codes.CopyTo(_codeStaging[0], place.Offset);
        state.V8!.Codes.CopyTo(_codeStaging[1], place.Offset);
        state.M8.Absmax.CopyTo(_absmaxStaging[0], place.BlockOffset);
        state.V8.Absmax.CopyTo(_absmaxStaging[1], place.BlockOffset);
    }

    private void Unstage8(TensorPlace place, ParamState state)
    {
        if (place.Length == 0) return;
        _codeStaging[0].AsSpan((int)place.Offset, place.Length).CopyTo(state.M8!.Codes);
        _codeStaging[1].AsSpan((int)place.Offset, place.Length).CopyTo(state.V8!.Codes);
        _absmaxStaging[0].AsSpan((int)place.BlockOffset, state.M8.Absmax.Length).CopyTo(state.M8.Absmax);
        _absmaxStaging[1].AsSpan((int)place.BlockOffset, state.V8.Absmax.Length).CopyTo(state.V8.Absmax);
    }

    private void Stage(int slot, TensorPlace place, float[] host) => host.CopyTo(_staging[slot], (int)place.Offset);

    private void StageIf(int slot, TensorPlace place, float[]? host)
    {
        if (host is not null && (place.Slots & (1u << slot)) != 0) Stage(slot, place, host);
    }

    private void Unstage(int slot, TensorPlace place, float[] host) =>
        _staging[slot].AsSpan((int)place.Offset, place.Length).CopyTo(host);

    private void UnstageIf(int slot, TensorPlace place, float[]? host)
    {
        if (host is not null && (place.Slots & (1u << slot)) != 0) Unstage(slot, place, host);
    }

    /// <summary>Frees the device buffers: the chunk table, the resident arenas and a captured graph.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var a in _arenas) a?.Dispose();
        _lpArena?.Dispose();
        _tensorTable?.Dispose();
        _chunkTable?.Dispose();
        _flag?.Dispose();
        _partials?.Dispose();
        _norm?.Dispose();
        _coef?.Dispose();
        foreach (var b in new IDisposable?[] { _pieceTable, _normTable, _normPartials, _normSums, _normLrs }) b?.Dispose();
        foreach (var b in _codes) b?.Dispose();
        foreach (var b in _absmax) b?.Dispose();
        _maps?.Dispose();
        _diag?.Dispose();
        _args.Dispose();
        _plan?.Dispose();
        if (_ownsDevice) _device.Dispose();
    }

    // BlockOffset (8-bit state): where the tensor's block absmax values start in the absmax arenas.
    private readonly record struct TensorPlace(int Length, uint Slots, long Offset, long BlockOffset = 0);
}
