using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using PixelLLM.Runtime;

namespace PixelLLM.Backends.Cuda.Interop;

/// <summary>
/// One kernel as CUPTI's activity API saw it run: device timestamps (ns, CUPTI's clock), stream, launch shape and name.
/// </summary>
public readonly record struct KernelActivity(string Name, ulong StartNs, ulong EndNs, uint Stream, uint Correlation, (int X, int Y, int Z) Grid,
    (int X, int Y, int Z) Block)
{
    /// <summary>Device time of the kernel in ms.</summary>
    public double Ms => (EndNs - StartNs) * 1e-6;
}

/// <summary>
/// CUPTI's activity API (libcupti) bound at run time, for concurrent-kernel records only: what ran on the device, when,
/// including every kernel of a replayed CUDA graph, which event pairs around launches cannot see. Process-wide (CUPTI
/// takes one pair of buffer callbacks per process); <see cref="Start"/> and <see cref="Stop"/> bracket what is recorded.
/// </summary>
/// <remarks>
/// Only the head of a kernel record is read: kind (offset 0), start and end (16, 24), stream (48), grid and block
/// (52–72), correlation id (92) and name (104). Every CUpti_ActivityKernel version from 3 on begins this way; later
/// versions append fields, and <c>cuptiActivityGetNextRecord</c> steps over whole records whatever their size.
/// </remarks>
public static unsafe class Cupti
{
    /// <summary>Environment variable that names an explicit libcupti path.</summary>
    public const string PathVariable = "PIXELLLM_CUPTI";

    /// <summary>libcupti file names, newest CUDA first, then the CUDA toolkit's own folder.</summary>
    public static readonly IReadOnlyList<string> FileNames =
        ["libcupti.so.13", "libcupti.so.12", "libcupti.so.11.8", "libcupti.so", "/usr/local/cuda/extras/CUPTI/lib64/libcupti.so"];

    private const int KindConcurrentKernel = 10; // CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL
    private const int Success = 0;
    private const int FlushForced = 1; // CUPTI_ACTIVITY_FLAG_FLUSH_FORCED
    private const int BufferBytes = 8 << 20, RecordAlignment = 8;

    private static readonly object gate = new();
    private static readonly ConcurrentQueue<KernelActivity> completed = new();
    private static readonly ConcurrentDictionary<nint, string> names = new();
    private static Api? api;
    private static bool recording;
    private static long dropped;

    private sealed class Api
    {
        public required string Path;
        public required delegate* unmanaged<int, int> Enable, Disable;
        public required delegate* unmanaged<uint, int> FlushAll;
        public required delegate* unmanaged<byte*, nuint, void**, int> NextRecord;
        public required delegate* unmanaged<nint, uint, nuint*, int> Dropped;
        public required delegate* unmanaged<int, byte**, int> ResultString;
    }

    /// <summary>Whether libcupti can be loaded here, and from where (or why not).</summary>
    public static CudaLibraryStatus Probe()
    {
        var probe = NativeLibraryProbe.Load("libcupti", FileNames, PathVariable);
        if (!probe.Found) return new CudaLibraryStatus("libcupti", null, null, probe.WhyNot);
        string? version = null;
        uint api;
        if (NativeLibrary.TryGetExport(probe.Handle, "cuptiGetVersion", out var fn) && ((delegate* unmanaged<uint*, int>)fn)(&api) == Success)
            version = $"API {api}";
        return new CudaLibraryStatus("libcupti", probe.Path, version, null);
    }

    /// <summary>Starts recording kernels (loads libcupti and registers the buffer callbacks the first time).</summary>
    public static void Start()
    {
        lock (gate)
        {
            var a = Load();
            if (recording) return;
            Check(a, a.Enable(KindConcurrentKernel), "cuptiActivityEnable(CONCURRENT_KERNEL)");
            recording = true;
        }
    }

    /// <summary>
    /// Stops recording and hands back every kernel recorded since <see cref="Start"/> (after a forced flush, in device
    /// start order), and how many records CUPTI had to drop (its buffers full).
    /// </summary>
    public static (IReadOnlyList<KernelActivity> Kernels, long Dropped) Stop()
    {
        lock (gate)
        {
            if (api is not { } a || !recording) return ([], 0);
            // Flushed before and after disabling: whichever order a CUPTI version hands records over in, none stay behind.
            Check(a, a.FlushAll(FlushForced), "cuptiActivityFlushAll");
            Check(a, a.Disable(KindConcurrentKernel), "cuptiActivityDisable(CONCURRENT_KERNEL)");
            Check(a, a.FlushAll(FlushForced), "cuptiActivityFlushAll");
            recording = false;
            var kernels = new List<KernelActivity>();
            while (completed.TryDequeue(out var k)) kernels.Add(k);
            kernels.Sort((x, y) => x.StartNs.CompareTo(y.StartNs));
            return (kernels, Interlocked.Exchange(ref dropped, 0));
        }
    }

    private static Api Load()
    {
        if (api is { } loaded) return loaded;
        var probe = NativeLibraryProbe.Require("CUPTI (for --kernel-trace)", "libcupti", FileNames, PathVariable);
        var E = probe.Export;
        var a = new Api
        {
            Path = probe.Path!,
            Enable = (delegate* unmanaged<int, int>)E("cuptiActivityEnable"),
            Disable = (delegate* unmanaged<int, int>)E("cuptiActivityDisable"),
            FlushAll = (delegate* unmanaged<uint, int>)E("cuptiActivityFlushAll"),
            NextRecord = (delegate* unmanaged<byte*, nuint, void**, int>)E("cuptiActivityGetNextRecord"),
            Dropped = (delegate* unmanaged<nint, uint, nuint*, int>)E("cuptiActivityGetNumDroppedRecords"),
            ResultString = (delegate* unmanaged<int, byte**, int>)E("cuptiGetResultString"),
        };
        var register = (delegate* unmanaged<delegate* unmanaged<byte**, nuint*, nuint*, void>, delegate* unmanaged<nint, uint, byte*, nuint, nuint, void>, int>)
            E("cuptiActivityRegisterCallbacks");
        Check(a, register(&BufferRequested, &BufferCompleted), "cuptiActivityRegisterCallbacks");
        return api = a;
    }

    [UnmanagedCallersOnly]
    private static void BufferRequested(byte** buffer, nuint* size, nuint* maxRecords)
    {
        *buffer = (byte*)NativeMemory.AlignedAlloc(BufferBytes, RecordAlignment);
        *size = BufferBytes;
        *maxRecords = 0; // as many as fit
    }

    [UnmanagedCallersOnly]
    private static void BufferCompleted(nint context, uint streamId, byte* buffer, nuint size, nuint validSize)
    {
        try
        {
            if (api is { } a && buffer != null)
            {
                void* record = null;
                // Success per record, then CUPTI_ERROR_MAX_LIMIT_REACHED past the last (or another error: the rest is lost).
                while (a.NextRecord(buffer, validSize, &record) == Success)
                    if (Read((byte*)record) is { } kernel) completed.Enqueue(kernel);
                nuint lost = 0;
                if (a.Dropped(context, streamId, &lost) == Success) Interlocked.Add(ref dropped, (long)lost);
            }
        }
        catch (Exception) { } // nothing may unwind into CUPTI's thread; a malformed record only loses the rest of its buffer
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }

    /// <summary>The name given to a record whose head does not look like a kernel record's (see <see cref="Read"/>).</summary>
    public const string UnrecognisedRecord = "(CUPTI record of another layout)";

    /// <summary>
    /// A concurrent-kernel record's head (see the class remarks), or null for any other kind. The name pointer is only
    /// followed when the launch shape it sits behind is a possible one (grid ≥ 1, a block of 1 to 1,024 threads, end ≥
    /// start): were a CUPTI version to move these fields, its records come out named <see cref="UnrecognisedRecord"/>
    /// instead of the process following a stray pointer.
    /// </summary>
    internal static KernelActivity? Read(byte* record)
    {
        if (*(int*)record != KindConcurrentKernel) return null;
        ulong start = *(ulong*)(record + 16), end = *(ulong*)(record + 24);
        var grid = (*(int*)(record + 52), *(int*)(record + 56), *(int*)(record + 60));
        var block = (*(int*)(record + 64), *(int*)(record + 68), *(int*)(record + 72));
        bool plausible = end >= start && grid.Item1 >= 1 && grid.Item2 >= 1 && grid.Item3 >= 1 && block.Item1 >= 1 && block.Item2 >= 1 && block.Item3 >= 1
            && (long)block.Item1 * block.Item2 * block.Item3 <= 1024;
        nint name = *(nint*)(record + 104);
        string text = !plausible ? UnrecognisedRecord : name == 0 ? "?" : names.GetOrAdd(name, static p => Marshal.PtrToStringUTF8(p) ?? "?");
        return new KernelActivity(text, start, Math.Max(start, end), *(uint*)(record + 48), *(uint*)(record + 92), grid, block);
    }

    private static void Check(Api a, int result, string call)
    {
        if (result == Success) return;
        byte* text = null;
        string what = a.ResultString(result, &text) == Success && text != null ? Marshal.PtrToStringUTF8((nint)text) ?? $"{result}" : $"{result}";
        throw new BackendException($"{call} failed: {what} ({a.Path})");
    }
}
