namespace CudaAdam.IO;

/// <summary>
/// Reads input files the safe way: regular files only, opened without blocking (a FIFO or a device is refused at
/// once, it never hangs nor streams forever), sizes checked against the file's length before anything is allocated.
/// Every failure is an exception with a one-line message naming the path.
/// </summary>
public static class SafeFile
{
    /// <summary>Opens the regular file <paramref name="path"/> for reading (see <see cref="FileProbe.OpenRegular"/>).</summary>
    /// <exception cref="PathRefusedException">Empty path, a directory, FIFO, device or socket.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="UnauthorizedAccessException">Not readable.</exception>
    public static FileStream OpenRead(string path, int bufferSize = 1 << 16)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0) throw new PathRefusedException("the path is empty");
        var (handle, _) = FileProbe.OpenRegular(path);
        try { return new FileStream(handle, FileAccess.Read, bufferSize); }
        catch { handle.Dispose(); throw; }
    }

    /// <summary>The whole regular file <paramref name="path"/>, refused up front when it is longer than
    /// <paramref name="maxBytes"/> (default: what one .NET array holds).</summary>
    public static byte[] ReadAllBytes(string path, long maxBytes = -1)
    {
        if (maxBytes < 0) maxBytes = Array.MaxLength;
        using var fs = OpenRead(path);
        long length = fs.Length;
        if (length > maxBytes)
            throw new PathRefusedException($"'{path}' is {length:N0} bytes, more than the {maxBytes:N0} this file may have");
        MemoryBudget.Require(length, $"reading '{path}'");
        var bytes = new byte[length];
        int got = 0;
        while (got < bytes.Length)
        {
            int n = fs.Read(bytes, got, bytes.Length - got);
            if (n == 0) throw new IOException($"'{path}' became shorter while it was read ({got:N0} of {length:N0} bytes)");
            got += n;
        }
        return bytes;
    }

    /// <summary>The regular file <paramref name="path"/> as UTF-8 text (default limit 64 MiB: configs, CSV files).</summary>
    public static string ReadAllText(string path, long maxBytes = 64L << 20) =>
        new System.Text.UTF8Encoding(false).GetString(ReadAllBytes(path, maxBytes));

    /// <summary>Whether <paramref name="a"/> and <paramref name="b"/> name the same existing file (through links,
    /// hard links included), or the same path when either does not exist yet.</summary>
    public static bool SameFile(string a, string b)
    {
        var fa = FileProbe.Stat(a);
        var fb = FileProbe.Stat(b);
        if (fa.Kind != FileKind.Missing && fb.Kind != FileKind.Missing && fa.Inode != 0)
            return fa.Device == fb.Device && fa.Inode == fb.Inode;
        return string.Equals(Path.GetFullPath(AtomicFile.FinalTarget(a)), Path.GetFullPath(AtomicFile.FinalTarget(b)), StringComparison.Ordinal);
    }

    /// <summary>Refuses a command whose outputs overwrite one of its inputs or each other
    /// (<c>replay --trajectory X --out X</c>); names the two options.</summary>
    /// <exception cref="PathRefusedException">Two of them are the same file.</exception>
    public static void RefuseOverlap(IEnumerable<(string Option, string Path)> inputs, IEnumerable<(string Option, string Path)> outputs)
    {
        var ins = inputs.Where(i => !string.IsNullOrEmpty(i.Path)).ToList();
        var outs = outputs.Where(o => !string.IsNullOrEmpty(o.Path)).ToList();
        for (int i = 0; i < outs.Count; i++)
        {
            foreach (var input in ins)
                if (SameFile(outs[i].Path, input.Path))
                    throw new PathRefusedException($"{outs[i].Option} '{outs[i].Path}' is the same file as the input {input.Option} '{input.Path}'; " +
                                                   "writing it would destroy the input: choose another output name");
            for (int j = 0; j < i; j++)
                if (SameFile(outs[i].Path, outs[j].Path))
                    throw new PathRefusedException($"{outs[i].Option} and {outs[j].Option} are the same file '{outs[i].Path}'; choose two names");
        }
    }
}

/// <summary>Sizes the machine cannot hold, refused before the allocation (a managed <see cref="OutOfMemoryException"/>
/// or the runtime's "Out of memory." abort would otherwise end the process).</summary>
public static class MemoryBudget
{
    /// <summary>The memory this process may use: physical memory or the container's limit.</summary>
    public static long Available => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>Throws when <paramref name="bytes"/> do not fit in <see cref="Available"/>; <paramref name="what"/> says what needs them.</summary>
    /// <exception cref="InsufficientMemoryException">With the number of bytes needed and available.</exception>
    public static void Require(long bytes, string what)
    {
        if (bytes < 0) throw new InsufficientMemoryException($"{what} needs more than {long.MaxValue:N0} bytes of memory");
        long have = Available;
        if (bytes > have)
            throw new InsufficientMemoryException($"{what} needs {Format(bytes)} of memory; this machine has {Format(have)}");
    }

    /// <summary>Throws when an array of <paramref name="elements"/> is more than one .NET array holds.</summary>
    public static void RequireArray(long elements, string what)
    {
        if (elements > Array.MaxLength)
            throw new InsufficientMemoryException($"{what} needs an array of {elements:N0} elements; one array holds at most {Array.MaxLength:N0}");
    }

    /// <summary><paramref name="a"/> × <paramref name="b"/>, or long.MaxValue when it overflows (then any check refuses it).</summary>
    public static long Product(long a, long b)
    {
        try { return checked(a * b); }
        catch (OverflowException) { return long.MaxValue; }
    }

    /// <summary>"3.2 GB (3,221,225,472 bytes)".</summary>
    public static string Format(long bytes)
    {
        string[] units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return u == 0 ? $"{bytes:N0} bytes" : $"{v:0.#} {units[u]} ({bytes:N0} bytes)";
    }
}
