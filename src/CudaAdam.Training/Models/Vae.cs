#pragma warning disable CS1591 // CS1591 backlog (issue 13): 4 public members here have no XML doc yet; document them, then delete this line
using CudaAdam.Training.Layers;
using CudaAdam.Training.Tensors;

namespace CudaAdam.Training.Models;

/// <summary>The loss of one <see cref="Vae"/> evaluation, per example (averaged over the batch): the negative ELBO
/// <see cref="Loss"/> = <see cref="Reconstruction"/> + <see cref="Kl"/>, in nats.</summary>
public readonly record struct VaeLoss(double Loss, double Reconstruction, double Kl);

/// <summary>
/// The variational autoencoder of Kingma &amp; Ba (2015), Section 6.4 / Fig. 4 (after Kingma &amp; Welling 2014):
/// encoder <c>x → h = softplus(W₁x + b₁)</c> (500 units) <c>→ μ = W_μ h + b_μ, log σ² = W_σ h + b_σ</c> (50 each);
/// reparameterization <c>z = μ + exp(½ log σ²) ⊙ ε</c>, ε ~ N(0, I);
/// decoder <c>z → softplus(W₂z + b₂)</c> (500) <c>→ logits l = W₃(·) + b₃</c> (784), <c>p(x|z) = Bernoulli(σ(l))</c>.
/// Loss per example (the negative ELBO, averaged over the batch):
/// <c>Σ_pixels [softplus(l) − x·l]</c> (= −Σ x log σ(l) + (1−x) log(1−σ(l)), computed from the logits without
/// overflow) <c>+ KL(q(z|x) ‖ N(0, I)) = −½ Σ_latent (1 + log σ² − μ² − σ²)</c>.
/// Pixels x ∈ [0, 1] are used as Bernoulli means as they are (no binarization), as the paper's MNIST runs do.
/// </summary>
/// <remarks>
/// Gradients by hand: with g_l = (σ(l) − x)/B, the decoder backpropagates g_l to ∂L/∂z = g_z; then
/// <c>∂L/∂μ = g_z + μ/B</c>, <c>∂L/∂log σ² = ½ g_z ⊙ ε ⊙ σ + ½(σ² − 1)/B</c>; the two heads' input gradients add up
/// at h. Parameter gradients overwrite <see cref="Parameter.Grad"/>, as the layers do.
/// </remarks>
public sealed class Vae
{
    private readonly Linear _enc, _mu, _logVar, _dec, _out;
    private readonly Softplus _encAct = new("enc_softplus"), _decAct = new("dec_softplus");

    /// <param name="inputs">Pixels (784).</param>
    /// <param name="hidden">Units of the encoder's and the decoder's hidden layer (500).</param>
    /// <param name="latent">Latent dimensions (50).</param>
    /// <param name="init">Initial weights (torch's Linear initialization), layer by layer: enc, mu, logvar, dec, out.</param>
    /// <param name="gemm">The GEMM (<see cref="Gemm.Default"/> when null).</param>
    public Vae(int inputs, int hidden, int latent, Rng init, IGemm? gemm = null)
    {
        Inputs = inputs;
        Latent = latent;
        _enc = new Linear("enc", inputs, hidden, init, gemm);
        _mu = new Linear("enc_mu", hidden, latent, init, gemm);
        _logVar = new Linear("enc_logvar", hidden, latent, init, gemm);
        _dec = new Linear("dec", latent, hidden, init, gemm);
        _out = new Linear("dec_out", hidden, inputs, init, gemm);
        Parameters = [.. _enc.Parameters, .. _mu.Parameters, .. _logVar.Parameters, .. _dec.Parameters, .. _out.Parameters];
    }

    /// <summary>Kingma &amp; Ba's Fig. 4 model: 784-500-50 / 50-500-784.</summary>
    public static Vae KingmaBa(Rng init, IGemm? gemm = null) => new(784, 500, 50, init, gemm);

    public int Inputs { get; }
    public int Latent { get; }
    public IReadOnlyList<Parameter> Parameters { get; }
    public long ParameterCount => Parameters.Sum(p => (long)p.Data.Length);

    /// <summary>The loss on <paramref name="x"/> [batch, inputs] with ε drawn from <paramref name="noise"/>
    /// (batch·latent standard normals, row by row); with <paramref name="backward"/> also the parameters' gradients.</summary>
    public VaeLoss Evaluate(Tensor x, Rng noise, bool backward)
    {
        ArgumentNullException.ThrowIfNull(noise);
        var eps = Tensor.Zeros(x.Rows, Latent);
        for (int i = 0; i < eps.Length; i++) eps.Data[i] = (float)noise.NextNormal();
        return Evaluate(x, eps, backward);
    }

    /// <summary>The loss on <paramref name="x"/> with the given noise <paramref name="eps"/> [batch, latent] (fixed
    /// noise makes the loss a deterministic function of the parameters, e.g. for gradient checks).</summary>
    public VaeLoss Evaluate(Tensor x, Tensor eps, bool backward)
    {
        x.CheckMatrix(-1, Inputs, "vae input");
        eps.CheckMatrix(x.Rows, Latent, "vae noise ε");
        int batch = x.Rows;
        if (batch == 0) throw new ArgumentException("vae: the batch is empty");
        var h = _encAct.Forward(_enc.Forward(x, true), true);
        var mu = _mu.Forward(h, true);
        var logVar = _logVar.Forward(h, true);
        var z = Tensor.Zeros(batch, Latent);
        var sigma = new float[z.Length];
        double kl = 0;
        for (int i = 0; i < z.Length; i++)
        {
            double lv = logVar.Data[i], m = mu.Data[i];
            sigma[i] = (float)Math.Exp(0.5 * lv);
            z.Data[i] = mu.Data[i] + sigma[i] * eps.Data[i];
            kl += -0.5 * (1 + lv - m * m - Math.Exp(lv));
        }
        var logits = _out.Forward(_decAct.Forward(_dec.Forward(z, true), true), true);
        double rec = 0;
        var gl = backward ? Tensor.Zeros(batch, Inputs) : null;
        for (int i = 0; i < logits.Length; i++)
        {
            double l = logits.Data[i], xi = x.Data[i];
            // softplus(l) − x·l, with softplus(l) = max(l, 0) + log1p(e^−|l|)
            rec += Math.Max(l, 0) + Log1P(Math.Exp(-Math.Abs(l))) - xi * l;
            if (gl is not null) gl.Data[i] = (float)((1 / (1 + Math.Exp(-l)) - xi) / batch);
        }
        var result = new VaeLoss((rec + kl) / batch, rec / batch, kl / batch);
        if (gl is null) return result;

        var gz = _dec.Backward(_decAct.Backward(_out.Backward(gl)));
        var gMu = Tensor.Zeros(batch, Latent);
        var gLogVar = Tensor.Zeros(batch, Latent);
        for (int i = 0; i < z.Length; i++)
        {
            gMu.Data[i] = gz.Data[i] + mu.Data[i] / batch;
            gLogVar.Data[i] = 0.5f * gz.Data[i] * eps.Data[i] * sigma[i] + 0.5f * (sigma[i] * sigma[i] - 1) / batch;
        }
        var ghMu = _mu.Backward(gMu);
        var gh = (float[])ghMu.Data.Clone();
        var ghLogVar = _logVar.Backward(gLogVar);
        for (int i = 0; i < gh.Length; i++) gh[i] += ghLogVar.Data[i];
        _enc.Backward(_encAct.Backward(new Tensor(gh, h.Rows, h.Cols)));
        return result;
    }

    /// <summary>log(1 + y) accurate for small y.</summary>
    private static double Log1P(double y) => y < 1e-4 ? y - y * y / 2 + y * y * y / 3 : Math.Log(1 + y);

    /// <summary>The architecture in one line.</summary>
    public string Describe() =>
        $"vae {_enc.Describe()} | softplus | mu, logvar: {_mu.Describe()} | z = mu + exp(logvar/2)*eps | {_dec.Describe()} | softplus | {_out.Describe()} | bernoulli logits";
}
