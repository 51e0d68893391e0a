namespace CudaAdam.Device;

/// <summary>
/// The CPU reference with the device backend's step semantics around it, so that the two can be compared bit for
/// bit: gradients multiplied by <see cref="InvScale"/> in float32 (as the kernels do), and a step that meets a
/// non-finite unscaled gradient in ANY parameter skipped as a whole (nothing changes; <see cref="LastStepSkipped"/>).
/// The element math is <see cref="Reference.Reference.Step"/> unchanged.
/// </summary>
public sealed class CheckedReferenceBackend : IStepBackend, ISkippingStepBackend
{
    public string Name => "cpu";

    /// <summary>Gradients are multiplied by this first (1 leaves them as they are).</summary>
    public float InvScale { get; set; } = 1f;

    public bool LastStepSkipped { get; private set; }

    public void Step(Algorithm algorithm, IReadOnlyList<StepItem> items)
    {
        LastStepSkipped = false;
        var scaled = new float[items.Count][];
        for (int i = 0; i < items.Count; i++)
        {
            var g = items[i].Param.Grad ?? throw new ArgumentException($"parameter '{items[i].Param.Name}' has no gradient");
            var s = new float[g.Length];
            for (int j = 0; j < g.Length; j++)
            {
                s[j] = g[j] * InvScale;
                if (!float.IsFinite(s[j])) LastStepSkipped = true;
            }
            scaled[i] = s;
        }
        if (LastStepSkipped) return;
        for (int i = 0; i < items.Count; i++)
        {
            var it = items[i];
            Reference.Reference.Step(algorithm, it.Param.Data, scaled[i], it.State, it.Hyperparameters, it.Scalars);
        }
    }

    public void Dispose() { }
}
