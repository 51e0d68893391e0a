#pragma warning disable CS1591 // CS1591 backlog (issue 13): 11 public members here have no XML doc yet; document them, then delete this line
namespace CudaAdam.Training.Data;

/// <summary>
/// A labelled data set in memory: <see cref="Count"/> examples of <see cref="Features"/> floats each (row-major) and a
/// byte label per example.
/// </summary>
public sealed class Dataset
{
    public Dataset(string name, float[] inputs, byte[] labels, int features, int classes)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(labels);
        if (features <= 0 || inputs.Length != (long)labels.Length * features)
            throw new ArgumentException($"{name}: {inputs.Length} input values do not make {labels.Length} examples of {features} features");
        int bad = Array.FindIndex(labels, l => l >= classes);
        if (bad >= 0) throw new ArgumentException($"{name}: label {labels[bad]} of example {bad} is not below {classes} classes");
        Name = name; Inputs = inputs; Labels = labels; Features = features; Classes = classes;
    }

    public string Name { get; }
    public float[] Inputs { get; }
    public byte[] Labels { get; }
    public int Features { get; }
    public int Classes { get; }
    public int Count => Labels.Length;

    /// <summary>The first <paramref name="count"/> examples (all when count is null or larger).</summary>
    public Dataset Take(int? count)
    {
        if (count is null || count >= Count) return this;
        ArgumentOutOfRangeException.ThrowIfNegative(count.Value);
        return new Dataset(Name, Inputs.AsSpan(0, count.Value * Features).ToArray(), Labels.AsSpan(0, count.Value).ToArray(), Features, Classes);
    }

    /// <summary>Copies examples <paramref name="indices"/> into <paramref name="inputs"/> (row-major) and <paramref name="labels"/>.</summary>
    public void Gather(ReadOnlySpan<int> indices, Span<float> inputs, Span<byte> labels)
    {
        for (int i = 0; i < indices.Length; i++)
        {
            Inputs.AsSpan(indices[i] * Features, Features).CopyTo(inputs.Slice(i * Features, Features));
            labels[i] = Labels[indices[i]];
        }
    }
}

/// <summary>
/// Seeded shuffled minibatches: each epoch a Fisher–Yates permutation of 0..n−1 from the sampler's own
/// <see cref="Rng"/>, cut into batches of <see cref="BatchSize"/> (the last one smaller when n is not a multiple).
/// Its state (permutation, position, generator) is saved in checkpoints so a resumed run sees the same batches.
/// </summary>
public sealed class MinibatchSampler
{
    private int[] _order;

    public MinibatchSampler(int count, int batchSize, Rng rng)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        Count = count;
        BatchSize = batchSize;
        Rng = rng ?? throw new ArgumentNullException(nameof(rng));
        _order = Enumerable.Range(0, count).ToArray();
        Position = count; // the first NextBatch starts an epoch
    }

    public int Count { get; }
    public int BatchSize { get; }
    public Rng Rng { get; }
    /// <summary>Examples of the current permutation already served.</summary>
    public int Position { get; private set; }
    /// <summary>Batches per epoch: ⌈n / batch⌉.</summary>
    public int BatchesPerEpoch => (Count + BatchSize - 1) / BatchSize;
    /// <summary>The current permutation (for checkpoints).</summary>
    public IReadOnlyList<int> Order => _order;

    /// <summary>The indices of the next batch; a new permutation is drawn when the previous one is used up.</summary>
    public ReadOnlySpan<int> NextBatch()
    {
        if (Position >= Count)
        {
            for (int i = 0; i < Count; i++) _order[i] = i;
            Rng.Shuffle(_order.AsSpan());
            Position = 0;
        }
        int n = Math.Min(BatchSize, Count - Position);
        var batch = _order.AsSpan(Position, n);
        Position += n;
        return batch;
    }

    /// <summary>Restores a state saved from <see cref="Order"/> and <see cref="Position"/>.</summary>
    /// <exception cref="ArgumentException">The permutation does not fit this sampler.</exception>
    public void Restore(int[] order, int position)
    {
        if (order.Length != Count) throw new ArgumentException($"sampler state has {order.Length} indices, the data set {Count}");
        if (position < 0 || position > Count) throw new ArgumentException($"sampler position {position} is outside [0, {Count}]");
        var seen = new bool[Count];
        foreach (int i in order)
        {
            if (i < 0 || i >= Count || seen[i]) throw new ArgumentException("sampler state is not a permutation of the data set's indices");
            seen[i] = true;
        }
        _order = (int[])order.Clone();
        Position = position;
    }
}
