using System.Diagnostics;
using System.Runtime.CompilerServices;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Profiling;

/// <summary>
/// The backend <see cref="ExecutionProfiler.Wrap"/> returns: every call goes to the inner backend unchanged (same
/// kernels, same outputs); <see cref="GraphExecutor.Run"/> sees this type and runs its nodes through
/// <see cref="RunProfiled"/>, which brackets each node with the inner backend's timer. It deliberately offers no
/// graph capture, so profiled runs launch every kernel eagerly.
/// </summary>
internal sealed class ProfilingBackend(IBackend inner, ExecutionProfiler profiler, bool ownsInner) : IBackend
{
    private readonly object runGate = new();
    private readonly ConditionalWeakTable<GraphExecutor, ProfiledNode[]> described = [];
    private IOpTimer? timer;
    private Bracket[] times = new Bracket[64];

    public IBackend Inner => inner;

    public string Name => inner.Name;

    public string DeviceDescription => (inner as IProfilingSupport)?.DeviceDescription ?? inner.Name;

    /// <summary>How the inner backend's node times are measured (<see cref="IProfilingSupport.NodeTiming"/>).</summary>
    public string NodeTiming => (inner as IProfilingSupport)?.NodeTiming ?? "a stopwatch around each node, synchronising the backend";

    public IBackendBuffer Allocate(long bytes) => inner.Allocate(bytes);
    public long StorageBytes(TensorDesc desc) => inner.StorageBytes(desc);

    public TensorView AddWeight(HostTensor weight) => inner.AddWeight(weight);

    public void Write(TensorView destination, ReadOnlySpan<byte> source) => inner.Write(destination, source);

    public void Read(TensorView source, Span<byte> destination) => inner.Read(source, destination);

    public void Execute(Node node, ReadOnlySpan<TensorView> inputs, TensorView output) => inner.Execute(node, inputs, output);

    public void Synchronize() => inner.Synchronize();

    public void Copy(TensorView destination, TensorView source) => inner.Copy(destination, source);

    /// <summary>Runs an executor's planned nodes with a timer bracket around each launched node and books the run.</summary>
    internal void RunProfiled(GraphExecutor executor, Node[] steps, TensorView[][] inputs, TensorView[] outputs)
    {
        var nodes = described.GetValue(executor, _ => Describe(steps, inputs, outputs));
        lock (runGate)
        {
            var support = inner as IProfilingSupport;
            timer ??= support?.CreateOpTimer(profiler.TimeLaunches) ?? new StopwatchOpTimer(inner);
            long launchesBefore = support?.KernelLaunches ?? 0;
            long clock = Stopwatch.GetTimestamp(); // the run's window on the host: every bracket begins and ends inside it
            for (int i = 0; i < steps.Length; i++)
            {
                if (steps[i].Op.IsView) continue;
                timer.Begin();
                inner.Execute(steps[i], inputs[i], outputs[i]);
                timer.End();
            }
            inner.Synchronize();
            double wallMs = (Stopwatch.GetTimestamp() - clock) * 1e3 / Stopwatch.Frequency;
            long launches = support is null ? nodes.Length : support.KernelLaunches - launchesBefore;
            if (times.Length < timer.Pending) times = new Bracket[timer.Pending];
            var measured = times.AsSpan(0, timer.Pending);
            timer.Collect(measured);
            profiler.RecordRun(executor.Label, executor.Plan.PeakBytes, nodes, measured, launches, profiler.HostMs(clock), wallMs, timer.CollectLaunches());
        }
    }

    private ProfiledNode[] Describe(Node[] steps, TensorView[][] inputs, TensorView[] outputs)
    {
        var support = inner as IProfilingSupport;
        TensorDesc Stored(TensorView v) => support is null ? v.Desc : v.Desc with { DType = support.StoredAs(v.Desc.DType) };
        var nodes = new List<ProfiledNode>();
        for (int i = 0; i < steps.Length; i++)
        {
            if (steps[i].Op.IsView) continue;
            var operands = inputs[i].Select(Stored).ToArray();
            var result = Stored(outputs[i]);
            nodes.Add(new ProfiledNode(steps[i].Op.Name, $"{TensorDesc.List(operands)} → {result}", OpCosts.Of(steps[i].Op, operands, result)));
        }
        return [.. nodes];
    }

    public void Dispose()
    {
        timer?.Dispose();
        timer = null;
        if (ownsInner) inner.Dispose();
    }
}
