using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace CudaAdam.IO;

/// <summary>
/// Writes a file so that readers see either the old content or the complete new content, never a half-written file:
/// the bytes go to a temporary file in the target's directory (same file system, so the rename is atomic), are
/// flushed to disk (fsync), and the temporary file is renamed over the target (rename(2) on Unix).
/// On any failure the temporary file is deleted and an existing target is left untouched.
/// </summary>
/// <remarks>
/// <para>What it refuses (<see cref="PathRefusedException"/>, nothing touched): an empty path; a target that is a
/// directory, FIFO, device or socket; a read-only file (no write permission bit, or not writable by the caller).
/// Only regular files are ever replaced.</para>
/// <para>A symbolic link is written through: the final target of the chain of links is replaced atomically, in the
/// target's own directory, and the link stays a link (a dangling link creates its target).</para>
/// <para>Temporary files are named <c>.{name}.{pid}.{random}.tmp</c> beside the target (the name shortened so that
/// the whole fits in 255 bytes). They are removed when the process gets SIGINT or SIGTERM (<see cref="AbortAll"/>,
/// called by the CLI), and a temporary file whose owner process is dead (a kill -9) is swept the next time this
/// class writes in that directory.</para>
/// <para>Not done: an fsync of the directory after the rename (.NET has no portable way), so after a power loss the
/// rename itself may be lost; the content is never torn. The replaced file keeps its permission bits.</para>
/// </remarks>
public static partial class AtomicFile
{
    private static readonly Lock Gate = new();
    private static readonly HashSet<string> Live = new(StringComparer.Ordinal);
    private static readonly HashSet<string> Swept = new(StringComparer.Ordinal);
    private static bool _aborted;

    /// <summary>Writes <paramref name="path"/> atomically with what <paramref name="write"/> writes to the stream.</summary>
    /// <exception cref="DirectoryNotFoundException">The target's directory does not exist.</exception>
    /// <exception cref="PathRefusedException">The target is not a regular file, or is read-only (see the remarks).</exception>
    /// <exception cref="UnauthorizedAccessException">The directory is not writable.</exception>
    /// <exception cref="IOException">The disk is full, the file system read-only, or another I/O error; one line.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(write);
        string target = CheckTarget(path);
        string dir = Path.GetDirectoryName(target)!;
        SweepStale(dir);
        string temp = TempPath(target);
        FileStream fs;
        lock (Gate)
        {
            if (_aborted) throw new OperationCanceledException($"not writing '{path}': the process is being interrupted");
            try { fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw Explain(path, dir, e); }
            Live.Add(temp);
        }
        try
        {
            using (fs)
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            if (!OperatingSystem.IsWindows() && File.Exists(target))
                File.SetUnixFileMode(temp, File.GetUnixFileMode(target));
            lock (Gate)
            {
                if (_aborted) throw new OperationCanceledException($"not writing '{path}': the process is being interrupted");
                File.Move(temp, target, overwrite: true);
                Live.Remove(temp);
            }
        }
        catch (Exception e)
        {
            lock (Gate) Live.Remove(temp);
            TryDelete(temp);
            if (e is IOException io && io.GetType() == typeof(IOException) && IsEnvironmentErrno(io.HResult)) throw Explain(path, dir, io);
            if (e is UnauthorizedAccessException) throw Explain(path, dir, e);
            throw;
        }
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteAllBytes(string path, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        Write(path, s => s.Write(bytes));
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 (no BOM) to <paramref name="path"/> atomically.</summary>
    public static void WriteAllText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        WriteAllBytes(path, new UTF8Encoding(false).GetBytes(text));
    }

    /// <summary>
    /// Checks that <paramref name="path"/> may be written and returns the full path that will be replaced (the final
    /// target when it is a symbolic link). Commands call it before long work, so that a refused output is said at once.
    /// </summary>
    /// <exception cref="PathRefusedException">See <see cref="Write"/>.</exception>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    public static string CheckTarget(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0) throw new PathRefusedException("the output path is empty; give a file name");
        string target = FinalTarget(path);
        string dir = Path.GetDirectoryName(target) ?? throw new PathRefusedException($"'{path}' has no directory part");
        var facts = FileProbe.Stat(target, followLinks: false);
        switch (facts.Kind)
        {
            case FileKind.Missing:
                if (!Directory.Exists(dir))
                    throw new DirectoryNotFoundException($"cannot write '{path}': the directory '{dir}' does not exist (create it first)");
                break;
            case FileKind.Regular:
                if (!FileProbe.MayWrite(target, facts))
                {
                    string mode = Convert.ToString(facts.Mode & 0x1FF, 8).PadLeft(4, '0');
                    throw new PathRefusedException((facts.Mode & 0x92) == 0
                        ? $"'{path}' is read-only (mode {mode}); CudaAdam does not replace it: make it writable (chmod u+w) or choose another name"
                        : $"'{path}' is not writable by you (mode {mode}, read-only for you); CudaAdam does not replace it: choose another name");
                }
                break;
            case FileKind.Directory:
                throw new PathRefusedException($"cannot write '{path}': it is a directory; give a file name");
            default:
                throw new PathRefusedException($"cannot write '{path}': it is {facts.Describe()}; CudaAdam writes regular files only " +
                                               "and never replaces anything else");
        }
        if (Encoding.UTF8.GetByteCount(Path.GetFileName(target)) > 255)
            throw new PathTooLongException($"cannot write '{path}': the file name is longer than 255 bytes");
        return target;
    }

    /// <summary>The full path a write to <paramref name="path"/> replaces: the final target of a chain of symbolic links,
    /// or <paramref name="path"/> itself.</summary>
    public static string FinalTarget(string path)
    {
        string full = Path.GetFullPath(path);
        if (FileProbe.Stat(full, followLinks: false).Kind != FileKind.Symlink) return full;
        try
        {
            var final = File.ResolveLinkTarget(full, returnFinalTarget: true);
            return final is null ? full : Path.GetFullPath(final.FullName);
        }
        catch (IOException e)
        {
            throw new PathRefusedException($"cannot write '{path}': its symbolic links cannot be followed ({e.Message})");
        }
    }

    /// <summary>Whether <paramref name="fileName"/> looks like one of our temporary files (for tests and cleanup tools).</summary>
    public static bool IsTempFileName(string fileName) =>
        fileName.StartsWith('.') && fileName.EndsWith(".tmp", StringComparison.Ordinal);

    /// <summary>
    /// Deletes every temporary file this process is writing and makes further writes fail, so that nothing is renamed
    /// into place afterwards. The CLI calls it on SIGINT and SIGTERM before the process ends.
    /// </summary>
    public static void AbortAll()
    {
        lock (Gate)
        {
            _aborted = true;
            foreach (var t in Live) TryDelete(t);
            Live.Clear();
        }
    }

    /// <summary>The temporary files this process is writing now (tests).</summary>
    internal static int LiveCount { get { lock (Gate) return Live.Count; } }

    /// <summary>Removes the temporary files in <paramref name="dir"/> whose owner process is dead; returns how many.
    /// Runs once per directory and process from <see cref="Write"/>.</summary>
    public static int SweepStale(string dir)
    {
        lock (Gate)
            if (!Swept.Add(dir)) return 0;
        int removed = 0;
        try
        {
            foreach (var file in Directory.EnumerateFiles(dir, ".*.tmp"))
            {
                var m = TempName().Match(Path.GetFileName(file));
                if (!m.Success || !int.TryParse(m.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
                if (pid == Environment.ProcessId || IsAlive(pid)) continue;
                if (TryDelete(file)) removed++;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* an unreadable folder: nothing to sweep */ }
        return removed;
    }

    [GeneratedRegex(@"^\..*\.(\d{1,10})\.([0-9a-f]{12})\.tmp$")]
    private static partial Regex TempName();

    private static bool IsAlive(int pid)
    {
        if (OperatingSystem.IsLinux()) return Directory.Exists($"/proc/{pid}");
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    private static string TempPath(string full)
    {
        string suffix = $".{Environment.ProcessId}.{Guid.NewGuid():N}"[..^20] + ".tmp";   // pid + 12 hex digits
        string name = Path.GetFileName(full);
        int budget = 255 - 1 - Encoding.UTF8.GetByteCount(suffix);
        while (Encoding.UTF8.GetByteCount(name) > budget) name = name[..^1];
        return Path.Combine(Path.GetDirectoryName(full)!, $".{name}{suffix}");
    }

    private static bool IsEnvironmentErrno(int errno) =>
        errno is FileProbe.ENOSPC or FileProbe.EDQUOT or FileProbe.EROFS or 5 /* EIO */ or 27 /* EFBIG */ or FileProbe.ENAMETOOLONG or FileProbe.EACCES;

    /// <summary>A one-line message that names the target (not our temporary file) and the cause.</summary>
    private static Exception Explain(string path, string dir, Exception e)
    {
        if (e is UnauthorizedAccessException)
            return new UnauthorizedAccessException($"cannot write '{path}': the directory '{dir}' is not writable (permission denied)", e);
        if (e is PathTooLongException)
            return new PathTooLongException($"cannot write '{path}': the name is too long for the file system");
        if (e is DirectoryNotFoundException)
            return new DirectoryNotFoundException($"cannot write '{path}': the directory '{dir}' does not exist (create it first)");
        return e.HResult switch
        {
            FileProbe.ENOSPC => new IOException($"cannot write '{path}': no space left on the device that holds '{dir}'; nothing was replaced", e),
            FileProbe.EDQUOT => new IOException($"cannot write '{path}': the disk quota is exceeded on '{dir}'; nothing was replaced", e),
            FileProbe.EROFS => new IOException($"cannot write '{path}': '{dir}' is on a read-only file system", e),
            FileProbe.ENAMETOOLONG => new PathTooLongException($"cannot write '{path}': the name is too long for the file system"),
            _ => new IOException($"cannot write '{path}': {OneLine(e.Message)}", e),
        };
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();

    private static bool TryDelete(string temp)
    {
        try { File.Delete(temp); return true; }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }
}
