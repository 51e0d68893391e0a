using CudaAdam.Training;
using CudaAdam.Training.Data;
using CudaAdam.Training.Models;

namespace CudaAdam.Tests.Training;

/// <summary>Tiny training runs on the embedded Fashion-MNIST subset, fast enough for unit tests.</summary>
internal static class TrainingFixtures
{
    private static readonly Lazy<(Dataset Train, Dataset Test)> Embedded = new(FashionMnist.LoadEmbedded);

    public static Dataset Train(int n) => Embedded.Value.Train.Take(n);
    public static Dataset Test(int n) => Embedded.Value.Test.Take(n);

    /// <summary>An MLP 784-hidden-10 with dropout 0.3 and an optimizer, trained on <paramref name="trainCount"/> images.</summary>
    public static Trainer Mlp(Algorithm algorithm, Hyperparameters hp, int hidden = 12, int trainCount = 120, int batch = 32,
        int epochs = 2, ulong seed = 7, Func<Optimizer, long, LrScheduler>? schedule = null, int testCount = 50)
    {
        var dropRng = Rng.ForStream(seed, 2);
        var model = ModelZoo.Mlp(784, [hidden], 10, dropout: 0.3, inputDropout: 0.1, Rng.ForStream(seed, 0), dropRng);
        var opt = new Optimizer(algorithm, model.Parameters, hp);
        var options = new TrainerOptions { Epochs = epochs, BatchSize = batch, Scheduler = schedule ?? LrScheduler.ForKind("cosine", warmup: 2) };
        return new Trainer(model, opt, Train(trainCount), Test(testCount), options, Rng.ForStream(seed, 1), dropRng);
    }

    /// <summary>The seven optimizers of the train job, with the job's settings.</summary>
    public static IEnumerable<TestCaseData> Optimizers()
    {
        yield return new TestCaseData(Algorithm.Adam, Hyperparameters.Defaults(Algorithm.Adam)).SetArgDisplayNames("adam");
        yield return new TestCaseData(Algorithm.AdamW, Hyperparameters.Defaults(Algorithm.AdamW)).SetArgDisplayNames("adamw");
        yield return new TestCaseData(Algorithm.Adam, Hyperparameters.Defaults(Algorithm.Adam) with { Amsgrad = true }).SetArgDisplayNames("amsgrad");
        yield return new TestCaseData(Algorithm.SignAdam, Hyperparameters.Defaults(Algorithm.SignAdam)).SetArgDisplayNames("signadam");
        yield return new TestCaseData(Algorithm.Lion, Hyperparameters.Defaults(Algorithm.Lion)).SetArgDisplayNames("lion");
        yield return new TestCaseData(Algorithm.Sgd, Hyperparameters.For(Algorithm.Sgd, lr: 0.05, momentum: 0.9, nesterov: true)).SetArgDisplayNames("sgd-nesterov");
        yield return new TestCaseData(Algorithm.AdamWScheduleFree, Hyperparameters.Defaults(Algorithm.AdamWScheduleFree) with { WarmupSteps = 20 })
            .SetArgDisplayNames("schedulefree-adamw");
    }

    /// <summary>A model run's objective (its model, data sets, generators, evaluation).</summary>
    public static ModelObjective Of(Trainer t) => (ModelObjective)t.Objective;

    public static byte[] Bits(Trainer t) =>
        t.Parameters.SelectMany(p => p.Data).SelectMany(BitConverter.GetBytes).ToArray();

    public static byte[] StateBits(Trainer t) => t.Parameters.SelectMany(p =>
    {
        var s = t.Optimizer.State(p);
        if (s is null) return Array.Empty<byte>();
        var buffers = new[] { s.M, s.V, s.VMax, s.Aux }.Where(b => b is not null).SelectMany(b => b!);
        return BitConverter.GetBytes(s.Step).Concat(BitConverter.GetBytes(s.Beta1Power)).Concat(BitConverter.GetBytes(s.Beta2Power))
            .Concat(BitConverter.GetBytes(s.MuProduct)).Concat(buffers.SelectMany(BitConverter.GetBytes));
    }).ToArray();
}
