using System.Collections.Concurrent;
using System.Globalization;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Runtime.Profiling;

/// <summary>
/// A device's measured limits, the denominators of the profile's "% of peak" columns: the best FLOP/s of one square
/// MatMul and the best bytes/s of one streaming elementwise pass (read + write), both through the backend's own
/// kernels in its current storage type. Measured once per process per device and storage, then cached.
/// </summary>
public sealed record DevicePeaks(string Device, double GemmFlopsPerSecond, int GemmSize, double CopyBytesPerSecond, long CopyBytes)
{
    private const double MinimumMs = 1.0;
    private const int MaxGemmSize = 8192;
    private const long MaxCopyElements = 1L << 28;
    private static readonly ConcurrentDictionary<string, Lazy<DevicePeaks>> Cache = new(StringComparer.Ordinal);

    /// <summary>"GEMM 612.0 TFLOP/s (n=8192), copy 2950 GB/s (2.15 GB moved)".</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"measured peaks: GEMM {GemmFlopsPerSecond / 1e12:F3} TFLOP/s (n={GemmSize}), copy {CopyBytesPerSecond / 1e9:F1} GB/s ({CopyBytes / 1e9:F2} GB moved)");

    /// <summary>The peaks of <paramref name="backend"/>'s device, measured on first use in this process.</summary>
    public static DevicePeaks For(IBackend backend)
    {
        var support = backend as IProfilingSupport;
        string key = $"{backend.Name}|{support?.DeviceDescription}|{support?.StoredAs(DType.F32)}";
        return Cache.GetOrAdd(key, _ => new Lazy<DevicePeaks>(() => Measure(backend))).Value;
    }

    /// <summary>Measures without the cache: sizes double until one run takes at least a millisecond (or the cap).</summary>
    public static DevicePeaks Measure(IBackend backend)
    {
        double gemmFlops = 0; int gemmSize = 0;
        for (int n = 256; ; n *= 2)
        {
            double ms = BestNodeMs(backend, g => g.MatMul(g.Input("a", DType.F32, n, n), g.Input("b", DType.F32, n, n)));
            (gemmFlops, gemmSize) = (Math.Max(gemmFlops, 2.0 * n * n * n / (ms * 1e-3)), n);
            if (ms >= MinimumMs || n >= MaxGemmSize) break;
        }
        double copyRate = 0; long copyBytes = 0;
        int stored = (backend as IProfilingSupport)?.StoredAs(DType.F32).SizeOf() ?? sizeof(float);
        for (long count = 1 << 20; ; count *= 2)
        {
            int length = (int)count;
            double ms = BestNodeMs(backend, g => g.Apply(new ScaleOp(1.0001f), g.Input("x", DType.F32, length)));
            copyBytes = 2 * count * stored;
            copyRate = Math.Max(copyRate, copyBytes / (ms * 1e-3));
            if (ms >= MinimumMs || count >= MaxCopyElements) break;
        }
        return new DevicePeaks((backend as IProfilingSupport)?.DeviceDescription ?? backend.Name, gemmFlops, gemmSize, copyRate, copyBytes);
    }

    /// <summary>The fastest of three timed runs (after a warm-up) of the single node <paramref name="build"/> adds, on non-zero inputs.</summary>
    private static double BestNodeMs(IBackend backend, Func<Graph, Tensor> build)
    {
        var profiler = new ExecutionProfiler();
        using var profiled = profiler.Wrap(backend, ownsInner: false);
        var g = new Graph();
        g.Output("y", build(g));
        using var exec = new GraphExecutor(g, profiled);
        foreach (var input in g.Inputs)
        {
            var values = new float[input.Desc.ElementCount];
            for (int i = 0; i < values.Length; i++) values[i] = (unchecked((uint)i * 2654435761u) >> 16) / 65536f - 0.5f;
            exec.SetInput<float>(input.Name!, values);
        }
        exec.Run();
        profiler.Reset();
        for (int i = 0; i < 3; i++) exec.Run();
        return Math.Max(profiler.Report(measurePeaks: false).Ops.Single().MinMs, 1e-6);
    }
}
