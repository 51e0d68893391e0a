using System.Globalization;

namespace CudaAdam.Training.Jobs;

/// <summary>Another process holds the run folder (<see cref="RunFolderLock"/>); the message names its pid.</summary>
public sealed class RunFolderLockedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// One writer per run folder: an OS file lock on <c>&lt;folder&gt;/.lock</c>, held from the start of a job (or a
/// resume) to its end. The lock is <see cref="FileShare.None"/> (<c>flock(LOCK_EX)</c> on Linux, a share lock on
/// Windows), so the OS releases it when the holder dies, however it dies: a stale lock cannot exist. The holder's pid
/// goes to <c>.lock.pid</c> beside it (the locked file itself cannot be read by another process), so a second writer
/// is told who holds the folder.
/// </summary>
public sealed class RunFolderLock : IDisposable
{
    private const string LockName = ".lock", PidName = ".lock.pid";
    private readonly FileStream _lock;
    private readonly string _pidPath;

    private RunFolderLock(FileStream @lock, string pidPath)
    {
        _lock = @lock;
        _pidPath = pidPath;
    }

    /// <summary>Takes the lock of <paramref name="folder"/> (which must exist).</summary>
    /// <exception cref="RunFolderLockedException">Another process (or another job in this one) holds it.</exception>
    public static RunFolderLock Acquire(string folder)
    {
        string path = Path.Combine(folder, LockName), pidPath = Path.Combine(folder, PidName);
        FileStream stream;
        try { stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            string holder = File.Exists(pidPath) ? File.ReadAllText(pidPath).Trim() : "";
            string who = int.TryParse(holder, NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                ? $"pid {pid}" : "a process whose pid is not recorded yet";
            throw new RunFolderLockedException(
                $"run folder '{folder}' is in use by another cudaadam process ({who}): one writer at a time; wait for it to end, or stop it", e);
        }
        File.WriteAllText(pidPath, Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        return new RunFolderLock(stream, pidPath);
    }

    /// <summary>Releases the lock (the <c>.lock</c> file stays: deleting it could let two writers lock two files).</summary>
    public void Dispose()
    {
        try { File.Delete(_pidPath); }
        catch (IOException) { }
        _lock.Dispose();
    }
}
