using System.Reflection;
using CudaAdam.Tests.Cli;
using CudaAdam.Training.Jobs;

namespace CudaAdam.Tests.Api;

/// <summary>The one hyperparameter schema (<see cref="HyperparameterSchema"/>) behind configs and flags.</summary>
public class HyperparameterSchemaTests
{
    private static string TrainConfigWith(string optimizerEntry, string extra = "") => $$"""
        { "name": "tiny", "model": { "hidden": [4] }, "data": { "source": "embedded", "train_limit": 10, "test_limit": 10 },
          "training": { "epochs": 1, "batch_size": 10 }, "optimizers": [ {{optimizerEntry}} ] {{extra}} }
        """;

    private static TrainConfig Load(string json) =>
        TrainConfig.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json)), "test config");

    [Test]
    public void EveryHyperparametersPropertyIsAKey_UnderTorchsSnakeCaseName()
    {
        var properties = typeof(Hyperparameters).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToArray();
        Assert.That(HyperparameterSchema.Keys.Select(k => k.Property), Is.EquivalentTo(properties.Select(p => p.Name)),
            "a property added to the record (a new algorithm's hyperparameter) is a key with no further code");
        Assert.That(HyperparameterSchema.Keys.Select(k => k.Name), Is.Unique);
        Assert.That(HyperparameterSchema.Find("weight-decay")!.Property, Is.EqualTo("WeightDecay"));
        Assert.Multiple(() =>
        {
            Assert.That(HyperparameterSchema.Snake("InitialAccumulatorValue"), Is.EqualTo("initial_accumulator_value"));
            Assert.That(HyperparameterSchema.Snake("Beta1"), Is.EqualTo("beta1"));
            Assert.That(HyperparameterSchema.Snake("Beta2Decay"), Is.EqualTo("beta2_decay"));
            Assert.That(HyperparameterSchema.Snake("T0"), Is.EqualTo("t0"));
            Assert.That(HyperparameterSchema.Snake("NsSteps"), Is.EqualTo("ns_steps"));
            Assert.That(HyperparameterSchema.Snake("Lr"), Is.EqualTo("lr"));
        });
        Assert.That(HyperparameterSchema.Tuples.Select(t => t.Torch), Does.Contain("betas"));
    }

    /// <summary>Every key of every algorithm, set to a value other than the default where the algorithm allows it,
    /// reaches the hyperparameters through the train config and through replay's flags alike.</summary>
    [Test]
    public void EveryKeyOfEveryAlgorithm_IsAcceptedByTheTrainConfig_AndIsAReplayFlag()
    {
        string usage = new CudaAdam.Cli.Commands.ReplayCommand().Usage;
        foreach (var key in HyperparameterSchema.Keys)
        {
            Assert.That(usage, Does.Contain($"--{key.Kebab}"), $"replay's flags list {key.Name}");
            foreach (var algorithm in AlgorithmNames.All)
            {
                if (OptimizerConfig.ScheduleFreeKeys.Contains(key.Name) && algorithm.Info().EvalInterpolation is null) continue;   // theirs alone
                var defaults = Hyperparameters.Defaults(algorithm);
                string value = key.Format(defaults);
                string json = key.IsFlag ? value : key.Type.IsEnum ? $"\"{value}\"" : value;
                var config = Load(TrainConfigWith($$"""{ "name": "{{algorithm.Name()}}", "{{key.Name}}": {{json}} }""")).Resolve();
                Assert.That(key.Get(config.Optimizers![0].Hyperparameters()), Is.EqualTo(key.Get(defaults)), $"{algorithm.Name()}.{key.Name}");
            }
        }
    }

    [Test]
    public void RmsPropCentered_TheKeyTheTrainConfigUsedToRefuse()
    {
        var config = Load(TrainConfigWith("""{ "name": "rmsprop", "centered": true, "alpha": 0.9, "momentum": 0.5 }""")).Resolve();
        var hp = config.Optimizers![0].Hyperparameters();
        Assert.That((hp.Centered, hp.Alpha, hp.Momentum), Is.EqualTo((true, 0.9, 0.5)));
        string saved = config.ToJson();
        Assert.That(saved, Does.Contain("\"centered\": true"), "the saved config states every key, resolved");
        var again = Load(saved).Resolve();
        Assert.That(again.Optimizers![0].Hyperparameters(), Is.EqualTo(hp), "the saved config loads back to the same run");
    }

    [Test]
    public void TorchsBetasPairMapsOntoBeta1AndBeta2()
    {
        var hp = Load(TrainConfigWith("""{ "name": "adam", "betas": [0.8, 0.95] }""")).Resolve().Optimizers![0].Hyperparameters();
        Assert.That((hp.Beta1, hp.Beta2), Is.EqualTo((0.8, 0.95)));
        var e = Assert.Throws<ConfigException>(() => Load(TrainConfigWith("""{ "name": "adam", "betas": [0.8, 0.95], "beta2": 0.9 }""")).Resolve());
        Assert.That(e!.Message, Does.Contain("optimizers[0]: 'beta2' is given twice (betas and beta2)"));
        e = Assert.Throws<ConfigException>(() => Load(TrainConfigWith("""{ "name": "adam", "betas": [0.8] }""")).Resolve());
        Assert.That(e!.Message, Does.Contain("optimizers[0].betas: torch's betas is a pair (beta1, beta2)"));
    }

    /// <summary>Adan's and AdEMAMix's descriptors declare a three-value <c>betas</c> (beta1, beta2, beta3): the train
    /// config takes it for them and refuses it for an algorithm whose betas is torch's pair.</summary>
    [Test]
    public void AThreeValueBetas_IsTheDescriptorsForAdanAndAdemamix_AndRefusedForAdam()
    {
        var hp = Load(TrainConfigWith("""{ "name": "adan", "betas": [0.9, 0.95, 0.97] }""")).Resolve().Optimizers![0].Hyperparameters();
        Assert.That((hp.Beta1, hp.Beta2, hp.Beta3), Is.EqualTo((0.9, 0.95, 0.97)));
        var e = Assert.Throws<ConfigException>(() => Load(TrainConfigWith("""{ "name": "ademamix", "betas": [0.9, 0.95, 0.97], "beta3": 0.9 }""")).Resolve());
        Assert.That(e!.Message, Does.Contain("optimizers[0]: 'beta3' is given twice (betas and beta3)"));
        e = Assert.Throws<ConfigException>(() => Load(TrainConfigWith("""{ "name": "adam", "betas": [0.9, 0.95, 0.97] }""")).Resolve());
        Assert.That(e!.Message, Does.Contain("optimizers[0].betas: torch's betas is a pair (beta1, beta2); give [x, x]"));
    }

    [TestCase("""{ "name": "adam", "learning_rate": 0.1 }""", "", "unknown key 'optimizers[0].learning_rate'; the learning rate is 'lr', as in torch.optim; valid keys: name, label, lr, beta1")]
    [TestCase("""{ "name": "adam", "weight_decy": 0.1 }""", "", "unknown key 'optimizers[0].weight_decy'; did you mean 'weight_decay'?")]
    [TestCase("""{ "name": "adam", "foreach": true }""", "", "unknown key 'optimizers[0].foreach'; torch's foreach picks an implementation")]
    [TestCase("""{ "name": "adam" }""", """, "schedule": { "kind": "linear", "warmpu": 3 }""", "unknown key 'schedule.warmpu'; did you mean 'warmup'?; valid keys: kind, warmup, final, step_size, gamma")]
    [TestCase("""{ "name": "adam" }""", """, "trainig": { }""", "unknown key 'trainig'; did you mean 'training'?")]
    [TestCase("""{ "name": "adam", "lr": "fast" }""", "", "optimizers[0].lr: 'fast' is not a number")]
    [TestCase("""{ "name": "adam", "amsgrad": 1 }""", "", "optimizers[0].amsgrad: '1' is not a boolean")]
    [TestCase("""{ "name": "adam", "lr": { "a": 1 } }""", "", "optimizers[0].lr must be a single value")]
    [TestCase("""{ "name": "adam", "lr": 0.1, "LR": 0.2 }""", "", "key 'optimizers[0].LR' is given twice (as 'lr' and 'LR')")]
    [TestCase("""{ "name": "adam", "lr": 0.1, "lr": 0.2 }""", "", "duplicate key 'lr' (give each key once)")]
    [TestCase("""{ "name": "adam" }""", """, "schedule": { "kind": "linear", "kind": "step" }""", "duplicate key 'kind'")]
    public void ABadKeyIsOneLineWithItsJsonPath(string entry, string extra, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => Load(TrainConfigWith(entry, extra)).Resolve());
        Assert.That(e!.Message, Does.Contain(expected));
        Assert.That(e.Message, Does.Not.Contain("CudaAdam.").And.Not.Contain("\n"), "no C# class names, one line");
    }

    [Test]
    public void TheTrainCommandSaysItInOneLine_WithExitCode2()
    {
        using var dir = new TempDirectory();
        string config = dir.File("bad.json");
        File.WriteAllText(config, TrainConfigWith("""{ "name": "rmsprop", "centred": true }""", $", \"output\": \"{dir.File("runs").Replace("\\", "\\\\")}\""));
        var r = CliRunner.Invoke("train", config);
        Assert.That(r.Code, Is.EqualTo(2), r.ToString());
        Assert.That(r.Err.Trim().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(r.Err, Does.Contain("unknown key 'optimizers[0].centred'; did you mean 'centered'?"));
    }

    [Test]
    public void ReplayFlags_SuggestTheNearest_AndTakeTorchsPairs()
    {
        var r = CliRunner.Invoke("replay", "--optimizer", "adam", "--learning-rat", "0.1");
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("unknown option --learning-rat; known options:"));
        r = CliRunner.Invoke("replay", "--optimizer", "adam", "--foreach");
        Assert.That(r.Err, Does.Contain("torch's foreach picks an implementation"));
        r = CliRunner.Invoke("replay", "--optimizer", "adam", "--centred");
        Assert.That(r.Err, Does.Contain("did you mean --centered?"));
        var hp = HyperparameterSchema.Apply(Hyperparameters.Defaults(Algorithm.Adam), "betas", ["0.5", "0.6"], "--betas");
        Assert.That((hp.Beta1, hp.Beta2), Is.EqualTo((0.5, 0.6)));
    }
}
