using System.Text;

namespace CudaAdam.Device;

/// <summary>
/// Writes <c>kernels/scalars.gen.cuh</c>: one <c>#define CA_S_NAME index</c> per kernel scalar slot of the descriptors
/// (<see cref="AlgorithmInfo.Scalars"/>), so that a slot is named once for C# (<see cref="KernelScalars.Pack"/>) and
/// CUDA (the kernels and <c>kernels/clock.cu</c> read <c>t.s[CA_S_NAME]</c>). A name used by several algorithms (the
/// Adam family's shared slots) must have the same index in each. Regenerate with
/// <c>cudaadam kernels --write-scalar-header kernels/scalars.gen.cuh</c>; a test fails while the file is stale.
/// </summary>
public static class KernelScalarHeader
{
    /// <summary>The header's text.</summary>
    /// <exception cref="InvalidOperationException">A name with two indices, or more slots than <see cref="CaTensor.ScalarCount"/>.</exception>
    public static string Generate() => Generate(Algorithms.All);

    /// <summary>The header of <paramref name="rows"/> (tests: a clash is refused).</summary>
    public static string Generate(IReadOnlyList<AlgorithmInfo> rows)
    {
        var index = new Dictionary<string, (int Slot, string Doc, List<string> Users)>(StringComparer.Ordinal);
        foreach (var info in rows)
        {
            if (info.Scalars.Count > CaTensor.ScalarCount)
                throw new InvalidOperationException($"{info.Name} has {info.Scalars.Count} kernel scalars; CaTensor holds {CaTensor.ScalarCount}");
            for (int i = 0; i < info.Scalars.Count; i++)
            {
                if (info.Scalars[i] is not { } s) continue;
                if (index.TryGetValue(s.Define, out var seen))
                {
                    if (seen.Slot != i)
                        throw new InvalidOperationException($"{s.Define} is slot {seen.Slot} for {string.Join(", ", seen.Users)} but slot {i} for {info.Name}");
                    if (!seen.Users.Contains(info.Name)) seen.Users.Add(info.Name);
                }
                else index[s.Define] = (i, s.Doc, [info.Name]);
            }
        }
        var sb = new StringBuilder();
        sb.Append("// scalars.gen.cuh — GENERATED from the algorithm descriptors (src/CudaAdam/Algorithms.cs) by\n")
          .Append("// src/CudaAdam/Device/KernelScalarHeader.cs: do not edit. Regenerate with\n")
          .Append("//   cudaadam kernels --write-scalar-header kernels/scalars.gen.cuh\n")
          .Append("// The index of each float32 scalar in CaTensor::s[], as KernelScalars.Pack fills it (the reference's (float) casts).\n")
          .Append("#pragma once\n\n")
          .Append($"#define CA_SCALARS {CaTensor.ScalarCount}\n\n");
        var order = rows.Select((a, i) => (a.Name, i)).ToDictionary(x => x.Name, x => x.i);
        foreach (var (name, (slot, doc, users)) in index.OrderBy(kv => order[kv.Value.Users[0]]).ThenBy(kv => kv.Value.Slot))
            sb.Append($"#define {name,-32} {slot,2}  // {doc}  [{string.Join(" ", users)}]\n");
        return sb.ToString();
    }
}
