using System.Runtime.InteropServices;
using PixelLLM.Runtime;

namespace PixelLLM.Backends.Cuda.Interop;

/// <summary>
/// NVRTC, the CUDA runtime compiler, bound at run time: whichever libnvrtc the probe finds (CUDA 11.2 or newer).
/// Entry points are resolved with <see cref="NativeLibrary.GetExport"/> into unmanaged function pointers, so one
/// build works against every NVRTC major version. Every status is checked; a failure throws
/// <see cref="BackendException"/> naming the call.
/// </summary>
public sealed unsafe class Nvrtc
{
    /// <summary>Library file names in order of preference (newest CUDA first).</summary>
    public static readonly IReadOnlyList<string> FileNames = ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"];

    /// <summary>Environment variable that names an explicit libnvrtc path.</summary>
    public const string PathVariable = "PIXELLLM_NVRTC";

    private const int Success = 0;
    private const int CompilationError = 6;

    private static readonly Lazy<(Nvrtc? Nvrtc, string? WhyNot)> Shared = new(Open);

    private readonly delegate* unmanaged<int, byte*> _getErrorString;
    private readonly delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int> _createProgram;
    private readonly delegate* unmanaged<nint*, int> _destroyProgram;
    private readonly delegate* unmanaged<nint, int, byte**, int> _compileProgram;
    private readonly delegate* unmanaged<nint, nuint*, int> _getProgramLogSize;
    private readonly delegate* unmanaged<nint, byte*, int> _getProgramLog;
    private readonly delegate* unmanaged<nint, nuint*, int> _getPtxSize;
    private readonly delegate* unmanaged<nint, byte*, int> _getPtx;
    private readonly delegate* unmanaged<nint, nuint*, int> _getCubinSize; // null before NVRTC 11.1
    private readonly delegate* unmanaged<nint, byte*, int> _getCubin;

    private Nvrtc(nint library, string path)
    {
        LibraryPath = path;
        _getErrorString = (delegate* unmanaged<int, byte*>)Export(library, "nvrtcGetErrorString");
        var version = (delegate* unmanaged<int*, int*, int>)Export(library, "nvrtcVersion");
        _createProgram = (delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int>)Export(library, "nvrtcCreateProgram");
        _destroyProgram = (delegate* unmanaged<nint*, int>)Export(library, "nvrtcDestroyProgram");
        _compileProgram = (delegate* unmanaged<nint, int, byte**, int>)Export(library, "nvrtcCompileProgram");
        _getProgramLogSize = (delegate* unmanaged<nint, nuint*, int>)Export(library, "nvrtcGetProgramLogSize");
        _getProgramLog = (delegate* unmanaged<nint, byte*, int>)Export(library, "nvrtcGetProgramLog");
        _getPtxSize = (delegate* unmanaged<nint, nuint*, int>)Export(library, "nvrtcGetPTXSize");
        _getPtx = (delegate* unmanaged<nint, byte*, int>)Export(library, "nvrtcGetPTX");
        NativeLibrary.TryGetExport(library, "nvrtcGetCUBINSize", out var cubinSize);
        NativeLibrary.TryGetExport(library, "nvrtcGetCUBIN", out var cubin);
        _getCubinSize = (delegate* unmanaged<nint, nuint*, int>)cubinSize;
        _getCubin = (delegate* unmanaged<nint, byte*, int>)cubin;

        int major, minor;
        Check(version(&major, &minor), "nvrtcVersion");
        Version = new Version(major, minor);
        SupportedArchs = QuerySupportedArchs(library);
    }

    /// <summary>The file that was loaded.</summary>
    public string LibraryPath { get; }

    /// <summary>NVRTC's version (nvrtcVersion), e.g. 11.8 or 13.0.</summary>
    public Version Version { get; }

    /// <summary>The sm_XX numbers this NVRTC can target (nvrtcGetSupportedArchs); empty before NVRTC 11.2.</summary>
    public IReadOnlyList<int> SupportedArchs { get; }

    /// <summary>Whether this NVRTC can emit CUBIN directly (nvrtcGetCUBIN, NVRTC 11.1+) rather than only PTX.</summary>
    public bool CanEmitCubin => _getCubin != null && _getCubinSize != null;

    /// <summary>The process-wide NVRTC; throws <see cref="BackendException"/> saying what was tried when none loads.</summary>
    public static Nvrtc Load() => Shared.Value.Nvrtc ?? throw new BackendException($"NVRTC is not available: {Shared.Value.WhyNot}");

    /// <summary>The process-wide NVRTC, or null and the reason it could not be loaded.</summary>
    public static Nvrtc? TryLoad(out string? whyNot)
    {
        whyNot = Shared.Value.WhyNot;
        return Shared.Value.Nvrtc;
    }

    private static (Nvrtc?, string?) Open()
    {
        var probe = NativeLibraryProbe.Load("libnvrtc", FileNames, PathVariable);
        if (!probe.Found) return (null, probe.WhyNot);
        try { return (new Nvrtc(probe.Handle, probe.Path!), null); }
        catch (BackendException e) { return (null, $"{probe.Path}: {e.Message}"); }
    }

    /// <summary>NVRTC's own name for a status code (nvrtcGetErrorString).</summary>
    public string GetErrorString(int status)
    {
        var text = _getErrorString(status);
        return text == null ? $"NVRTC status {status}" : Marshal.PtrToStringUTF8((nint)text)!;
    }

    /// <summary>
    /// Creates a program from <paramref name="source"/>; <paramref name="headers"/> are the files it may #include,
    /// by name (NVRTC does not read the file system for them).
    /// </summary>
    public NvrtcProgram CreateProgram(string source, string name, IReadOnlyList<(string Name, string Source)> headers)
    {
        using var src = new Utf8Strings([source, name]);
        using var headerSources = new Utf8Strings(headers.Select(h => h.Source).ToArray());
        using var headerNames = new Utf8Strings(headers.Select(h => h.Name).ToArray());
        nint program;
        Check(_createProgram(&program, src.Pointers[0], src.Pointers[1], headers.Count, headerSources.Pointers, headerNames.Pointers),
            $"nvrtcCreateProgram({name})");
        return new NvrtcProgram(this, program, name);
    }

    internal void Compile(nint program, string name, IReadOnlyList<string> options)
    {
        using var opts = new Utf8Strings(options);
        int status = _compileProgram(program, options.Count, opts.Pointers);
        if (status == CompilationError)
            throw new BackendException($"nvrtcCompileProgram({name}) failed: {GetErrorString(status)}\n{GetLog(program, name)}");
        Check(status, $"nvrtcCompileProgram({name})");
    }

    internal string GetLog(nint program, string name)
    {
        var bytes = ReadBlob(program, _getProgramLogSize, _getProgramLog, $"nvrtcGetProgramLog({name})");
        return System.Text.Encoding.UTF8.GetString(bytes).TrimEnd('\0');
    }

    internal byte[] GetPtx(nint program, string name) => ReadBlob(program, _getPtxSize, _getPtx, $"nvrtcGetPTX({name})");

    internal byte[] GetCubin(nint program, string name)
    {
        if (!CanEmitCubin) throw new BackendException($"nvrtcGetCUBIN({name}): NVRTC {Version} has no CUBIN output (needs 11.1+)");
        return ReadBlob(program, _getCubinSize, _getCubin, $"nvrtcGetCUBIN({name})");
    }

    internal void Destroy(nint program, string name) => Check(_destroyProgram(&program), $"nvrtcDestroyProgram({name})");

    private byte[] ReadBlob(nint program, delegate* unmanaged<nint, nuint*, int> getSize, delegate* unmanaged<nint, byte*, int> get, string call)
    {
        nuint size;
        Check(getSize(program, &size), call + " size");
        var bytes = new byte[(int)size];
        fixed (byte* p = bytes) Check(get(program, p), call);
        return bytes;
    }

    private IReadOnlyList<int> QuerySupportedArchs(nint library)
    {
        if (!NativeLibrary.TryGetExport(library, "nvrtcGetNumSupportedArchs", out var countFn) ||
            !NativeLibrary.TryGetExport(library, "nvrtcGetSupportedArchs", out var listFn))
            return [];
        int count;
        Check(((delegate* unmanaged<int*, int>)countFn)(&count), "nvrtcGetNumSupportedArchs");
        var archs = new int[count];
        fixed (int* p = archs) Check(((delegate* unmanaged<int*, int>)listFn)(p), "nvrtcGetSupportedArchs");
        return archs;
    }

    private void Check(int status, string call)
    {
        if (status != Success) throw new BackendException($"{call} failed: {GetErrorString(status)} ({status})");
    }

    private static nint Export(nint library, string name) =>
        NativeLibrary.TryGetExport(library, name, out var address)
            ? address
            : throw new BackendException($"libnvrtc has no export {name}");
}
