using System.Runtime.InteropServices;

namespace PixelLLM.Runtime;

/// <summary>
/// Whether a path (symbolic links followed) is a regular file. Opening a FIFO blocks until another process opens its
/// other end and a device can stream without end, so inputs are refused and outputs written in place instead of
/// replaced when they are neither a regular file nor absent. .NET reports no file type on Unix, so this asks
/// <c>stat(2)</c> on Linux (x64 and Arm64, whose <c>struct stat</c> layouts it knows); elsewhere it cannot tell.
/// </summary>
public static unsafe partial class FileKind
{
    private const uint TypeMask = 0xF000, Regular = 0x8000;

    /// <summary>True for a regular file, false for a device, pipe or socket, null where the path is absent or the platform cannot say.</summary>
    public static bool? IsRegularFile(string path)
    {
        if (!File.Exists(path)) return null;
        if (!OperatingSystem.IsLinux()) return null;
        int modeOffset = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 24,   // st_dev, st_ino, st_nlink (8 bytes each), then st_mode
            Architecture.Arm64 => 16, // st_dev, st_ino (8 bytes each), then st_mode
            _ => -1,
        };
        if (modeOffset < 0) return null;
        byte* buffer = stackalloc byte[256]; // sizeof(struct stat) is 144 (x64) or 128 (Arm64)
        try
        {
            if (Stat(path, buffer) != 0) return null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
        return (*(uint*)(buffer + modeOffset) & TypeMask) == Regular;
    }

    /// <summary>Fails with one line naming <paramref name="what"/> when <paramref name="path"/> exists but is not a regular file.</summary>
    public static void RequireRegularInput(string path, string what)
    {
        if (IsRegularFile(path) == false)
            throw new InvalidInputException($"{path}: not a regular file (a device, pipe or socket), expected {what}");
    }

    // "libc.so.6", not "libc": the bare name resolves to glibc's libc.so, a linker script dlopen cannot load.
    [LibraryImport("libc.so.6", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Stat(string path, byte* buffer);
}
