#pragma warning disable CS1591 // CS1591 backlog (issue 13): 10 public members here have no XML doc yet; document them, then delete this line
using CudaAdam.Training;

namespace CudaAdam.Problems;

/// <summary>
/// DeepOBS's <c>quadratic_deep</c> (Schneider, Balles &amp; Hennig, "DeepOBS: A Deep Learning Optimizer Benchmark
/// Suite", ICLR 2019; source: fsschneider/DeepOBS, <c>deepobs/tensorflow/testproblems/quadratic_deep.py</c>,
/// <c>_quadratic.py</c> and <c>datasets/quadratic.py</c>, read for the specification, not copied):
/// <code>
/// ℓ(θ; x) = ½ (θ − x)ᵀ Q (θ − x),      θ ∈ ℝ^100,  θ0 = (1, …, 1)
/// Q = Rᵀ diag(λ) R,   λ_1..90 ~ U(0, 1),  λ_91..100 ~ U(30, 60)   (90% small, 10% large: the spectrum reported for
///                                                                  deep nets, Chaudhari et al. 2016, arXiv 1611.01838)
/// R: a Haar-random rotation; λ and R are fixed properties of the problem (DeepOBS draws them with seed 42)
/// data: 1000 train and 1000 test points x ~ N(0, 0.6²·I), fixed (DeepOBS: seeds 42 and 43), stored as float32
/// minibatch loss = mean over B train points of ℓ;  ∇ = Q (θ − x̄_B)
/// test loss  F(θ) = mean over the test points of ℓ = ½ (θ − x̄)ᵀ Q (θ − x̄) + ½·mean_i (x_i − x̄)ᵀ Q (x_i − x̄)
/// </code>
/// DeepOBS's baseline setting: batch 128, 100 epochs, minibatches without replacement with the remainder dropped
/// (⌊1000/128⌋ = 7 steps per epoch, 700 steps). The test optimum is x̄_test with min F = ½·mean_i (x_i − x̄)ᵀQ(x_i − x̄).
/// </summary>
/// <remarks>
/// Same distribution, not the same numbers: λ, R and the data come from this project's <see cref="Rng"/> (xoshiro256**),
/// not NumPy's Mersenne twister, and R is drawn by Gram–Schmidt on a Gaussian matrix with the signs fixed
/// (Mezzadri 2007, Haar-distributed on O(d), determinant forced to +1) rather than DeepOBS's subgroup algorithm, which
/// samples the same distribution. Losses are therefore comparable with DeepOBS's in distribution only.
/// Train-set quantities are precomputed (Q·x_i and x_iᵀQx_i), so a step costs one d×d product plus B dot products.
/// </remarks>
public sealed class QuadraticDeep : IStochasticProblem
{
    private readonly double[] _q;            // d×d row-major, symmetric
    private readonly double[] _qTrain;       // n×d: Q·x_i
    private readonly double[] _cTrain;       // x_iᵀ Q x_i
    private readonly double[] _qTestMean;    // mean_i Q·x_i over the test set
    private readonly double _cTestMean;      // mean_i x_iᵀ Q x_i over the test set
    private readonly double[] _testMean;     // x̄_test

    /// <param name="dimension">d (DeepOBS: 100); the top d/10 eigenvalues are the large ones.</param>
    /// <param name="dataSize">Points in each of the train and test sets (DeepOBS: 1000).</param>
    /// <param name="noise">Standard deviation of the data (DeepOBS: 0.6).</param>
    /// <param name="seed">Seeds the spectrum, the rotation and the data (fixed properties of the problem).</param>
    public QuadraticDeep(int dimension = 100, int dataSize = 1000, double noise = 0.6, ulong seed = 42)
    {
        if (dimension < 10) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "the dimension must be >= 10 (10% of the eigenvalues are large)");
        ArgumentOutOfRangeException.ThrowIfLessThan(dataSize, 1);
        if (!(noise >= 0) || !double.IsFinite(noise)) throw new ArgumentOutOfRangeException(nameof(noise), noise, "noise must be a finite number >= 0");
        int d = dimension;
        Dimension = d;
        DataSize = dataSize;
        Noise = noise;

        var structure = Rng.ForStream(seed, 0);
        int large = d / 10;
        Eigenvalues = new double[d];
        for (int i = 0; i < d - large; i++) Eigenvalues[i] = structure.NextDouble();            // U(0, 1)
        for (int i = d - large; i < d; i++) Eigenvalues[i] = 30 + 30 * structure.NextDouble();  // U(30, 60)
        Rotation = HaarRotation(d, structure);
        _q = new double[d * d];
        for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++)
        {
            double s = 0;
            for (int k = 0; k < d; k++) s += Rotation[k * d + i] * Eigenvalues[k] * Rotation[k * d + j]; // (Rᵀ Λ R)_ij
            _q[i * d + j] = s;
        }
        for (int i = 0; i < d; i++)
        for (int j = 0; j < i; j++) _q[i * d + j] = _q[j * d + i] = 0.5 * (_q[i * d + j] + _q[j * d + i]); // exactly symmetric

        Train = Draw(Rng.ForStream(seed, 1));
        Test = Draw(Rng.ForStream(seed, 2));
        _qTrain = new double[dataSize * d];
        _cTrain = new double[dataSize];
        for (int i = 0; i < dataSize; i++)
            _cTrain[i] = QuadForm(Train.AsSpan(i * d, d), _qTrain.AsSpan(i * d, d));
        _qTestMean = new double[d];
        _testMean = new double[d];
        var qx = new double[d];
        double cSum = 0;
        for (int i = 0; i < dataSize; i++)
        {
            cSum += QuadForm(Test.AsSpan(i * d, d), qx);
            for (int j = 0; j < d; j++) { _qTestMean[j] += qx[j]; _testMean[j] += Test[i * d + j]; }
        }
        for (int j = 0; j < d; j++) { _qTestMean[j] /= dataSize; _testMean[j] /= dataSize; }
        _cTestMean = cSum / dataSize;
        // F(x̄) = ½ x̄ᵀQx̄ − x̄ᵀ mean(Qx_i) + ½ mean(x_iᵀQx_i)
        double xqx = 0, xm = 0;
        for (int i = 0; i < d; i++)
        {
            double row = 0;
            for (int j = 0; j < d; j++) row += _q[i * d + j] * _testMean[j];
            xqx += _testMean[i] * row;
            xm += _testMean[i] * _qTestMean[i];
        }
        OptimalLoss = 0.5 * xqx - xm + 0.5 * _cTestMean;

        float[] Draw(Rng rng)
        {
            var x = new float[dataSize * d];
            for (int i = 0; i < x.Length; i++) x[i] = (float)(noise * rng.NextNormal());
            return x;
        }
    }

    public string Name => "quadratic_deep";
    public string Description => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"DeepOBS quadratic_deep: ½(θ−x)ᵀQ(θ−x), d = {Dimension}, Q = Rᵀdiag(λ)R with 90% of λ in U(0,1) and 10% in U(30,60), x ~ N(0, {Noise}²I), {DataSize} train/test points, θ0 = 1");
    public int Dimension { get; }
    public int? DataSize { get; }
    /// <summary>The data's standard deviation.</summary>
    public double Noise { get; }
    /// <summary>λ (ascending blocks: the small ones first).</summary>
    public double[] Eigenvalues { get; }
    /// <summary>R, d×d row-major, orthogonal with determinant +1.</summary>
    public double[] Rotation { get; }
    /// <summary>Q = Rᵀ diag(λ) R, d×d row-major (a copy).</summary>
    public double[] Hessian => (double[])_q.Clone();
    /// <summary>The train points, n×d row-major.</summary>
    public float[] Train { get; }
    /// <summary>The test points, n×d row-major.</summary>
    public float[] Test { get; }
    public double[]? Optimum => (double[])_testMean.Clone();
    public double? OptimalLoss { get; }

    public float[] InitialPoint()
    {
        var x = new float[Dimension];
        Array.Fill(x, 1f);
        return x;
    }

    public double Loss(ReadOnlySpan<float> x)
    {
        int d = Dimension;
        double xqx = 0, xm = 0;
        for (int i = 0; i < d; i++)
        {
            double row = 0;
            for (int j = 0; j < d; j++) row += _q[i * d + j] * x[j];
            xqx += x[i] * row;
            xm += x[i] * _qTestMean[i];
        }
        return 0.5 * xqx - xm + 0.5 * _cTestMean;
    }

    public void Gradient(ReadOnlySpan<float> x, Span<double> grad)
    {
        int d = Dimension;
        for (int i = 0; i < d; i++)
        {
            double row = 0;
            for (int j = 0; j < d; j++) row += _q[i * d + j] * x[j];
            grad[i] = row - _qTestMean[i];
        }
    }

    /// <summary>∇ = Qθ − mean_B Q·x_i and the minibatch loss mean_B ½(θᵀQθ − 2θᵀQx_i + x_iᵀQx_i). Needs the batch's
    /// indices (a finite sum).</summary>
    public double StochasticGradient(ReadOnlySpan<float> x, Span<float> grad, Minibatch batch, Rng rng)
    {
        if (batch.Indices.Length == 0) throw new ArgumentException("quadratic_deep is a finite sum: the minibatch must carry its sample indices");
        int d = Dimension;
        var qTheta = new double[d];
        var sum = new double[d];
        double xqx = 0;
        for (int i = 0; i < d; i++)
        {
            double row = 0;
            for (int j = 0; j < d; j++) row += _q[i * d + j] * x[j];
            qTheta[i] = row;
            xqx += x[i] * row;
        }
        double loss = 0;
        foreach (int s in batch.Indices)
        {
            var qx = _qTrain.AsSpan(s * d, d);
            double cross = 0;
            for (int j = 0; j < d; j++) { sum[j] += qx[j]; cross += x[j] * qx[j]; }
            loss += 0.5 * (xqx - 2 * cross + _cTrain[s]);
        }
        int b = batch.Indices.Length;
        for (int j = 0; j < d; j++) grad[j] = (float)(qTheta[j] - sum[j] / b);
        return loss / b;
    }

    public void Project(Span<float> x) { }

    /// <summary>Q·x into <paramref name="qx"/>; returns xᵀQx.</summary>
    private double QuadForm(ReadOnlySpan<float> x, Span<double> qx)
    {
        int d = Dimension;
        double s = 0;
        for (int i = 0; i < d; i++)
        {
            double row = 0;
            for (int j = 0; j < d; j++) row += _q[i * d + j] * x[j];
            qx[i] = row;
            s += x[i] * row;
        }
        return s;
    }

    /// <summary>
    /// A Haar-random rotation (d×d row-major, orthogonal, det +1): Gram–Schmidt (twice, for orthogonality to rounding)
    /// on the rows of a standard Gaussian matrix, which is the Q of its QR factorization with R's diagonal positive,
    /// Haar on O(d) (Mezzadri, "How to generate random matrices from the classical compact groups", 2007); the
    /// first row's sign is flipped when the determinant is −1.
    /// </summary>
    public static double[] HaarRotation(int d, Rng rng)
    {
        var r = new double[d * d];
        for (int i = 0; i < r.Length; i++) r[i] = rng.NextNormal();
        for (int i = 0; i < d; i++)
        {
            var row = r.AsSpan(i * d, d);
            for (int pass = 0; pass < 2; pass++)
                for (int k = 0; k < i; k++)
                {
                    var prev = r.AsSpan(k * d, d);
                    double dot = 0;
                    for (int j = 0; j < d; j++) dot += row[j] * prev[j];
                    for (int j = 0; j < d; j++) row[j] -= dot * prev[j];
                }
            double norm = 0;
            for (int j = 0; j < d; j++) norm += row[j] * row[j];
            norm = Math.Sqrt(norm);
            for (int j = 0; j < d; j++) row[j] /= norm;
        }
        if (Determinant(r, d) < 0)
            for (int j = 0; j < d; j++) r[j] = -r[j];
        return r;
    }

    /// <summary>The determinant by LU with partial pivoting (for the sign of an orthogonal matrix).</summary>
    internal static double Determinant(double[] m, int d)
    {
        var a = (double[])m.Clone();
        double det = 1;
        for (int c = 0; c < d; c++)
        {
            int p = c;
            for (int r = c + 1; r < d; r++) if (Math.Abs(a[r * d + c]) > Math.Abs(a[p * d + c])) p = r;
            if (a[p * d + c] == 0) return 0;
            if (p != c)
            {
                for (int j = 0; j < d; j++) (a[p * d + j], a[c * d + j]) = (a[c * d + j], a[p * d + j]);
                det = -det;
            }
            det *= a[c * d + c];
            for (int r = c + 1; r < d; r++)
            {
                double f = a[r * d + c] / a[c * d + c];
                for (int j = c; j < d; j++) a[r * d + j] -= f * a[c * d + j];
            }
        }
        return det;
    }
}
