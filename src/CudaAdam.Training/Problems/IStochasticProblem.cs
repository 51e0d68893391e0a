#pragma warning disable CS1591 // CS1591 backlog (issue 13): 1 public members here have no XML doc yet; document them, then delete this line
using CudaAdam.Training;

namespace CudaAdam.Problems;

/// <summary>
/// One step's minibatch: the 1-based step number, the batch size B, and — for a finite-sum problem
/// (<see cref="IStochasticProblem.DataSize"/> set) — the B sample indices drawn without replacement from a shuffled
/// epoch (<see cref="Training.Data.MinibatchSampler"/>). Streams (no data set) leave <see cref="Indices"/> empty and draw
/// their B samples from the generator, or, for an online sequence, read rounds (t−1)·B + 1 … t·B.
/// </summary>
public readonly ref struct Minibatch
{
    public Minibatch(long step, int size, ReadOnlySpan<int> indices)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        if (indices.Length != 0 && indices.Length != size)
            throw new ArgumentException($"a minibatch of {size} has {indices.Length} indices; give all of them or none");
        Step = step;
        Size = size;
        Indices = indices;
    }

    /// <summary>The 1-based optimizer step this batch is for.</summary>
    public long Step { get; }
    /// <summary>B, the number of samples averaged.</summary>
    public int Size { get; }
    /// <summary>The sample indices (finite sums), else empty.</summary>
    public ReadOnlySpan<int> Indices { get; }
}

/// <summary>
/// A stochastic optimization problem min_x F(x) over float32 parameters x ∈ ℝ^d, in one interface for the scripts,
/// the <c>cudaadam reddi</c> command and <c>cudaadam train</c> (<see cref="Trainer"/> over a <see cref="Training.ProblemObjective"/>):
/// <list type="bullet">
/// <item>a stochastic gradient g(x; batch) with E[g] = ∇F(x) (the minibatch mean), drawn from a seeded <see cref="Rng"/>
/// (or, for online sequences, fixed by the step number);</item>
/// <item>the objective F the run is judged by (<see cref="Loss"/>: a test loss or the exact expectation) and its exact
/// gradient, which finite differences check;</item>
/// <item>an optional projection onto a feasible set (Reddi et al.: [−1, 1]), applied after every optimizer step; the
/// optimizer's state is not changed by it, as in Π_F of the papers;</item>
/// <item>the optimum where it is known.</item>
/// </list>
/// The problem itself is immutable: every random draw comes from the caller's generator, so a run is reproducible
/// from its seed and a checkpoint of the generator.
/// </summary>
public interface IStochasticProblem
{
    /// <summary>The config name (<c>model.kind</c> of <c>cudaadam train</c>), e.g. <c>quadratic_deep</c>.</summary>
    string Name { get; }
    /// <summary>The objective and the noise in one line, for reports.</summary>
    string Description { get; }
    /// <summary>d, the number of parameters.</summary>
    int Dimension { get; }
    /// <summary>n for a finite sum (an epoch is ⌊n/B⌋ steps, minibatches drawn without replacement), null for a stream.</summary>
    int? DataSize { get; }
    /// <summary>The fixed start x0 (a new array each call).</summary>
    float[] InitialPoint();
    /// <summary>F(x), accumulated in double: the evaluation ("test") loss.</summary>
    double Loss(ReadOnlySpan<float> x);
    /// <summary>∇F(x) into <paramref name="grad"/> (length d), exact, in double.</summary>
    void Gradient(ReadOnlySpan<float> x, Span<double> grad);
    /// <summary>A stochastic gradient at <paramref name="x"/> into <paramref name="grad"/>: the mean over the batch's
    /// samples. Returns the minibatch loss (the mean of the samples' losses at x).</summary>
    double StochasticGradient(ReadOnlySpan<float> x, Span<float> grad, Minibatch batch, Rng rng);
    /// <summary>Projects x onto the feasible set in place (nothing for an unconstrained problem).</summary>
    void Project(Span<float> x);
    /// <summary>A minimizer of F, or null when it is not known in closed form.</summary>
    double[]? Optimum { get; }
    /// <summary>min F, or null when it is not known.</summary>
    double? OptimalLoss { get; }
}
