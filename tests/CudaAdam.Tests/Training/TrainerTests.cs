using CudaAdam.Training;
using CudaAdam.Training.Models;
using static CudaAdam.Tests.Training.TrainingFixtures;

namespace CudaAdam.Tests.Training;

public class TrainerTests
{
    [Test]
    public void LogisticRegression_LearnsFashionMnistSubset()
    {
        // Kingma & Ba's Fig. 1 model on the embedded 1,000 images, 5 epochs of Adam(lr 1e-3): chance is 10%; on this
        // subset logistic regression reaches ~75-80% test accuracy; we require 65%.
        var model = ModelZoo.LogisticRegression(784, 10, new Rng(1));
        var opt = new Optimizer(Algorithm.Adam, model.Parameters, Hyperparameters.Defaults(Algorithm.Adam));
        var t = new Trainer(model, opt, Train(1000), Test(500), new TrainerOptions { Epochs = 5, BatchSize = 50 }, new Rng(2), null);
        var epochs = new List<EpochRecord>();
        var progress = new StringWriter();
        t.Run(onEpoch: epochs.Add, progress: progress, label: "logreg ");
        Assert.That(epochs, Has.Count.EqualTo(5));
        Assert.That(epochs[^1].TrainLoss, Is.LessThan(epochs[0].TrainLoss));
        Assert.That(epochs[^1].TestAccuracy, Is.GreaterThan(0.65));
        var lines = progress.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(5));
        Assert.That(lines[0], Does.StartWith("logreg epoch 1/5  step 20/100  train loss ").And.Contain("test acc").And.Contain("ETA"));
    }

    [Test]
    public void Schedule_SetsEveryStepsLearningRate_FromTheBaseRate()
    {
        var sched = LrScheduler.ForKind("linear");
        var t = Mlp(Algorithm.Adam, Hyperparameters.Defaults(Algorithm.Adam) with { Lr = 0.01 }, schedule: sched);
        var steps = new List<StepRecord>();
        t.Run(steps.Add);
        Assert.That(steps.Select(s => s.Lr), Is.EqualTo(Enumerable.Range(1, 8).Select(i => 0.01 * (1 - i / 8.0))).Within(1e-15));
        Assert.That(t.Optimizer.Groups[0].Hyperparameters.Lr, Is.EqualTo(0.0));
        Assert.That(t.BaseHyperparameters[0].Lr, Is.EqualTo(0.01));
    }

    [Test]
    public void Trainer_RejectsAnOptimizerOverOtherParameters()
    {
        var rng = new Rng(1);
        var model = ModelZoo.LogisticRegression(784, 10, rng);
        var stray = new Parameter("stray", new float[3]);
        var opt = new Optimizer(Algorithm.Adam, [.. model.Parameters, stray]);
        var e = Assert.Throws<ArgumentException>(() => new Trainer(model, opt, Train(10), null, new TrainerOptions(), rng, null));
        Assert.That(e!.Message, Does.Contain("exactly the model's parameters"));
    }
}
