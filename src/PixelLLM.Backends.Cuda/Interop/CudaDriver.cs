using System.Runtime.InteropServices;
using PixelLLM.Runtime;

namespace PixelLLM.Backends.Cuda.Interop;

/// <summary>
/// The CUDA driver API (libcuda.so.1), bound at run time into unmanaged function pointers so a machine without a
/// driver never loads it. Every status is checked; a failure throws <see cref="BackendException"/> naming the call
/// and the driver's own name for the error. Handles are plain <see cref="nint"/>s; device pointers are <see cref="ulong"/>s.
/// </summary>
public sealed unsafe partial class CudaDriver
{
    private static readonly Lazy<(CudaDriver? Driver, string? WhyNot)> Shared = new(Open);

    private readonly delegate* unmanaged<int, byte**, int> _getErrorName;
    private readonly delegate* unmanaged<int, byte**, int> _getErrorString;
    private readonly delegate* unmanaged<uint, int> _init;
    private readonly delegate* unmanaged<int*, int> _deviceGetCount;
    private readonly delegate* unmanaged<int*, int, int> _deviceGet;
    private readonly delegate* unmanaged<int*, int, int, int> _deviceGetAttribute;
    private readonly delegate* unmanaged<byte*, int, int, int> _deviceGetName;
    private readonly delegate* unmanaged<nuint*, int, int> _deviceTotalMem;
    private readonly delegate* unmanaged<nint*, int, int> _primaryCtxRetain;
    private readonly delegate* unmanaged<int, int> _primaryCtxRelease;
    private readonly delegate* unmanaged<nint, int> _ctxSetCurrent;
    private readonly delegate* unmanaged<nint*, int> _ctxGetCurrent;
    private readonly delegate* unmanaged<nint*, void*, int> _moduleLoadData;
    private readonly delegate* unmanaged<nint, int> _moduleUnload;
    private readonly delegate* unmanaged<nint*, nint, byte*, int> _moduleGetFunction;
    private readonly delegate* unmanaged<nint, int, int, int> _funcSetAttribute;
    private readonly delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int> _launchKernel;
    private readonly delegate* unmanaged<ulong*, nuint, int> _memAlloc;
    private readonly delegate* unmanaged<ulong, int> _memFree;
    private readonly delegate* unmanaged<ulong*, nuint, nint, int> _memAllocAsync; // null before CUDA 11.2
    private readonly delegate* unmanaged<ulong, nint, int> _memFreeAsync;
    private readonly delegate* unmanaged<nuint*, nuint*, int> _memGetInfo;
    private readonly delegate* unmanaged<void**, nuint, int> _memAllocHost;
    private readonly delegate* unmanaged<void*, int> _memFreeHost;
    private readonly delegate* unmanaged<ulong, void*, nuint, int> _memcpyHtoD;
    private readonly delegate* unmanaged<void*, ulong, nuint, int> _memcpyDtoH;
    private readonly delegate* unmanaged<ulong, ulong, nuint, nint, int> _memcpyDtoDAsync;
    private readonly delegate* unmanaged<ulong, byte, nuint, nint, int> _memsetD8Async;
    private readonly delegate* unmanaged<nint*, uint, int> _streamCreate;
    private readonly delegate* unmanaged<nint, int> _streamDestroy;
    private readonly delegate* unmanaged<nint, int> _streamSynchronize;
    private readonly delegate* unmanaged<nint*, uint, int> _eventCreate;
    private readonly delegate* unmanaged<nint, nint, int> _eventRecord;
    private readonly delegate* unmanaged<nint, int> _eventSynchronize;
    private readonly delegate* unmanaged<float*, nint, nint, int> _eventElapsedTime;
    private readonly delegate* unmanaged<nint, int> _eventDestroy;

    private CudaDriver(nint library, string path)
    {
        LibraryPath = path;
        nint E(string name) => Export(library, name);
        _getErrorName = (delegate* unmanaged<int, byte**, int>)E("cuGetErrorName");
        _getErrorString = (delegate* unmanaged<int, byte**, int>)E("cuGetErrorString");
        _init = (delegate* unmanaged<uint, int>)E("cuInit");
        _deviceGetCount = (delegate* unmanaged<int*, int>)E("cuDeviceGetCount");
        _deviceGet = (delegate* unmanaged<int*, int, int>)E("cuDeviceGet");
        _deviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)E("cuDeviceGetAttribute");
        _deviceGetName = (delegate* unmanaged<byte*, int, int, int>)E("cuDeviceGetName");
        _deviceTotalMem = (delegate* unmanaged<nuint*, int, int>)E("cuDeviceTotalMem_v2");
        _primaryCtxRetain = (delegate* unmanaged<nint*, int, int>)E("cuDevicePrimaryCtxRetain");
        _primaryCtxRelease = (delegate* unmanaged<int, int>)E("cuDevicePrimaryCtxRelease_v2");
        _ctxSetCurrent = (delegate* unmanaged<nint, int>)E("cuCtxSetCurrent");
        _ctxGetCurrent = (delegate* unmanaged<nint*, int>)E("cuCtxGetCurrent");
        _moduleLoadData = (delegate* unmanaged<nint*, void*, int>)E("cuModuleLoadData");
        _moduleUnload = (delegate* unmanaged<nint, int>)E("cuModuleUnload");
        _moduleGetFunction = (delegate* unmanaged<nint*, nint, byte*, int>)E("cuModuleGetFunction");
        _funcSetAttribute = (delegate* unmanaged<nint, int, int, int>)E("cuFuncSetAttribute");
        _launchKernel = (delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int>)E("cuLaunchKernel");
        _memAlloc = (delegate* unmanaged<ulong*, nuint, int>)E("cuMemAlloc_v2");
        _memFree = (delegate* unmanaged<ulong, int>)E("cuMemFree_v2");
        NativeLibrary.TryGetExport(library, "cuMemAllocAsync", out var allocAsync);
        NativeLibrary.TryGetExport(library, "cuMemFreeAsync", out var freeAsync);
        _memAllocAsync = (delegate* unmanaged<ulong*, nuint, nint, int>)allocAsync;
        _memFreeAsync = (delegate* unmanaged<ulong, nint, int>)freeAsync;
        _memGetInfo = (delegate* unmanaged<nuint*, nuint*, int>)E("cuMemGetInfo_v2");
        _memAllocHost = (delegate* unmanaged<void**, nuint, int>)E("cuMemAllocHost_v2");
        _memFreeHost = (delegate* unmanaged<void*, int>)E("cuMemFreeHost");
        _memcpyHtoD = (delegate* unmanaged<ulong, void*, nuint, int>)E("cuMemcpyHtoD_v2");
        _memcpyDtoH = (delegate* unmanaged<void*, ulong, nuint, int>)E("cuMemcpyDtoH_v2");
        _memcpyDtoDAsync = (delegate* unmanaged<ulong, ulong, nuint, nint, int>)E("cuMemcpyDtoDAsync_v2");
        _memsetD8Async = (delegate* unmanaged<ulong, byte, nuint, nint, int>)E("cuMemsetD8Async");
        _streamCreate = (delegate* unmanaged<nint*, uint, int>)E("cuStreamCreate");
        _streamDestroy = (delegate* unmanaged<nint, int>)E("cuStreamDestroy_v2");
        _streamSynchronize = (delegate* unmanaged<nint, int>)E("cuStreamSynchronize");
        _eventCreate = (delegate* unmanaged<nint*, uint, int>)E("cuEventCreate");
        _eventRecord = (delegate* unmanaged<nint, nint, int>)E("cuEventRecord");
        _streamWaitEvent = (delegate* unmanaged<nint, nint, uint, int>)E("cuStreamWaitEvent");
        _eventSynchronize = (delegate* unmanaged<nint, int>)E("cuEventSynchronize");
        _eventElapsedTime = (delegate* unmanaged<float*, nint, nint, int>)E("cuEventElapsedTime");
        _eventDestroy = (delegate* unmanaged<nint, int>)E("cuEventDestroy_v2");
        _graphs = new GraphCalls(library);
        NativeLibrary.TryGetExport(library, "cuLaunchKernelEx", out var launchEx);
        _launchKernelEx = (delegate* unmanaged<LaunchConfig*, nint, void**, void**, int>)launchEx;
        Check(_init(0), "cuInit");
    }

    /// <summary>The libcuda file that was loaded.</summary>
    public string LibraryPath { get; }

    /// <summary>The process-wide driver; throws one line saying why there is none (no libcuda, cuInit failed).</summary>
    public static CudaDriver Load() => Shared.Value.Driver ?? throw new BackendException($"CUDA is not available: {Shared.Value.WhyNot}");

    private static (CudaDriver?, string?) Open()
    {
        var probe = NativeLibraryProbe.Load("libcuda", [CudaLibraries.DriverFileName], CudaLibraries.DriverPathVariable);
        if (!probe.Found) return (null, $"no NVIDIA driver ({CudaLibraries.DriverFileName} not found)");
        try { return (new CudaDriver(probe.Handle, probe.Path!), null); }
        catch (BackendException e) { return (null, $"{probe.Path}: {e.Message}"); }
    }

    public int DeviceCount() { int n; Check(_deviceGetCount(&n), "cuDeviceGetCount"); return n; }

    public int Device(int ordinal) { int d; Check(_deviceGet(&d, ordinal), $"cuDeviceGet({ordinal})"); return d; }

    /// <summary>cuDeviceGetAttribute; e.g. 75/76 = compute capability major/minor, 16 = SM count.</summary>
    public int Attribute(int device, int attribute)
    {
        int v;
        Check(_deviceGetAttribute(&v, attribute, device), $"cuDeviceGetAttribute({attribute})");
        return v;
    }

    public string DeviceName(int device)
    {
        var name = stackalloc byte[256];
        Check(_deviceGetName(name, 256, device), "cuDeviceGetName");
        return Marshal.PtrToStringUTF8((nint)name) ?? "";
    }

    public long TotalMemory(int device) { nuint b; Check(_deviceTotalMem(&b, device), "cuDeviceTotalMem"); return (long)b; }

    public (long Free, long Total) MemoryInfo()
    {
        nuint free, total;
        Check(_memGetInfo(&free, &total), "cuMemGetInfo");
        return ((long)free, (long)total);
    }

    public nint RetainPrimaryContext(int device) { nint c; Check(_primaryCtxRetain(&c, device), "cuDevicePrimaryCtxRetain"); return c; }

    public void ReleasePrimaryContext(int device) => Check(_primaryCtxRelease(device), "cuDevicePrimaryCtxRelease");

    /// <summary>Makes <paramref name="context"/> current on the calling thread unless it already is.</summary>
    public void MakeCurrent(nint context)
    {
        nint current;
        Check(_ctxGetCurrent(&current), "cuCtxGetCurrent");
        if (current != context) Check(_ctxSetCurrent(context), "cuCtxSetCurrent");
    }

    /// <summary>cuModuleLoadData: a CUBIN, or NUL-terminated PTX that the driver JIT-compiles.</summary>
    public nint LoadModule(byte[] image, string what)
    {
        nint module;
        fixed (byte* p = image) Check(_moduleLoadData(&module, p), $"cuModuleLoadData({what})");
        return module;
    }

    public void UnloadModule(nint module) => Check(_moduleUnload(module), "cuModuleUnload");

    public nint Function(nint module, string name)
    {
        using var utf8 = new Utf8Strings([name]);
        nint f;
        Check(_moduleGetFunction(&f, module, utf8.Pointers[0]), $"cuModuleGetFunction({name})");
        return f;
    }

    /// <summary>cuFuncSetAttribute, e.g. 8 = max dynamic shared memory.</summary>
    public void SetFunctionAttribute(nint function, int attribute, int value, string name) =>
        Check(_funcSetAttribute(function, attribute, value), $"cuFuncSetAttribute({name})");

    public void Launch(nint function, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block, uint sharedBytes, nint stream, void** args, string name) =>
        Check(_launchKernel(function, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, sharedBytes, stream, args, null), $"cuLaunchKernel({name})");

    public ulong Alloc(long bytes) { ulong p; Check(_memAlloc(&p, (nuint)Math.Max(1, bytes)), $"cuMemAlloc({bytes} bytes)"); return p; }

    public void Free(ulong pointer) => Check(_memFree(pointer), "cuMemFree");

    /// <summary>Whether stream-ordered allocation (cuMemAllocAsync, CUDA 11.2+) is there; it is what graph capture allows.</summary>
    public bool HasAsyncAlloc => _memAllocAsync != null && _memFreeAsync != null;

    public ulong AllocAsync(long bytes, nint stream)
    {
        if (!HasAsyncAlloc) return Alloc(bytes);
        ulong p;
        Check(_memAllocAsync(&p, (nuint)Math.Max(1, bytes), stream), $"cuMemAllocAsync({bytes} bytes)");
        return p;
    }

    public void FreeAsync(ulong pointer, nint stream)
    {
        if (!HasAsyncAlloc) Free(pointer);
        else Check(_memFreeAsync(pointer, stream), "cuMemFreeAsync");
    }

    /// <summary>Page-locked host memory (cuMemAllocHost): copies from and to it run at full DMA speed.</summary>
    public nint AllocHost(long bytes)
    {
        void* p;
        Check(_memAllocHost(&p, (nuint)Math.Max(1, bytes)), $"cuMemAllocHost({bytes} bytes)");
        return (nint)p;
    }

    public void FreeHost(nint pointer) => Check(_memFreeHost((void*)pointer), "cuMemFreeHost");

    public void CopyToDevice(ulong destination, ReadOnlySpan<byte> source)
    {
        fixed (byte* p = source) Check(_memcpyHtoD(destination, p, (nuint)source.Length), $"cuMemcpyHtoD({source.Length} bytes)");
    }

    public void CopyToHost(Span<byte> destination, ulong source)
    {
        BeforeHostWait?.Invoke();
        fixed (byte* p = destination) Check(_memcpyDtoH(p, source, (nuint)destination.Length), $"cuMemcpyDtoH({destination.Length} bytes)");
    }

    public void CopyAsync(ulong destination, ulong source, long bytes, nint stream) =>
        Check(_memcpyDtoDAsync(destination, source, (nuint)bytes, stream), $"cuMemcpyDtoDAsync({bytes} bytes)");

    public void FillAsync(ulong destination, byte value, long bytes, nint stream) =>
        Check(_memsetD8Async(destination, value, (nuint)bytes, stream), $"cuMemsetD8Async({bytes} bytes)");

    /// <summary>A non-blocking stream (flag 1): it does not synchronise with the legacy default stream.</summary>
    public nint CreateStream() { nint s; Check(_streamCreate(&s, 1), "cuStreamCreate"); return s; }

    public void DestroyStream(nint stream) => Check(_streamDestroy(stream), "cuStreamDestroy");

    public void Synchronize(nint stream)
    {
        BeforeHostWait?.Invoke();
        Check(_streamSynchronize(stream), "cuStreamSynchronize");
    }

    /// <summary>
    /// Runs before every call that makes the host wait for the device (stream and event synchronisation, copies to
    /// the host): a profiled run's stream hold (profile_hold.cu) is released there, since the host that waits on the
    /// stream can no longer release it.
    /// </summary>
    internal event Action? BeforeHostWait;

    public nint CreateEvent() { nint e; Check(_eventCreate(&e, 0), "cuEventCreate"); return e; }

    public void Record(nint @event, nint stream) => Check(_eventRecord(@event, stream), "cuEventRecord");

    /// <summary>Milliseconds between two recorded events (waits for the second).</summary>
    public float ElapsedMilliseconds(nint start, nint end)
    {
        BeforeHostWait?.Invoke();
        Check(_eventSynchronize(end), "cuEventSynchronize");
        float ms;
        Check(_eventElapsedTime(&ms, start, end), "cuEventElapsedTime");
        return ms;
    }

    public void DestroyEvent(nint @event) => Check(_eventDestroy(@event), "cuEventDestroy");

    /// <summary>
    /// Throws <see cref="BackendException"/> "call failed: CUDA_ERROR_X (message)" for a nonzero status;
    /// CUDA_ERROR_OUT_OF_MEMORY is an <see cref="OutOfBackendMemoryException"/>.
    /// </summary>
    public void Check(int status, string call)
    {
        if (status == 0) return;
        byte* name = null, text = null;
        _getErrorName(status, &name);
        _getErrorString(status, &text);
        var n = name == null ? $"CUresult {status}" : Marshal.PtrToStringUTF8((nint)name);
        var t = text == null ? "" : $" ({Marshal.PtrToStringUTF8((nint)text)})";
        throw Failure(status, call, $"{n}{t}");
    }

    /// <summary>The exception for a failed driver call: out of memory is typed so callers can release and go on.</summary>
    internal static BackendException Failure(int status, string call, string detail) => status == OutOfMemory
        ? new OutOfBackendMemoryException($"out of memory: {call} failed: {detail}")
        : new BackendException($"{call} failed: {detail}");

    /// <summary>CUDA_ERROR_OUT_OF_MEMORY: not sticky, the context stays usable once the caller frees memory.</summary>
    public const int OutOfMemory = 2;

    private static nint Export(nint library, string name) =>
        NativeLibrary.TryGetExport(library, name, out var address) ? address : throw new BackendException($"libcuda has no export {name} (driver too old?)");
}
