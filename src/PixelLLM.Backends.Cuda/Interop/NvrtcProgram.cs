namespace PixelLLM.Backends.Cuda.Interop;

/// <summary>One NVRTC program (nvrtcProgram): compile it once, then read its log and PTX or CUBIN.</summary>
public sealed class NvrtcProgram : IDisposable
{
    private readonly Nvrtc _nvrtc;
    private nint _handle;

    internal NvrtcProgram(Nvrtc nvrtc, nint handle, string name)
    {
        _nvrtc = nvrtc;
        _handle = handle;
        Name = name;
    }

    /// <summary>The source name given at creation; used in error messages and by NVRTC in diagnostics.</summary>
    public string Name { get; }

    /// <summary>nvrtcCompileProgram; a compile error throws with the program log in the message.</summary>
    public void Compile(IReadOnlyList<string> options) => _nvrtc.Compile(Live(), Name, options);

    /// <summary>nvrtcGetProgramLog: compiler diagnostics, and ptxas's resource report when asked for with -v.</summary>
    public string GetLog() => _nvrtc.GetLog(Live(), Name);

    /// <summary>nvrtcGetPTX: NUL-terminated PTX text, as the driver's module loader expects it.</summary>
    public byte[] GetPtx() => _nvrtc.GetPtx(Live(), Name);

    /// <summary>nvrtcGetCUBIN: the device binary; only for a real sm_XX target.</summary>
    public byte[] GetCubin() => _nvrtc.GetCubin(Live(), Name);

    public void Dispose()
    {
        if (_handle == 0) return;
        var handle = _handle;
        _handle = 0;
        _nvrtc.Destroy(handle, Name);
    }

    private nint Live() => _handle != 0 ? _handle : throw new ObjectDisposedException(nameof(NvrtcProgram), $"NVRTC program {Name} was destroyed");
}
