namespace CudaAdam;

/// <summary>
/// Every optimizer CudaAdam implements. One name everywhere: the kernel (<c>kernels/*.cu</c>), the CPU
/// reference (<c>Reference/</c>), the CLI (<see cref="AlgorithmNames"/>) and the tests use the same one.
/// </summary>
public enum Algorithm
{
    /// <summary>Kingma &amp; Ba (2015), Algorithm 1; L2 weight decay coupled into the gradient (torch.optim.Adam).</summary>
    Adam,
    /// <summary>Loshchilov &amp; Hutter (2019): Adam with decoupled weight decay (torch.optim.AdamW).</summary>
    AdamW,
    /// <summary>Kingma &amp; Ba (2015), Section 7.1: the infinity-norm variant (torch.optim.Adamax).</summary>
    AdaMax,
    /// <summary>Dozat (2016): Nesterov-accelerated Adam with a momentum schedule (torch.optim.NAdam).</summary>
    NAdam,
    /// <summary>Liu et al. (2020): rectified Adam (torch.optim.RAdam).</summary>
    RAdam,
    /// <summary>SGD with momentum, dampening and Nesterov (torch.optim.SGD).</summary>
    Sgd,
    /// <summary>Duchi, Hazan &amp; Singer (2011) (torch.optim.Adagrad).</summary>
    AdaGrad,
    /// <summary>Tieleman &amp; Hinton (2012), Graves (2013) for <c>centered</c> (torch.optim.RMSprop).</summary>
    RmsProp,
    /// <summary>Zeiler (2012) (torch.optim.Adadelta).</summary>
    AdaDelta,
    /// <summary>Bernstein et al. (2018): x -= lr * sign(g). Not in torch.optim.</summary>
    SignSgd,
    /// <summary>Bernstein et al. (2018): sign descent on momentum. Not in torch.optim.</summary>
    Signum,
    /// <summary>Chen et al. (2023), "Symbolic Discovery of Optimization Algorithms". Not in torch.optim.</summary>
    Lion,
    /// <summary>
    /// Adam written as sign-like descent (arXiv 2507.05966): x -= lr * u ∘ sign(m), u = |m̂|/(sqrt(v̂)+eps).
    /// Bitwise equal to <see cref="Adam"/>; exposes u for diagnostics.
    /// </summary>
    SignAdam,
}

/// <summary>The command-line and config names of <see cref="Algorithm"/> (torch.optim's class names in lower case),
/// read from the descriptors (<see cref="Algorithms"/>).</summary>
public static class AlgorithmNames
{
    /// <summary>All algorithms, in descriptor order.</summary>
    public static IReadOnlyList<Algorithm> All { get; } = Algorithms.All.Select(i => i.Algorithm).ToArray();

    /// <summary>The lower-case name used by the CLI, configs, kernels and golden files.</summary>
    public static string Name(this Algorithm a) => a.Info().Name;

    /// <summary>The torch.optim class with the same semantics, or null when torch.optim has none.</summary>
    public static string? TorchClass(this Algorithm a) => a.Info().TorchClass;

    /// <summary>Parses a name such as <c>adamw</c> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">The name is unknown; the message lists the known ones.</exception>
    public static Algorithm Parse(string name)
    {
        foreach (var i in Algorithms.All)
            if (string.Equals(i.Name, name, StringComparison.OrdinalIgnoreCase)) return i.Algorithm;
        throw new ArgumentException(
            $"unknown optimizer '{name}'; known optimizers: {string.Join(", ", Algorithms.All.Select(i => i.Name))}");
    }
}
