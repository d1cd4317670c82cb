using System.Diagnostics;
using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Backends.Cuda.Ops;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Backends.Cuda;

/// <summary>
/// The CUDA backend: buffers in device memory, weights uploaded once, every op launched on one stream
/// (<see cref="CudaOps"/> holds the dispatch switch). Tensors declared F32 are stored as <see cref="FloatStorage"/> on the
/// device: F32 is the exact path that compares with the CPU backend, BF16/F16 halve the traffic (fp32 accumulation in
/// every kernel). Host reads and writes always use the declared dtype; conversion happens at the boundary.
/// Creating it on a machine without a driver or GPU throws one <see cref="BackendException"/> line saying why.
/// </summary>
public sealed partial class CudaBackend : IBackend, IHostActivitySource
{
    private readonly CudaQueue queue;
    private readonly CudaOps ops;
    private readonly Dictionary<HostTensor, CudaBuffer> weights = new(ReferenceEqualityComparer.Instance);
    private readonly object gate = new();
    private DeviceTensor[] operands = new DeviceTensor[8];
    private string? reportingOps;
    private HostActivity activity;
    private long eagerLaunches;   // counted apart: Execute is the per-launch path

    private CudaBackend(CudaQueue queue, DType floatStorage)
    {
        this.queue = queue;
        FloatStorage = floatStorage;
        ops = new CudaOps(queue);
        GraphCapture = queue.Switches.Get(GraphsVariable) != "0";
        ConcurrentLanes = queue.Switches.Get(ConcurrentLanesVariable) == "1";
    }

    /// <summary>Opens device <paramref name="device"/> (its primary context) with the given storage for F32 tensors.</summary>
    public static CudaBackend Create(DType floatStorage = DType.F32, int device = 0)
    {
        if (floatStorage is not (DType.F32 or DType.BF16 or DType.F16))
            throw new InvalidInputException($"CUDA float storage must be F32, BF16 or F16, got {floatStorage}");
        return new CudaBackend(new CudaQueue(device), floatStorage);
    }

    public string Name => "cuda";

    /// <summary>How F32-declared tensors are stored on the device.</summary>
    public DType FloatStorage { get; }

    /// <summary>The switch values this backend runs with, and which tuned profile (if any) gave them.</summary>
    public CudaSwitchSettings Switches => queue.Switches;

    /// <summary>e.g. "NVIDIA H100 80GB HBM3 (sm_90)".</summary>
    public string DeviceDescription => $"{queue.DeviceName} ({queue.Arch})";

    /// <summary>Device memory in use on this GPU (all contexts: total − free, cuMemGetInfo) and its total, in bytes.</summary>
    public (long Used, long Total) DeviceMemory()
    {
        lock (gate)
        {
            queue.MakeCurrent();
            var (free, total) = queue.Driver.MemoryInfo();
            return (total - free, total);
        }
    }

    /// <summary>
    /// Each cuBLASLt GEMM shape tuned so far with $PIXELLLM_GEMM_TUNE=1 (empty otherwise): the heuristic's pick against the
    /// fastest of its candidates, timed on the shape's first eager call.
    /// </summary>
    public IReadOnlyList<Device.GemmTuningResult> GemmTuning
    {
        get { lock (gate) return [.. queue.GemmTuning]; }
    }

    /// <summary>Compiles and loads every kernel file now rather than on first use.</summary>
    public void LoadAllKernels()
    {
        lock (gate)
        {
            queue.MakeCurrent();
            queue.LoadAll();
        }
    }

    public IBackendBuffer Allocate(long bytes)
    {
        lock (gate)
        {
            queue.MakeCurrent();
            return new CudaBuffer(queue, bytes);
        }
    }

    /// <summary>f32 tensors take their storage type's size (<see cref="FloatStorage"/>): half of theirs in bf16 or f16.</summary>
    public long StorageBytes(TensorDesc desc) => desc.ElementCount * StorageOf(desc.DType).SizeOf();

    public TensorView AddWeight(HostTensor weight)
    {
        lock (gate)
        {
            if (!weights.TryGetValue(weight, out var buffer))
            {
                queue.MakeCurrent();
                buffer = new CudaBuffer(queue, StorageBytes(weight.Desc));
                queue.Transfers.Upload(buffer.Pointer, weight.Data.Span, weight.Desc.DType, StorageOf(weight.Desc.DType));
                UnmanagedMemory.ReleaseResidentPages(weight.Data);   // on the device now: the file's pages need not stay resident
                weights[weight] = buffer;
            }
            return new TensorView(buffer, 0, weight.Desc);
        }
    }

    public void Write(TensorView destination, ReadOnlySpan<byte> source)
    {
        if (source.Length != destination.Desc.ByteSize) throw new ArgumentException($"write of {source.Length} bytes into {destination.Desc}");
        lock (gate)
        {
            queue.MakeCurrent();
            long start = Stopwatch.GetTimestamp();
            queue.Driver.Synchronize(queue.MainStream); // queued kernels may still read what is overwritten
            long copy = Stopwatch.GetTimestamp();
            var storage = StorageOf(destination.Desc.DType);
            queue.Transfers.Upload(Address(destination), source, destination.Desc.DType, storage);
            activity = activity with
            {
                WaitMs = activity.WaitMs + Stopwatch.GetElapsedTime(start, copy).TotalMilliseconds,
                UploadMs = activity.UploadMs + HostActivity.MillisecondsSince(copy),
                BytesUp = activity.BytesUp + destination.Desc.ElementCount * storage.SizeOf(),
            };
        }
    }

    /// <summary>Device to device on the stream, in the storage type both share: no host round trip and no wait.</summary>
    public void Copy(TensorView destination, TensorView source)
    {
        if (destination.Desc != source.Desc) throw new ArgumentException($"copy of {source.Desc} into {destination.Desc}");
        lock (gate)
        {
            queue.MakeCurrent();
            queue.Copy(Address(destination), Address(source), source.Desc.ElementCount * StorageOf(source.Desc.DType).SizeOf());
        }
    }

    public void Read(TensorView source, Span<byte> destination)
    {
        lock (gate)
        {
            SynchronizeLocked();
            long start = Stopwatch.GetTimestamp();
            var dtype = StorageOf(source.Desc.DType);
            long bytes = source.Desc.ElementCount * dtype.SizeOf();
            queue.Transfers.Download(destination[..checked((int)source.Desc.ByteSize)], Address(source), source.Desc.DType, dtype);
            activity = activity with { DownloadMs = activity.DownloadMs + HostActivity.MillisecondsSince(start), BytesDown = activity.BytesDown + bytes };
        }
    }

    public void Execute(Node node, ReadOnlySpan<TensorView> inputs, TensorView output)
    {
        lock (gate)
        {
            queue.MakeCurrent();
            if (operands.Length < inputs.Length) operands = new DeviceTensor[inputs.Length];
            for (int i = 0; i < inputs.Length; i++) operands[i] = Device(inputs[i]);
            if (CudaOps.MayReportInvalidInput(node.Op)) reportingOps ??= node.Op.Name;
            ops.Dispatch(node.Op, operands.AsSpan(0, inputs.Length), Device(output));
            if (!queue.Capturing) eagerLaunches++;
        }
    }

    /// <inheritdoc/>
    public HostActivity HostActivity
    {
        get { lock (gate) return activity with { EagerLaunches = eagerLaunches, Replays = queue.Replays }; }
    }

    public void Synchronize()
    {
        lock (gate) SynchronizeLocked();
    }

    private void SynchronizeLocked()
    {
        queue.MakeCurrent();
        long start = Stopwatch.GetTimestamp();
        int code = queue.SynchronizeAndTakeError();
        activity = activity with { WaitMs = activity.WaitMs + HostActivity.MillisecondsSince(start) };
        var op = reportingOps ?? "a CUDA kernel";
        reportingOps = null;
        if (code != 0) throw DeviceError(code, op);
    }

    /// <summary>
    /// The exception for a code a kernel stored in the error word (prelude.cuh's PXL_ERR_*): bad input for 1–3; a backend
    /// fault for a dataflow kernel whose blocks stopped waiting on each other (4), which would otherwise have hung.
    /// </summary>
    internal static Exception DeviceError(int code, string op) => code switch
    {
        1 => new InvalidInputException($"{op}: an index, id or row outside its range (reported on the device)"),
        2 => new InvalidInputException($"{op}: a write position whose window does not fit the axis (reported on the device)"),
        3 => new InvalidInputException($"{op}: integer division by zero (reported on the device)"),
        4 => new BackendException($"{op}: a phase of a one-launch kernel did not complete within 2 s, so its waiting blocks gave up; its output is invalid (reported on the device)"),
        _ => new InvalidInputException($"{op}: the device reported error code {code}"),
    };

    private DType StorageOf(DType declared) => declared == DType.F32 ? FloatStorage : declared;

    private DeviceTensor Device(TensorView v) => new(Address(v), v.Desc, StorageOf(v.Desc.DType));

    private static ulong Address(TensorView v) => ((CudaBuffer)v.Buffer).Pointer + (ulong)v.Offset;

    public void Dispose()
    {
        lock (gate)
        {
            queue.MakeCurrent();
            foreach (var b in weights.Values) b.Dispose();
            weights.Clear();
            queue.Dispose();
        }
    }
}
