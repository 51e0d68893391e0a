namespace CudaAdam.Tests.Api;

/// <summary>examples/fsharp/hyperparameters.fsx under <c>dotnet fsi</c>: <see cref="Hyperparameters.For"/> and
/// <see cref="Hyperparameters.With"/> from F#, with its own check (every algorithm's best run brings the loss below 5%).</summary>
[TestFixture]
[NonParallelizable]
public class FSharpSampleTests
{
    [Test]
    public void TheFSharpSampleBuildsHyperparametersFromTheAlgorithmsDefaultsAndTrains()
    {
        var dll = TestPaths.InRepo("src", "CudaAdam", "bin", "Release", "net10.0", "CudaAdam.dll");
        if (!File.Exists(dll))
            Prerequisite.Missing($"{dll} is missing: the sample references the Release build (./build.sh build)");
        var (code, output) = ChildProcess.Run("dotnet", ["fsi", "examples/fsharp/hyperparameters.fsx"], TestPaths.RepoRoot, TimeSpan.FromMinutes(3));
        Assert.That(code, Is.EqualTo(0), $"dotnet fsi examples/fsharp/hyperparameters.fsx failed:\n{output}");
        var lion = Hyperparameters.Defaults(Algorithm.Lion);
        Assert.That(output, Does.Contain($"lion:  lr 0.001, beta1 {lion.Beta1:G}, beta2 {lion.Beta2:G}, weight_decay {lion.WeightDecay:G}"),
            "the sample's Lion must carry Lion's defaults");
        Assert.That(output, Does.Contain("fsharp sample: OK"));
    }
}
