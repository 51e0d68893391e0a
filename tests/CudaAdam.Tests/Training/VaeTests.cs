using CudaAdam.Training;
using CudaAdam.Training.Models;
using CudaAdam.Training.Tensors;

namespace CudaAdam.Tests.Training;

/// <summary>The VAE of Kingma &amp; Ba Fig. 4: the loss's terms on hand-set parameters, the gradient against central
/// finite differences with fixed noise (as <see cref="GradientCheckTests"/>: h = 1e-2, |fd − analytic| ≤ 2e-3 +
/// 2e-2·|fd|), and a few Adam steps.</summary>
public class VaeTests
{
    private const double H = 1e-2, Atol = 2e-3, Rtol = 2e-2;

    private static Tensor Pixels(int rows, int cols, Rng rng)
    {
        var x = Tensor.Zeros(rows, cols);
        for (int i = 0; i < x.Length; i++) x.Data[i] = (float)rng.NextDouble();
        return x;
    }

    [Test]
    public void Loss_OnHandSetParameters_IsBernoulliPlusKl()
    {
        // Zero heads and zero output layer: μ = 0, log σ² = 0 (KL 0), logits 0 (each pixel costs ln 2 whatever x is).
        // Then bias_μ = 1: KL = ½ Σ μ² = ½ · latent per example.
        var vae = new Vae(6, 5, 3, new Rng(1));
        foreach (var p in vae.Parameters.Where(p => p.Name.StartsWith("enc_") || p.Name.StartsWith("dec_out")))
            Array.Clear(p.Data);
        var x = Pixels(4, 6, new Rng(2));
        var l = vae.Evaluate(x, new Rng(3), backward: false);
        Assert.That(l.Kl, Is.EqualTo(0).Within(1e-12));
        Assert.That(l.Reconstruction, Is.EqualTo(6 * Math.Log(2)).Within(1e-9));
        Assert.That(l.Loss, Is.EqualTo(l.Reconstruction + l.Kl));
        Array.Fill(vae.Parameters.Single(p => p.Name == "enc_mu.bias").Data, 1f);
        Assert.That(vae.Evaluate(x, new Rng(3), backward: false).Kl, Is.EqualTo(1.5).Within(1e-9));
    }

    [Test]
    public void Gradient_WithFixedNoise_MatchesFiniteDifferences()
    {
        var rng = new Rng(7);
        var vae = new Vae(6, 5, 3, rng);
        var x = Pixels(2, 6, rng);
        var eps = GradientCheckTests.RandomInput(2, 3, rng);
        var loss = vae.Evaluate(x, eps, backward: true);
        Assert.That(double.IsFinite(loss.Loss));
        var analytic = vae.Parameters.Select(p => (float[])p.Grad!.Clone()).ToArray();
        int checkedCount = 0;
        for (int pi = 0; pi < vae.Parameters.Count; pi++)
        {
            var p = vae.Parameters[pi];
            for (int i = 0; i < p.Data.Length; i++)
            {
                float orig = p.Data[i];
                float plus = (float)(orig + H), minus = (float)(orig - H);
                p.Data[i] = plus;
                double lp = vae.Evaluate(x, eps, false).Loss;
                p.Data[i] = minus;
                double lm = vae.Evaluate(x, eps, false).Loss;
                p.Data[i] = orig;
                double fd = (lp - lm) / ((double)plus - minus);
                Assert.That(analytic[pi][i], Is.EqualTo(fd).Within(Atol + Rtol * Math.Abs(fd)), $"{p.Name}[{i}]");
                checkedCount++;
            }
        }
        Assert.That(checkedCount, Is.EqualTo(6 * 5 + 5 + 2 * (5 * 3 + 3) + 3 * 5 + 5 + 5 * 6 + 6));
        Assert.That(analytic.Any(g => g.Any(v => Math.Abs(v) > 1e-3)), "the gradient is not trivially zero");
    }

    [Test]
    public void KingmaBaVae_AdamSteps_LowerTheLoss_AndTheNoiseIsSeeded()
    {
        var vae = Vae.KingmaBa(new Rng(1));
        Assert.That(vae.ParameterCount, Is.EqualTo(784L * 500 + 500 + 2 * (500 * 50 + 50) + 50 * 500 + 500 + 500 * 784 + 784));
        var data = TrainingFixtures.Train(128);
        var x = new Tensor(data.Inputs, 128, 784);
        Assert.That(vae.Evaluate(x, new Rng(9), false), Is.EqualTo(vae.Evaluate(x, new Rng(9), false)), "same seed, same noise, same loss");
        double before = vae.Evaluate(x, new Rng(9), false).Loss;
        using var opt = new Optimizer(Algorithm.Adam, vae.Parameters, Hyperparameters.Defaults(Algorithm.Adam));
        var noise = new Rng(5);
        for (int step = 0; step < 10; step++)
        {
            var batch = new Tensor(data.Inputs.AsSpan(step % 2 * 64 * 784, 64 * 784).ToArray(), 64, 784);
            vae.Evaluate(batch, noise, backward: true);
            opt.Step();
        }
        double after = vae.Evaluate(x, new Rng(9), false).Loss;
        // At initialization the loss is ≈ 784·ln 2 ≈ 543 nats; ten steps of Adam (lr 1e-3) take off well over 10%.
        Assert.That(before, Is.EqualTo(784 * Math.Log(2)).Within(60));
        Assert.That(after, Is.LessThan(0.9 * before));
    }
}
