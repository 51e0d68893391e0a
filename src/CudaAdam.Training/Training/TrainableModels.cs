#pragma warning disable CS1591 // CS1591 backlog (issue 13): 20 public members here have no XML doc yet; document them, then delete this line
using CudaAdam.Training.Layers;
using CudaAdam.Training.Models;
using CudaAdam.Training.Tensors;

namespace CudaAdam.Training;

/// <summary>
/// What a <see cref="Trainer"/> trains: a model together with its loss. <see cref="TrainBatch"/> runs forward, the loss
/// and backward on one minibatch (overwriting every <see cref="Parameter.Grad"/>); <see cref="EvaluateBatch"/> the loss
/// only, in evaluation mode. A model's own randomness (dropout masks, a VAE's reparameterization noise) draws from
/// <see cref="Generator"/>, which checkpoints save, so a resumed run draws the same numbers.
/// </summary>
public interface ITrainable
{
    /// <summary>The parameters, in a fixed order (checkpoints store them in this order).</summary>
    IReadOnlyList<Parameter> Parameters { get; }
    /// <summary>The architecture in one line; checkpoints store it to reject a mismatched model.</summary>
    string Describe();
    /// <summary>What the loss is, for reports (e.g. "softmax cross-entropy").</summary>
    string LossName { get; }
    /// <summary>Whether the model classifies: <see cref="TrainBatch"/> and <see cref="EvaluateBatch"/> count correct
    /// predictions. When false they return 0 and the trainer reports accuracies as NaN.</summary>
    bool HasAccuracy { get; }
    /// <summary>The generator of the model's training-time randomness, or null when it has none.</summary>
    Rng? Generator { get; }
    /// <summary>Mean loss over the batch and the number of correct predictions, with gradients.</summary>
    (double Loss, long Correct) TrainBatch(Tensor x, ReadOnlySpan<byte> labels);
    /// <summary>Mean loss over the batch and the number of correct predictions, no gradients, evaluation mode.</summary>
    (double Loss, long Correct) EvaluateBatch(Tensor x, ReadOnlySpan<byte> labels);
    /// <summary>Called before each pass of <see cref="EvaluateBatch"/> over a data set: a stochastic evaluation
    /// restarts its own fixed noise here, so an evaluation depends on the parameters only.</summary>
    void BeginEvaluation();
}

/// <summary>A classifier: a <see cref="Sequential"/> that ends in logits, with softmax cross-entropy; dropout layers
/// draw from one generator.</summary>
public sealed class Classifier : ITrainable
{
    private Tensor? _grad;

    /// <param name="model">Maps [batch, features] to [batch, classes] logits.</param>
    /// <param name="dropout">The generator every dropout layer of <paramref name="model"/> draws from, or null when it
    /// has none.</param>
    public Classifier(Sequential model, Rng? dropout)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        if (model.Dropouts.Any(d => !ReferenceEquals(d.Rng, dropout)))
            throw new ArgumentException("every dropout layer of the model must draw from the trainer's dropout generator (so checkpoints hold it)");
        Generator = dropout;
        // The input is data: nothing uses the first layer's input gradient (the MLP's first GEMM of backward, the CNN's
        // conv1 col2im), so it is not computed.
        switch (model.Layers.Count > 0 ? model.Layers[0] : null)
        {
            case Linear l: l.InputGradient = false; break;
            case Conv2d c: c.InputGradient = false; break;
        }
    }

    public Sequential Model { get; }
    public IReadOnlyList<Parameter> Parameters => Model.Parameters;
    public long ParameterCount => Model.ParameterCount;
    public string Describe() => Model.Describe();
    public string LossName => "softmax cross-entropy";
    public bool HasAccuracy => true;
    public Rng? Generator { get; }

    public (double Loss, long Correct) TrainBatch(Tensor x, ReadOnlySpan<byte> labels)
    {
        var logits = Model.Forward(x, training: true);
        if (_grad is null || _grad.Length != logits.Length) _grad = Tensor.Zeros(logits.Rows, logits.Cols);
        var (loss, correct) = SoftmaxCrossEntropy.Compute(logits, labels, _grad);
        Model.Backward(_grad);
        return (loss, correct);
    }

    public (double Loss, long Correct) EvaluateBatch(Tensor x, ReadOnlySpan<byte> labels)
    {
        var (loss, correct) = SoftmaxCrossEntropy.Compute(Model.Forward(x, training: false), labels, null);
        return (loss, correct);
    }

    public void BeginEvaluation() { }
}

/// <summary>
/// The <see cref="Vae"/> as a trainable model (Kingma &amp; Ba 2015, Fig. 4): the loss is the negative ELBO per image in
/// nats (<see cref="VaeLoss.Loss"/>), labels are ignored, and there is no accuracy. Training draws the
/// reparameterization noise ε from <see cref="Generator"/> (checkpointed: a resumed run draws the same ε); every
/// evaluation restarts a separate generator from <c>evaluationSeed</c>, so the reported test −ELBO is a deterministic
/// function of the parameters (one ε per image, a single-sample estimate of the ELBO).
/// </summary>
public sealed class VaeObjective : ITrainable
{
    private readonly ulong[] _evaluationSeed;
    private readonly Rng _evaluationNoise;

    /// <param name="vae">The model.</param>
    /// <param name="noise">The training noise ε.</param>
    /// <param name="evaluationNoise">The evaluation noise; its current state is where every evaluation restarts.</param>
    public VaeObjective(Vae vae, Rng noise, Rng evaluationNoise)
    {
        Vae = vae ?? throw new ArgumentNullException(nameof(vae));
        Generator = noise ?? throw new ArgumentNullException(nameof(noise));
        _evaluationNoise = evaluationNoise ?? throw new ArgumentNullException(nameof(evaluationNoise));
        if (ReferenceEquals(noise, evaluationNoise)) throw new ArgumentException("the training and evaluation noise must be separate generators");
        _evaluationSeed = evaluationNoise.GetState();
    }

    public Vae Vae { get; }
    public IReadOnlyList<Parameter> Parameters => Vae.Parameters;
    public long ParameterCount => Vae.ParameterCount;
    public string Describe() => Vae.Describe();
    public string LossName => "negative ELBO (nats per image: Bernoulli reconstruction + KL)";
    public bool HasAccuracy => false;
    public Rng? Generator { get; }

    public (double Loss, long Correct) TrainBatch(Tensor x, ReadOnlySpan<byte> labels) => (Vae.Evaluate(x, Generator!, backward: true).Loss, 0);

    public (double Loss, long Correct) EvaluateBatch(Tensor x, ReadOnlySpan<byte> labels) => (Vae.Evaluate(x, _evaluationNoise, backward: false).Loss, 0);

    public void BeginEvaluation() => _evaluationNoise.SetState(_evaluationSeed);
}
