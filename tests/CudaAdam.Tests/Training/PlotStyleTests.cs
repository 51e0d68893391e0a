using CudaAdam.Training.Jobs;

namespace CudaAdam.Tests.Training;

/// <summary>Identical curves (adam and signadam train bit for bit alike) stay visible in the job's plots.</summary>
public class PlotStyleTests
{
    [Test]
    public void ACurveEqualToAnEarlierOneIsMarkedInTheLegendAndDrawnInAnotherPattern()
    {
        double[] steps = [1, 2, 3], a = [2.0, 1.5, 1.2], b = [2.0, 1.4, 1.0];
        var styles = Reports.Styles([("adam", steps, a), ("sgd", steps, b), ("signadam", steps, (double[])a.Clone()), ("adam2", steps, (double[])a.Clone())]);
        Assert.That(styles, Is.EqualTo(new[] { ("adam", 0), ("sgd", 0), ("signadam ≡ adam", 1), ("adam2 ≡ adam", 2) }));
        // Same values at other x (loss against wall-clock time): different curves.
        Assert.That(Reports.Styles([("adam", steps, a), ("signadam", [1, 2, 4], a)]).Select(s => s.Copy), Is.EqualTo(new[] { 0, 0 }));
    }
}
