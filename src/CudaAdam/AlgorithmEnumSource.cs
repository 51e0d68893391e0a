using System.Text;

namespace CudaAdam;

/// <summary>
/// Writes <c>src/CudaAdam/Algorithm.gen.cs</c>: the <see cref="Algorithm"/> enum, each member documented from its
/// descriptor row (<see cref="Algorithms.All"/>: source, update equations and convention warnings, torch.optim class,
/// defaults, state slots, kernel), so the equations a user sees on <c>Algorithm.Adam</c> in an IDE or the API reference
/// are the row's, stated once. To add an algorithm, add its member's line to that file and its row to
/// <c>Algorithms.cs</c>, then <c>./build.sh gen</c>; a test fails while the file is stale.
/// </summary>
public static class AlgorithmEnumSource
{
    /// <summary>The file's path in the repository.</summary>
    public const string RepositoryPath = "src/CudaAdam/Algorithm.gen.cs";

    /// <summary>The C# source of the enum, members in descriptor order.</summary>
    public static string Generate()
    {
        static string X(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
        var sb = new StringBuilder();
        sb.Append("// Algorithm.gen.cs — GENERATED from the algorithm descriptors (src/CudaAdam/Algorithms.cs) by\n")
          .Append("// src/CudaAdam/AlgorithmEnumSource.cs: edit the rows, not the comments here. A new algorithm: add its member's\n")
          .Append("// line below and its row, then ./build.sh gen rewrites this file.\n")
          .Append("// CS1591 is off here only so that a new member compiles before its first ./build.sh gen documents it;\n")
          .Append("// DescriptorTests fails while this file is stale, so every member ends up documented.\n")
          .Append("#pragma warning disable CS1591\n")
          .Append("namespace CudaAdam;\n\n")
          .Append("/// <summary>\n")
          .Append("/// Every optimizer CudaAdam implements. One name everywhere: the kernel (<c>kernels/*.cu</c>), the CPU\n")
          .Append("/// reference (<c>Reference/</c>), the CLI (<see cref=\"AlgorithmNames\"/>) and the tests use the same one. Each member's\n")
          .Append("/// documentation is its descriptor row (<see cref=\"Algorithms.Info\"/>): g is the gradient (after maximize's sign\n")
          .Append("/// flip), γ the learning rate, λ the weight decay, t the step (1 on the first), m̂ = m/(1 − β1^t) and\n")
          .Append("/// v̂ = v/(1 − β2^t) the bias-corrected moments; all state and parameters are float32.\n")
          .Append("/// </summary>\n")
          .Append("public enum Algorithm\n{\n");
        foreach (var i in Algorithms.All)
        {
            string torch = i.TorchClass is null ? " Not in torch.optim." : i.Source.Contains("torch.optim") ? "" : $" Semantics of torch.optim.{i.TorchClass}.";
            sb.Append($"    /// <summary>{X(i.Source)}.{torch}</summary>\n");
            sb.Append("    /// <remarks>\n");
            sb.Append($"    /// <para>Update: {X(i.Equations)}</para>\n");
            sb.Append($"    /// <para>Defaults: {X(i.DescribeDefaults())}. State: {X(i.State.Count == 0 ? "none" : string.Join(", ", i.State.Select(s => s.TorchName)))}. ")
              .Append($"Kernel: <c>kernels/{i.Kernel.Family}.cu</c> <c>{i.Kernel.Name}</c>. Name: <c>{i.Name}</c>.</para>\n");
            sb.Append("    /// </remarks>\n");
            sb.Append($"    {i.Algorithm},\n");
        }
        sb.Append("}\n");
        return sb.ToString();
    }
}
