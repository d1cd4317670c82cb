using System.Runtime.InteropServices;

namespace PixelLLM.CApi;

/// <summary>
/// Where the image decoder's native library (libSkiaSharp.so) is found. A NativeAOT library's base directory is the host
/// program's, so by default libSkiaSharp.so would have to sit beside the program or on the loader's path; it is looked
/// for beside libpixelllm.so first instead, where `dotnet publish` puts it.
/// </summary>
internal static unsafe partial class NativeDependencies
{
    private static int registered;

    public static void Register()
    {
        // Only compiled ahead of time: under the JIT the host's deps.json already says where it is.
        if (System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported || Interlocked.Exchange(ref registered, 1) != 0) return;
        if (OwnDirectory() is not { } directory) return;
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(SkiaSharp.SKImage).Assembly, (name, _, _) =>
                name.Contains("SkiaSharp", StringComparison.Ordinal)
                && NativeLibrary.TryLoad(Path.Combine(directory, "libSkiaSharp.so"), out var handle) ? handle : 0);
        }
        catch (InvalidOperationException)
        {
            // The assembly has a resolver of its own already; the loader's default search stays.
        }
    }

    /// <summary>The directory of the file this code runs from: libpixelllm.so when compiled ahead of time.</summary>
    private static string? OwnDirectory()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var address = (nint)(delegate* unmanaged<byte*>)&NativeExports.Version;
            return dladdr(address, out var info) != 0 && info.FileName != 0
                && Marshal.PtrToStringUTF8(info.FileName) is { Length: > 0 } file ? Path.GetDirectoryName(Path.GetFullPath(file)) : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct DlInfo
    {
        public nint FileName;
        public nint BaseAddress;
        public nint SymbolName;
        public nint SymbolAddress;
    }

    [LibraryImport("libc.so.6")]
    private static partial int dladdr(nint address, out DlInfo info);
}
