#pragma warning disable CS1591 // CS1591 backlog (issue 13): 2 public members here have no XML doc yet; document them, then delete this line
using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using CudaAdam.IO;

namespace CudaAdam.Cuda.Compilation;

/// <summary>Where a <see cref="KernelImage"/> came from.</summary>
public enum CacheOutcome
{
    /// <summary>This cache instance already held it.</summary>
    Memory,
    /// <summary>Read from a verified cache file.</summary>
    Disk,
    /// <summary>Compiled by NVRTC now (and written to disk when a directory is set).</summary>
    Compiled,
}

/// <summary>A compiled kernel file: its cache key (hex SHA-256), the PTX or cubin, and how it was obtained.</summary>
public sealed record KernelImage(string Key, string FileName, string Arch, byte[] Image, bool IsCubin, CacheOutcome Outcome, TimeSpan Elapsed);

/// <summary>Counters of one <see cref="KernelCache"/>.</summary>
public sealed record KernelCacheStatistics(int MemoryHits, int DiskHits, int Compiles, int CorruptFilesRemoved, string? LastWriteError);

/// <summary>
/// Cache of NVRTC output, in memory and on disk. The key is the SHA-256 of: the cache format version, the NVRTC
/// version, the target arch, the sorted options, the file name and source, every header's name and text (sorted by
/// name). Any change to one of them is a different key, so stale entries are never used (they are just left behind).
/// <para>
/// File format (one file per key, <c>&lt;key&gt;.kernel</c>): magic "CAKC", int32 format version, byte kind
/// (0 PTX, 1 cubin), 3 zero bytes, int64 payload length, 32-byte key, 32-byte SHA-256 of (the key, the kind and the
/// payload), payload.
/// Every disk hit is checked whole: magic, version, key, length, the hash over the key and the payload, and that the
/// payload is what NVRTC makes (PTX: text with <c>.version</c> and <c>.target</c> directives; cubin: an ELF file for
/// the CUDA machine). A file that fails any check (a crafted entry with the right key and junk, a FIFO, a device, a
/// directory, anything over 256 MiB) is a miss: it is removed, the source recompiled and the entry written anew; it is
/// never loaded, and reading it never blocks. Files are written with <see cref="AtomicFile"/> (a temporary name in the
/// same directory, renamed into place), so concurrent processes see either nothing or a whole file. When the directory
/// cannot be written, that is said once (<see cref="Warn"/>) and the cache goes on in memory only.
/// </para>
/// Directory: <c>$CUDAADAM_CACHE_DIR</c>, else <c>$XDG_CACHE_HOME/cudaadam/kernels</c>, else
/// <c>~/.cache/cudaadam/kernels</c>. Thread-safe.
/// </summary>
public sealed class KernelCache
{
    /// <summary>Bump when the key derivation or the file layout changes.</summary>
    public const int FormatVersion = 2;
    /// <summary>The largest cache file read (a compiled kernel file is a few MiB at most).</summary>
    private const long MaxFileBytes = 256L << 20;
    private const string Extension = ".kernel";
    private static readonly byte[] Magic = "CAKC"u8.ToArray();
    private const int HeaderBytes = 4 + 4 + 4 + 8 + 32 + 32;

    private readonly Dictionary<string, KernelImage> _memory = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private readonly Func<(int Major, int Minor)> _nvrtcVersion;
    private int _memoryHits, _diskHits, _compiles, _corrupt;
    private string? _lastWriteError;
    private bool _writesDisabled;

    /// <summary>A cache on <paramref name="directory"/>; null disables the disk level (memory only).</summary>
    public KernelCache(string? directory) : this(directory, () => NvrtcCompiler.Version)
    {
    }

    internal KernelCache(string? directory, Func<(int, int)> nvrtcVersion)
    {
        Directory = directory;
        _nvrtcVersion = nvrtcVersion;
    }

    /// <summary>The process-wide cache on <see cref="DefaultDirectory"/>.</summary>
    public static KernelCache Shared { get; } = new(DefaultDirectory());

    public string? Directory { get; }

    /// <summary>Says, once per cache, that the disk level cannot be written (default: a warning line on stderr).</summary>
    public Action<string> Warn { get; set; } = m => Console.Error.WriteLine($"cudaadam: warning: {m}");

    /// <summary><c>$CUDAADAM_CACHE_DIR</c> (made absolute), <c>$XDG_CACHE_HOME/cudaadam/kernels</c> (when absolute, as
    /// the XDG spec asks) or <c>~/.cache/cudaadam/kernels</c>; null (memory only: <see cref="Shared"/> writes nothing)
    /// when there is no absolute home directory, rather than a path relative to whatever the working directory is.</summary>
    public static string? DefaultDirectory() =>
        DefaultDirectoryFrom(Environment.GetEnvironmentVariable, Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));

    internal static string? DefaultDirectoryFrom(Func<string, string?> environment, string? home)
    {
        var explicitDir = environment("CUDAADAM_CACHE_DIR");
        if (!string.IsNullOrEmpty(explicitDir)) return Path.GetFullPath(explicitDir);
        var xdg = environment("XDG_CACHE_HOME");
        if (!string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)) return Path.Combine(xdg, "cudaadam", "kernels");
        return !string.IsNullOrEmpty(home) && Path.IsPathRooted(home) ? Path.Combine(home, ".cache", "cudaadam", "kernels") : null;
    }

    public KernelCacheStatistics Statistics
    {
        get { lock (_gate) return new(_memoryHits, _diskHits, _compiles, _corrupt, _lastWriteError); }
    }

    /// <summary>The image for <paramref name="source"/> on <paramref name="target"/>: from memory, from a verified
    /// file, or compiled now with <see cref="NvrtcCompiler.Options"/>(<paramref name="target"/>, <paramref name="extraOptions"/>).</summary>
    public KernelImage GetOrCompile(KernelSource source, CompileTarget target, IEnumerable<string>? extraOptions = null)
    {
        var options = NvrtcCompiler.Options(target, extraOptions);
        var key = Key(source, options, _nvrtcVersion(), target.Arch);
        var clock = Stopwatch.StartNew();
        lock (_gate)
        {
            if (_memory.TryGetValue(key, out var known))
            {
                _memoryHits++;
                return known with { Outcome = CacheOutcome.Memory, Elapsed = clock.Elapsed };
            }
            if (Directory is not null && TryRead(key, out var image, out bool isCubin))
            {
                _diskHits++;
                var hit = new KernelImage(key, source.FileName, target.Arch, image, isCubin, CacheOutcome.Disk, clock.Elapsed);
                _memory[key] = hit;
                return hit;
            }
        }

        // Compile outside the lock: NVRTC takes seconds and is thread-safe across programs.
        target.CheckSupported(NvrtcCompiler.SupportedArchs);
        var compiled = NvrtcCompiler.Compile(source, options, target.IsCubin);
        lock (_gate)
        {
            _compiles++;
            if (Directory is not null && !_writesDisabled) TryWrite(key, compiled.Image, compiled.IsCubin);
            var result = new KernelImage(key, source.FileName, target.Arch, compiled.Image, compiled.IsCubin, CacheOutcome.Compiled, clock.Elapsed);
            _memory[key] = result;
            return result;
        }
    }

    /// <summary>Forgets the memory level (the disk files stay); for benchmarks and tests.</summary>
    public void ClearMemory()
    {
        lock (_gate) _memory.Clear();
    }

    /// <summary>The file that holds <paramref name="key"/>.</summary>
    public string PathFor(string key) =>
        Path.Combine(Directory ?? throw new InvalidOperationException("this cache has no disk directory"), key + Extension);

    /// <summary>Number of cache files and their total size in bytes (0, 0 when the directory does not exist).</summary>
    public static (int Files, long Bytes) DiskUsage(string directory)
    {
        if (!System.IO.Directory.Exists(directory)) return (0, 0);
        var files = new DirectoryInfo(directory).GetFiles("*" + Extension);
        return (files.Length, files.Sum(f => f.Length));
    }

    /// <summary>The cache key: lowercase hex SHA-256 over every input that can change the compiled image.</summary>
    public static string Key(KernelSource source, IEnumerable<string> options, (int Major, int Minor) nvrtcVersion, string arch)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Field(string s)
        {
            var bytes = Encoding.UTF8.GetBytes(s);
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(length, bytes.Length);
            hash.AppendData(length);
            hash.AppendData(bytes);
        }

        Field($"cudaadam-kernel-cache/{FormatVersion}");
        Field($"nvrtc/{nvrtcVersion.Major}.{nvrtcVersion.Minor}");
        Field($"arch/{arch}");
        var sorted = options.Order(StringComparer.Ordinal).ToList();
        Field($"options/{sorted.Count}");
        foreach (var o in sorted) Field(o);
        Field(source.FileName);
        Field(source.Text);
        var headers = source.Headers.Keys.Order(StringComparer.Ordinal).ToList();
        Field($"headers/{headers.Count}");
        foreach (var h in headers)
        {
            Field(h);
            Field(source.Headers[h]);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private bool TryRead(string key, out byte[] image, out bool isCubin)
    {
        image = [];
        isCubin = false;
        var path = PathFor(key);
        byte[]? data = null;
        try
        {
            if (FileProbe.Stat(path, followLinks: false).Kind == FileKind.Missing) return false;
            // A regular file of at most 256 MiB, opened without blocking: a FIFO, /dev/zero or a link to it is refused
            // at once (then removed below like any other damaged entry).
            data = SafeFile.ReadAllBytes(path, MaxFileBytes);
        }
        catch (PathRefusedException) { }
        catch (InsufficientMemoryException) { }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }

        if (data is not null && Verify(data, key, out image, out isCubin)) return true;
        _corrupt++;
        try
        {
            File.Delete(path);   // unlinks the entry (a link to /dev/zero: the link, never the device)
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return false;
    }

    /// <summary>Checks a cache file's bytes against <paramref name="key"/>; false for any mismatch or truncation.</summary>
    internal static bool Verify(byte[] data, string key, out byte[] image, out bool isCubin)
    {
        image = [];
        isCubin = false;
        if (data.Length < HeaderBytes) return false;
        var span = data.AsSpan();
        if (!span[..4].SequenceEqual(Magic)) return false;
        if (BinaryPrimitives.ReadInt32LittleEndian(span[4..]) != FormatVersion) return false;
        byte kind = span[8];
        if (kind > 1 || span[9] != 0 || span[10] != 0 || span[11] != 0) return false;
        long length = BinaryPrimitives.ReadInt64LittleEndian(span[12..]);
        if (length < 0 || length != data.Length - HeaderBytes) return false;
        if (!span.Slice(20, 32).SequenceEqual(Convert.FromHexString(key))) return false;
        var payload = span[HeaderBytes..];
        if (!Digest(span[20..52], kind, payload).AsSpan().SequenceEqual(span.Slice(52, 32))) return false;
        if (!(kind == 1 ? LooksLikeCubin(payload) : LooksLikePtx(payload))) return false;
        image = payload.ToArray();
        isCubin = kind == 1;
        return true;
    }

    internal static byte[] Serialize(string key, byte[] image, bool isCubin)
    {
        var data = new byte[HeaderBytes + image.Length];
        var span = data.AsSpan();
        Magic.CopyTo(span);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], FormatVersion);
        span[8] = isCubin ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt64LittleEndian(span[12..], image.Length);
        Convert.FromHexString(key).CopyTo(span[20..]);
        Digest(span[20..52], span[8], image).CopyTo(span[52..]);
        image.CopyTo(span[HeaderBytes..]);
        return data;
    }

    /// <summary>SHA-256 over the key, the kind and the payload: a payload moved under another key does not verify.</summary>
    private static byte[] Digest(ReadOnlySpan<byte> key, byte kind, ReadOnlySpan<byte> payload)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        h.AppendData("cudaadam-kernel-cache-payload/2"u8);
        h.AppendData(key);
        h.AppendData([kind]);
        h.AppendData(payload);
        return h.GetHashAndReset();
    }

    /// <summary>PTX as NVRTC writes it: printable ASCII text (one trailing NUL allowed) with .version and .target.</summary>
    internal static bool LooksLikePtx(ReadOnlySpan<byte> payload)
    {
        if (payload.Length > 0 && payload[^1] == 0) payload = payload[..^1];
        foreach (byte b in payload)
            if (b is not ((>= 0x20 and < 0x7F) or (byte)'\n' or (byte)'\t' or (byte)'\r')) return false;
        return payload.IndexOf("\n.version "u8) >= 0 && payload.IndexOf("\n.target "u8) >= 0;
    }

    /// <summary>A cubin: an ELF file (64-bit, little-endian) whose machine is EM_CUDA (190).</summary>
    internal static bool LooksLikeCubin(ReadOnlySpan<byte> payload) =>
        payload.Length >= 64 && payload[0] == 0x7F && payload[1..4].SequenceEqual("ELF"u8) && payload[4] == 2 && payload[5] == 1 &&
        BinaryPrimitives.ReadUInt16LittleEndian(payload[18..]) == 190;

    private void TryWrite(string key, byte[] image, bool isCubin)
    {
        var path = PathFor(key);
        try
        {
            System.IO.Directory.CreateDirectory(Directory!);
            AtomicFile.WriteAllBytes(path, Serialize(key, image, isCubin));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Said once; the run goes on with the memory level only.
            _lastWriteError = $"could not write the kernel cache file {path}: {e.Message} (set CUDAADAM_CACHE_DIR to a writable directory)";
            _writesDisabled = true;
            Warn($"{_lastWriteError}; kernels are compiled without the disk cache in this run");
        }
    }
}
