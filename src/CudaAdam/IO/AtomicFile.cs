namespace CudaAdam.IO;

/// <summary>
/// Writes a file so that readers see either the old content or the complete new content, never a half-written file:
/// the bytes go to a temporary file in the target's directory (same file system, so the rename is atomic), are
/// flushed to disk (fsync), and the temporary file is renamed over the target (rename(2) on Unix).
/// On any failure the temporary file is deleted and an existing target is left untouched.
/// </summary>
/// <remarks>
/// Used for CLI outputs, the kernel cache and checkpoints. Not done: an fsync of the directory after the rename
/// (.NET has no portable way), so after a power loss the rename itself may be lost; the content is never torn.
/// Temporary files are named <c>.{name}.{random}.tmp</c> beside the target.
/// </remarks>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> atomically with what <paramref name="write"/> writes to the stream.</summary>
    /// <exception cref="DirectoryNotFoundException">The target's directory does not exist.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no directory part");
        if (!Directory.Exists(dir))
            throw new DirectoryNotFoundException($"cannot write '{path}': the directory '{dir}' does not exist (create it first)");
        if (Directory.Exists(full))
            throw new IOException($"cannot write '{path}': it is a directory");
        string temp = TempPath(full);
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
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
        WriteAllBytes(path, new System.Text.UTF8Encoding(false).GetBytes(text));
    }

    /// <summary>Whether <paramref name="fileName"/> looks like one of our temporary files (for tests and cleanup tools).</summary>
    public static bool IsTempFileName(string fileName) =>
        fileName.StartsWith('.') && fileName.EndsWith(".tmp", StringComparison.Ordinal);

    private static string TempPath(string full) =>
        Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");

    private static void TryDelete(string temp)
    {
        try { File.Delete(temp); }
        catch (IOException) { /* best effort: the original exception matters more */ }
        catch (UnauthorizedAccessException) { }
    }
}
