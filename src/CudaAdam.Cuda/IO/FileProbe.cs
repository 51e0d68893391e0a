#pragma warning disable CS1591 // CS1591 backlog (issue 13): 9 public members here have no XML doc yet; document them, then delete this line
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace CudaAdam.IO;

/// <summary>What a path names, as lstat(2)/stat(2) see it.</summary>
public enum FileKind
{
    Missing,
    Regular,
    Directory,
    Symlink,
    Fifo,
    CharacterDevice,
    BlockDevice,
    Socket,
    Unknown,
}

/// <summary>The facts of one file that the safe reader and writer decide on.</summary>
/// <param name="Kind">Its type.</param>
/// <param name="Mode">The permission bits (<c>0777</c> mask, plus setuid/setgid/sticky).</param>
/// <param name="Size">Its length in bytes (regular files).</param>
/// <param name="Device">The device it lives on (with <paramref name="Inode"/>: its identity; 0 where unknown).</param>
/// <param name="Inode">Its inode number (0 where unknown).</param>
public readonly record struct FileFacts(FileKind Kind, int Mode, long Size, ulong Device, ulong Inode)
{
    /// <summary>"a FIFO (named pipe)", "a character device", ... for messages.</summary>
    public string Describe() => Kind switch
    {
        FileKind.Regular => "a regular file",
        FileKind.Directory => "a directory",
        FileKind.Symlink => "a symbolic link",
        FileKind.Fifo => "a FIFO (named pipe)",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Socket => "a socket",
        FileKind.Missing => "missing",
        _ => "not a regular file",
    };
}

/// <summary>A path that CudaAdam refuses to read or to replace (a FIFO, a device, a directory, a read-only file, an
/// input of the same command, an empty path). The message is one line that names the path and says what to do.</summary>
public sealed class PathRefusedException(string message) : IOException(message);

/// <summary>
/// stat(2) without opening the file, so that a FIFO or a device is never opened by accident. On Linux through
/// statx(2) (the same structure on every architecture); elsewhere from what .NET can tell (regular file or directory).
/// </summary>
public static unsafe partial class FileProbe
{
    private const string Libc = "libc.so.6";
    private const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100, AtEmptyPath = 0x1000;
    private const uint StatxBasic = 0x7ff;
    private const int ORdOnly = 0, ONonBlock = 0x800, OCloExec = 0x80000;
    internal const int ENOENT = 2, EACCES = 13, ENOTDIR = 20, ENXIO = 6, ENAMETOOLONG = 36, ELOOP = 40, EROFS = 30, ENOSPC = 28, EDQUOT = 122;

    [LibraryImport(Libc, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport(Libc, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport(Libc, EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport(Libc, EntryPoint = "access", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Access(string path, int mode);

    [LibraryImport(Libc, EntryPoint = "geteuid")]
    private static partial uint GetEuid();

    private static readonly Lazy<bool> Native = new(() =>
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            byte* b = stackalloc byte[256];
            return Statx(AtFdCwd, "/", 0, StatxBasic, b) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    });

    /// <summary>Whether this platform gives the full answer (Linux: statx); elsewhere FIFOs and devices look like files.</summary>
    public static bool IsExact => Native.Value;

    /// <summary>The facts of <paramref name="path"/>; <see cref="FileKind.Missing"/> when it does not exist.
    /// With <paramref name="followLinks"/> false a symbolic link is reported as <see cref="FileKind.Symlink"/>.</summary>
    /// <exception cref="IOException">The path cannot be examined (too long, a loop of links, permission denied on a folder).</exception>
    public static FileFacts Stat(string path, bool followLinks = true)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0) throw new PathRefusedException("the path is empty");
        if (!Native.Value) return ManagedStat(path, followLinks);
        byte* b = stackalloc byte[256];
        if (Statx(AtFdCwd, path, followLinks ? 0 : AtSymlinkNoFollow, StatxBasic, b) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is ENOENT or ENOTDIR) return new FileFacts(FileKind.Missing, 0, 0, 0, 0);
            throw Error(path, errno, "cannot examine");
        }
        return Facts(b);
    }

    /// <summary>Whether the caller may write <paramref name="path"/> by its permissions (root: any file with a write bit).</summary>
    public static bool MayWrite(string path, FileFacts facts)
    {
        if ((facts.Mode & 0b010_010_010) == 0) return false;   // nobody may write it: 0444, 0555, 0400
        if (!Native.Value) return true;
        return GetEuid() == 0 || Access(path, 2 /* W_OK */) == 0;
    }

    /// <summary>Opens <paramref name="path"/> for reading without blocking and returns the handle with its facts; a FIFO,
    /// device or socket is refused before a single byte is read (O_NONBLOCK, then fstat on the open descriptor).</summary>
    public static (SafeFileHandle Handle, FileFacts Facts) OpenRegular(string path)
    {
        if (!Native.Value)
        {
            var facts = ManagedStat(path, followLinks: true);
            RefuseNonRegular(path, facts);
            return (File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read), facts);
        }
        int fd = Open(path, ORdOnly | ONonBlock | OCloExec);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == ENXIO) throw new PathRefusedException($"'{path}' is a socket or a device without a driver; CudaAdam reads regular files only");
            throw Error(path, errno, "cannot open");
        }
        byte* b = stackalloc byte[256];
        if (Statx(fd, "", AtEmptyPath, StatxBasic, b) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            Close(fd);
            throw Error(path, errno, "cannot examine");
        }
        var f = Facts(b);
        if (f.Kind != FileKind.Regular)
        {
            Close(fd);
            RefuseNonRegular(path, f);
        }
        return (new SafeFileHandle(fd, ownsHandle: true), f);
    }

    internal static void RefuseNonRegular(string path, FileFacts f)
    {
        switch (f.Kind)
        {
            case FileKind.Regular: return;
            case FileKind.Missing: throw new FileNotFoundException($"'{path}': no such file", path);
            case FileKind.Directory: throw new PathRefusedException($"'{path}' is a directory; give a file");
            default: throw new PathRefusedException($"'{path}' is {f.Describe()}, not a regular file; CudaAdam reads regular files only");
        }
    }

    /// <summary>The exception for a failed system call on <paramref name="path"/>, with a one-line message.</summary>
    internal static Exception Error(string path, int errno, string doing) => errno switch
    {
        ENOENT or ENOTDIR => new FileNotFoundException($"'{path}': no such file", path),
        EACCES or 1 /* EPERM */ => new UnauthorizedAccessException($"'{path}': permission denied ({doing} it)"),
        ENAMETOOLONG => new PathTooLongException($"'{path}': the name is too long for the file system"),
        ELOOP => new IOException($"'{path}': too many levels of symbolic links"),
        _ => new IOException($"'{path}': {doing} it: {Marshal.GetPInvokeErrorMessage(errno)}", errno),
    };

    private static FileFacts Facts(byte* b)
    {
        int mode = *(ushort*)(b + 28);
        var kind = (mode & 0xF000) switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0xA000 => FileKind.Symlink,
            0x1000 => FileKind.Fifo,
            0x2000 => FileKind.CharacterDevice,
            0x6000 => FileKind.BlockDevice,
            0xC000 => FileKind.Socket,
            _ => FileKind.Unknown,
        };
        long size = *(long*)(b + 40);
        ulong ino = *(ulong*)(b + 32);
        // stx_dev_major at 136, stx_dev_minor at 140.
        ulong dev = ((ulong)*(uint*)(b + 136) << 32) | *(uint*)(b + 140);
        return new FileFacts(kind, mode & 0xFFF, size, dev, ino);
    }

    private static FileFacts ManagedStat(string path, bool followLinks)
    {
        FileSystemInfo info = Directory.Exists(path) ? new DirectoryInfo(path) : new FileInfo(path);
        if (!followLinks && info.LinkTarget is not null) return new FileFacts(FileKind.Symlink, 0x1FF, 0, 0, 0);
        if (info is DirectoryInfo) return new FileFacts(FileKind.Directory, 0x1ED, 0, 0, 0);
        if (!info.Exists) return new FileFacts(FileKind.Missing, 0, 0, 0, 0);
        var fi = (FileInfo)info;
        int mode = OperatingSystem.IsWindows() ? (fi.IsReadOnly ? 0x124 : 0x1A4) : (int)fi.UnixFileMode;
        return new FileFacts(FileKind.Regular, mode, fi.Length, 0, 0);
    }
}
