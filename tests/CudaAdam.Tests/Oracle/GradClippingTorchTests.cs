using System.Globalization;
using CudaAdam.IO;

namespace CudaAdam.Tests.Oracle;

/// <summary>
/// Gradient clipping against PyTorch: <c>torch.nn.utils.clip_grad_norm_(params, max_norm)</c> then
/// <c>torch.optim.AdamW.step()</c> (torch 1.13 under /usr/bin/python3, float32, CPU) versus <see cref="Optimizer"/>
/// with <see cref="Optimizer.MaxGradNorm"/> (CPU reference), three tensors, several steps, clipped and unclipped.
/// </summary>
/// <remarks>
/// Tolerances: torch computes each tensor's norm and the norm of the norms in float32, we accumulate in double, so the
/// norms agree to float32 rounding over a few thousand terms: rtol 1e-5. The coefficient then differs by at most an
/// ulp or so of float32 and the parameters by a few ulps after 6 AdamW steps: atol 1e-6 + rtol 1e-5, the bound of
/// the replay parity tests; a wrong semantics (no clamp, the norm of the scaled gradient, per-tensor clipping,
/// a missing 1e-6) moves the parameters by ≥ 1e-4 here.
/// </remarks>
public class GradClippingTorchTests
{
    private const string Script = """
        import sys, numpy as np, torch
        d, steps, k, max_norm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
        ps = [torch.nn.Parameter(torch.from_numpy(np.load(f"{d}/x{i}.npy"))) for i in range(k)]
        gs = [np.load(f"{d}/g{i}.npy") for i in range(k)]
        opt = torch.optim.AdamW(ps, lr=0.01, weight_decay=0.01)
        norms = []
        for t in range(steps):
            for i, p in enumerate(ps):
                p.grad = torch.from_numpy(gs[i][t].copy())
            norms.append(float(torch.nn.utils.clip_grad_norm_(ps, max_norm)))
            opt.step()
        for i, p in enumerate(ps):
            np.save(f"{d}/out{i}.npy", p.detach().numpy())
        print(" ".join(repr(n) for n in norms))
        """;

    [TestCase(0.5)]
    [TestCase(1e3)]
    public void ClipThenAdamWMatchesTorch(double maxNorm)
    {
        PythonOracle.RequireModules("numpy", "torch");
        using var dir = new TempDirectory();
        int[] lengths = [300, 17, 2000];
        const int steps = 6;
        var rng = new Random(123);
        var ps = new Parameter[lengths.Length];
        var grads = new float[lengths.Length][];
        for (int i = 0; i < lengths.Length; i++)
        {
            var x = Enumerable.Range(0, lengths[i]).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            grads[i] = Enumerable.Range(0, steps * lengths[i]).Select(j => (float)((rng.NextDouble() * 2 - 1) * (j / lengths[i] % 2 == 0 ? 1 : 0.001))).ToArray();
            Npy.Write(dir.File($"x{i}.npy"), x);
            Npy.Write(dir.File($"g{i}.npy"), grads[i], steps, lengths[i]);
            ps[i] = new Parameter($"p{i}", x);
        }
        var (code, stdout, err) = PythonOracle.Run(["-c", Script, dir.Path, steps.ToString(CultureInfo.InvariantCulture),
            lengths.Length.ToString(CultureInfo.InvariantCulture), maxNorm.ToString("R", CultureInfo.InvariantCulture)], TimeSpan.FromMinutes(2));
        Assert.That(code, Is.EqualTo(0), err);
        var torchNorms = stdout.Trim().Split(' ').Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        Assert.That(torchNorms, Has.Length.EqualTo(steps));

        using var opt = new Optimizer(Algorithm.AdamW, ps, Hyperparameters.Defaults(Algorithm.AdamW) with { Lr = 0.01 }) { MaxGradNorm = maxNorm };
        int clipped = 0;
        for (int t = 0; t < steps; t++)
        {
            for (int i = 0; i < ps.Length; i++) ps[i].Grad = grads[i].AsSpan(t * lengths[i], lengths[i]).ToArray();
            opt.Step();
            double tn = torchNorms[t];
            Assert.That(opt.LastGradNorm, Is.EqualTo(tn).Within(1e-5 * tn), $"step {t + 1} total norm");
            if (opt.LastGradNorm > maxNorm) clipped++;
        }
        Assert.That(clipped, maxNorm < 1 ? Is.EqualTo(steps / 2) : Is.Zero, "odd steps clip at 0.5, none at 1e3");
        for (int i = 0; i < ps.Length; i++)
        {
            var want = Npy.Read1D(dir.File($"out{i}.npy"));
            for (int j = 0; j < want.Length; j++)
                Assert.That(ps[i].Data[j], Is.EqualTo(want[j]).Within(1e-6 + 1e-5 * Math.Abs(want[j])), $"{ps[i].Name}[{j}]");
        }
    }
}
