#pragma warning disable CS1591 // CS1591 backlog (issue 13): 1 public members here have no XML doc yet; document them, then delete this line
using System.Buffers.Binary;
using System.Text;

namespace CudaAdam.Cuda.Compilation;

/// <summary>
/// The resources of one kernel of a cubin, read from the ELF's <c>.nv.info</c> attributes (what <c>cuobjdump
/// -res-usage</c> prints): registers per thread, the <c>__launch_bounds__</c> maximum, static shared memory and stack.
/// </summary>
/// <param name="Name">The kernel (its <c>extern "C"</c> symbol).</param>
/// <param name="Registers">EIATTR_REGCOUNT: registers per thread.</param>
/// <param name="LaunchBound">EIATTR_MAX_THREADS (<c>.maxntid</c>, from <c>__launch_bounds__</c>): x*y*z, or 0 when none.</param>
/// <param name="MaxRegisterCount">EIATTR_MAXREG_COUNT: the register cap the compiler worked under, or 0 when absent.</param>
/// <param name="StaticSharedBytes">Size of <c>.nv.shared.&lt;name&gt;</c> (static <c>__shared__</c> memory; NVRTC 11.8's
/// sm_90 cubins include the 1 KiB system reserve in it, its sm_80 cubins do not), 0 when there is no such section.</param>
/// <param name="StackBytes">EIATTR_MAX_STACK_SIZE (the stack frame: spills and local arrays).</param>
public sealed record KernelResources(string Name, int Registers, int LaunchBound, int MaxRegisterCount, int StaticSharedBytes, int StackBytes)
{
    /// <summary>Registers per SM and per block on sm_50 .. sm_90 (CUDA C Programming Guide, technical specifications).</summary>
    public const int RegistersPerBlock = 65536;
    /// <summary>Register allocation unit (registers per warp are rounded up to a multiple of it) on sm_50 .. sm_90.</summary>
    public const int RegisterAllocationUnit = 256;
    public const int WarpSize = 32;

    /// <summary>
    /// The most threads per block this kernel can launch with on a 1,024-thread device: the register file
    /// (<see cref="RegistersPerBlock"/> over warps of <c>ceil(32 * Registers / 256) * 256</c> registers), the
    /// <c>__launch_bounds__</c> maximum and 1,024, whichever is least. The driver's
    /// <c>CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK</c> is computed the same way.
    /// </summary>
    public int MaxThreadsPerBlock
    {
        get
        {
            int perWarp = (WarpSize * Math.Max(1, Registers) + RegisterAllocationUnit - 1) / RegisterAllocationUnit * RegisterAllocationUnit;
            int byRegisters = RegistersPerBlock / perWarp * WarpSize;
            int max = Math.Min(1024, byRegisters);
            return LaunchBound > 0 ? Math.Min(max, LaunchBound) : max;
        }
    }
}

/// <summary>Reads <see cref="KernelResources"/> from a cubin (ELF64, little-endian) without any CUDA tool.</summary>
public static class CubinResources
{
    private const uint ShtSymtab = 2;
    private const uint ShtNvInfo = 0x70000000;          // SHT_LOPROC: NVIDIA's .nv.info sections
    private const byte FormatHalf = 0x03, FormatSized = 0x04, FormatByte = 0x02, FormatNone = 0x01;
    private const byte AttrMaxThreads = 0x05;           // EIATTR_MAX_THREADS: u32 x, y, z
    private const byte AttrMaxStackSize = 0x23;         // EIATTR_MAX_STACK_SIZE: u32 symbol, u32 bytes
    private const byte AttrMaxRegCount = 0x1b;          // EIATTR_MAXREG_COUNT: u16
    private const byte AttrRegCount = 0x2f;             // EIATTR_REGCOUNT: u32 symbol, u32 registers

    /// <summary>Every kernel of <paramref name="cubin"/>, by name.</summary>
    /// <exception cref="FormatException">Not a little-endian ELF64 file, or a truncated section or attribute.</exception>
    public static IReadOnlyDictionary<string, KernelResources> Read(ReadOnlySpan<byte> cubin) => Parse(cubin.ToArray());

    private static Dictionary<string, KernelResources> Parse(byte[] cubin)
    {
        if (cubin.Length < 64 || cubin[0] != 0x7f || cubin[1] != (byte)'E' || cubin[2] != (byte)'L' || cubin[3] != (byte)'F')
            throw new FormatException("not an ELF file (a cubin starts with 0x7f 'ELF')");
        if (cubin[4] != 2 || cubin[5] != 1) throw new FormatException("not a little-endian ELF64 file");
        ulong shoff = U64(cubin, 0x28);
        int shentsize = U16(cubin, 0x3A), shnum = U16(cubin, 0x3C), shstrndx = U16(cubin, 0x3E);
        var sections = new (uint Name, uint Type, ulong Offset, ulong Size, uint Link, uint Info)[shnum];
        for (int i = 0; i < shnum; i++)
        {
            int o = Checked(shoff + (ulong)(i * shentsize), 64, cubin.Length);
            sections[i] = (U32(cubin, o), U32(cubin, o + 4), U64(cubin, o + 24), U64(cubin, o + 32), U32(cubin, o + 40), U32(cubin, o + 44));
        }
        string SectionName(int i) => CString(cubin, sections[shstrndx].Offset + sections[i].Name);

        int symtab = Array.FindIndex(sections, s => s.Type == ShtSymtab);
        if (symtab < 0) throw new FormatException("the cubin has no symbol table");
        var strtab = sections[sections[symtab].Link];
        string SymbolName(uint index)
        {
            int o = Checked(sections[symtab].Offset + index * 24UL, 24, cubin.Length);
            return CString(cubin, strtab.Offset + U32(cubin, o));
        }

        var registers = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new Dictionary<string, int>(StringComparer.Ordinal);
        var bounds = new Dictionary<string, (int Threads, int MaxReg)>(StringComparer.Ordinal);
        var shared = new Dictionary<string, int>(StringComparer.Ordinal);
        var kernels = new List<string>();
        for (int i = 0; i < shnum; i++)
        {
            string name = SectionName(i);
            if (name.StartsWith(".nv.shared.", StringComparison.Ordinal))
                shared[name[".nv.shared.".Length..]] = (int)sections[i].Size;
            if (sections[i].Type != ShtNvInfo) continue;
            if (name == ".nv.info")
            {
                foreach (var (attr, value) in Attributes(cubin, sections[i].Offset, sections[i].Size))
                    if (attr is AttrRegCount or AttrMaxStackSize && value.Length >= 8)
                        (attr == AttrRegCount ? registers : stack)[SymbolName(BinaryPrimitives.ReadUInt32LittleEndian(value))] =
                            (int)BinaryPrimitives.ReadUInt32LittleEndian(value[4..]);
            }
            else if (name.StartsWith(".nv.info.", StringComparison.Ordinal))
            {
                string kernel = name[".nv.info.".Length..];
                kernels.Add(kernel);
                int threads = 0, maxReg = 0;
                foreach (var (attr, value) in Attributes(cubin, sections[i].Offset, sections[i].Size))
                {
                    if (attr == AttrMaxThreads && value.Length >= 12)
                        threads = (int)(BinaryPrimitives.ReadUInt32LittleEndian(value) * BinaryPrimitives.ReadUInt32LittleEndian(value[4..]) *
                                        BinaryPrimitives.ReadUInt32LittleEndian(value[8..]));
                    else if (attr == AttrMaxRegCount && value.Length >= 2) maxReg = BinaryPrimitives.ReadUInt16LittleEndian(value);
                }
                bounds[kernel] = (threads, maxReg);
            }
        }
        var result = new Dictionary<string, KernelResources>(StringComparer.Ordinal);
        foreach (var k in kernels)
        {
            if (!registers.TryGetValue(k, out int regs))
                throw new FormatException($"the cubin's .nv.info has no EIATTR_REGCOUNT for kernel {k}");
            result[k] = new KernelResources(k, regs, bounds[k].Threads, bounds[k].MaxReg, shared.GetValueOrDefault(k), stack.GetValueOrDefault(k));
        }
        return result;
    }

    /// <summary>The attributes of one .nv.info section: (EIATTR code, value bytes). Each entry is u8 format, u8 EIATTR
    /// code, u16 field: the value itself (formats 1-3) or the size of the value that follows (format 4).</summary>
    private static List<(byte Attr, byte[] Value)> Attributes(ReadOnlySpan<byte> elf, ulong offset, ulong size)
    {
        var list = new List<(byte, byte[])>();
        int p = Checked(offset, (int)size, elf.Length), end = p + (int)size;
        while (p + 2 <= end)
        {
            byte format = elf[p], attr = elf[p + 1];
            p += 2;
            switch (format)
            {
                case FormatNone: Need(p + 2, end); list.Add((attr, [])); p += 2; break;   // every entry has a 16-bit field
                case FormatByte: Need(p + 2, end); list.Add((attr, [elf[p]])); p += 2; break;
                case FormatHalf: Need(p + 2, end); list.Add((attr, elf.Slice(p, 2).ToArray())); p += 2; break;
                case FormatSized:
                    Need(p + 2, end);
                    int n = U16(elf, p);
                    p += 2;
                    Need(p + n, end);
                    list.Add((attr, elf.Slice(p, n).ToArray()));
                    p += n;
                    break;
                default: throw new FormatException($"unknown .nv.info attribute format 0x{format:x2} at byte {p - 2}");
            }
        }
        return list;
    }

    private static void Need(int upTo, int end)
    {
        if (upTo > end) throw new FormatException("a truncated .nv.info attribute");
    }

    private static int Checked(ulong offset, int length, int total) =>
        offset + (ulong)length <= (ulong)total ? (int)offset : throw new FormatException($"offset {offset} + {length} is past the end of the {total}-byte file");

    private static string CString(ReadOnlySpan<byte> elf, ulong offset)
    {
        int o = Checked(offset, 0, elf.Length);
        int n = elf[o..].IndexOf((byte)0);
        return Encoding.ASCII.GetString(n < 0 ? elf[o..] : elf.Slice(o, n));
    }

    private static ushort U16(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt16LittleEndian(b[o..]);
    private static uint U32(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt32LittleEndian(b[o..]);
    private static ulong U64(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt64LittleEndian(b[o..]);
}
