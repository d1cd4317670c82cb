using PixelLLM.Runtime.Execution;

namespace PixelLLM.Runtime.Profiling;

/// <summary>
/// Collects per-node device time while graphs run: <see cref="Wrap"/> a backend, build executors on the returned one
/// (or let <c>PixelLlmOptions.Profiler</c> do it), run, then read <see cref="Report"/>. Every executed node is timed
/// on the backend's own clock (event pairs on a GPU, the stopwatch on the CPU), its FLOPs and bytes computed from its
/// shapes (<see cref="OpCosts"/>), and the totals kept per op, per (op, shapes) and per graph. Profiled runs are
/// never captured into device graphs, and they are serialised: profiling measures, it does not serve traffic.
/// With <see cref="TimeLaunches"/>, every kernel launch inside a node is timed too and kept per kernel, which shows
/// what one node that launches many kernels (a decoder stack) spends its time on. With <see cref="Timeline"/>, every run
/// is also kept on a timeline (<see cref="WriteTimeline"/>).
/// </summary>
/// <param name="timeLaunches">Time every launch as well (an event pair each on a GPU, which adds to the node times).</param>
/// <param name="recordTimeline">Keep every run's nodes (and launches) on a <see cref="ProfileTimeline"/>.</param>
public sealed class ExecutionProfiler(bool timeLaunches = false, bool recordTimeline = false)
{
    private readonly object gate = new();
    private readonly Dictionary<string, Accumulator> byOp = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Op, string Shapes), Accumulator> byShape = [];
    private readonly Dictionary<string, GraphAccumulator> byGraph = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Accumulator> byKernel = new(StringComparer.Ordinal);
    private ProfilingBackend? attached;

    /// <summary>Whether launches inside nodes are timed and reported per kernel (<see cref="ProfileReport.Kernels"/>).</summary>
    public bool TimeLaunches { get; } = timeLaunches;

    /// <summary>The runs on a timeline, with sections a caller names; null unless asked for.</summary>
    public ProfileTimeline? Timeline { get; } = recordTimeline ? new ProfileTimeline() : null;

    /// <summary>
    /// A backend that forwards everything to <paramref name="inner"/> and lets executors built on it report to this
    /// profiler. Disposing it disposes <paramref name="inner"/> when <paramref name="ownsInner"/>.
    /// </summary>
    public IBackend Wrap(IBackend inner, bool ownsInner = true)
    {
        ArgumentNullException.ThrowIfNull(inner);
        lock (gate)
        {
            if (attached is not null) throw new InvalidOperationException("this profiler already wraps a backend; create one profiler per backend");
            return attached = new ProfilingBackend(inner, this, ownsInner);
        }
    }

    /// <summary>
    /// Forgets everything recorded so far (e.g. between benchmark stages) but the timeline's ended sections; the wrapped
    /// backend stays.
    /// </summary>
    public void Reset()
    {
        Timeline?.Forget();
        lock (gate)
        {
            byOp.Clear();
            byShape.Clear();
            byGraph.Clear();
            byKernel.Clear();
        }
    }

    /// <summary>
    /// What was recorded since the last <see cref="Reset"/>. With <paramref name="measurePeaks"/> the wrapped backend's
    /// GEMM and copy peaks are measured (once per process and device, then cached) so each row states its fraction of them.
    /// </summary>
    public ProfileReport Report(bool measurePeaks = true)
    {
        ProfilingBackend? backend;
        lock (gate) backend = attached;
        var peaks = measurePeaks && backend is not null ? DevicePeaks.For(backend.Inner) : null;
        lock (gate)
        {
            static ProfileRow Row(string op, string shapes, Accumulator a) => new(op, shapes, a.Calls, a.TotalMs, a.MinMs, a.Cost.Flops, a.Cost.Bytes);
            return new ProfileReport(
                backend?.DeviceDescription ?? "unknown device",
                peaks,
                [.. byOp.Select(kv => Row(kv.Key, "", kv.Value)).OrderByDescending(r => r.TotalMs)],
                [.. byShape.Select(kv => Row(kv.Key.Op, kv.Key.Shapes, kv.Value)).OrderByDescending(r => r.TotalMs)],
                [.. byGraph.Select(kv => new GraphProfileRow(kv.Key, kv.Value.Runs, kv.Value.Nodes, kv.Value.Launches, kv.Value.DeviceMs, kv.Value.WallMs, kv.Value.ArenaBytes))
                    .OrderByDescending(r => r.DeviceMs)],
                [.. byKernel.Select(kv => new KernelProfileRow(kv.Key, kv.Value.Calls, kv.Value.TotalMs, kv.Value.MinMs)).OrderByDescending(r => r.TotalMs)])
            {
                NodeTiming = backend?.NodeTiming ?? "",
            };
        }
    }

    /// <summary>
    /// Writes <see cref="Timeline"/> in the Chrome trace-event format (<see cref="ProfileTimeline.WriteJson"/>), naming the
    /// wrapped backend's device.
    /// </summary>
    public void WriteTimeline(Stream stream)
    {
        var timeline = Timeline ?? throw new InvalidOperationException("this profiler keeps no timeline (create it with recordTimeline: true)");
        ProfilingBackend? backend;
        lock (gate) backend = attached;
        timeline.WriteJson(stream, backend?.DeviceDescription ?? "unknown device", backend?.NodeTiming ?? "");
    }

    /// <summary>A run's start as <see cref="RecordRun"/> takes it: a Stopwatch timestamp on the timeline's clock.</summary>
    internal double HostMs(long timestamp) => Timeline?.HostMs(timestamp) ?? 0;

    /// <summary>
    /// Adds one run of graph <paramref name="graph"/> (whose memory plan needs <paramref name="arenaBytes"/>) begun at host
    /// time <paramref name="hostStartMs"/> (<see cref="HostMs"/>): its nodes in order with their brackets, and the launches
    /// timed inside them (none unless <see cref="TimeLaunches"/>).
    /// </summary>
    internal void RecordRun(string graph, long arenaBytes, IReadOnlyList<ProfiledNode> nodes, ReadOnlySpan<Bracket> brackets, long launches,
        double hostStartMs, double wallMs, IReadOnlyList<LaunchTiming> launchTimes)
    {
        if (brackets.Length != nodes.Count)
            throw new BackendException($"profiler: {brackets.Length} timings for {nodes.Count} nodes of '{graph}'");
        Timeline?.AddRun(graph, hostStartMs, wallMs, launches, nodes, brackets, launchTimes);
        lock (gate)
        {
            double device = 0;
            for (int i = 0; i < nodes.Count; i++)
            {
                var (op, shapes, cost) = nodes[i];
                double ms = brackets[i].Ms;
                device += ms;
                Add(byOp, op, ms, cost);
                Add(byShape, (op, shapes), ms, cost);
            }
            if (!byGraph.TryGetValue(graph, out var g)) byGraph[graph] = g = new GraphAccumulator();
            g.Runs++;
            g.ArenaBytes = Math.Max(g.ArenaBytes, arenaBytes);
            g.Nodes += nodes.Count;
            g.Launches += launches;
            g.DeviceMs += device;
            g.WallMs += wallMs;
            foreach (var (kernel, ms, _) in launchTimes) Add(byKernel, kernel, ms, default);
        }
    }

    private static void Add<TKey>(Dictionary<TKey, Accumulator> table, TKey key, double ms, OpCost cost) where TKey : notnull
    {
        if (!table.TryGetValue(key, out var a)) table[key] = a = new Accumulator();
        a.Calls++;
        a.TotalMs += ms;
        a.MinMs = Math.Min(a.MinMs, ms);
        a.Cost += cost;
    }

    private sealed class Accumulator
    {
        public long Calls;
        public double TotalMs;
        public double MinMs = double.PositiveInfinity;
        public OpCost Cost;
    }

    private sealed class GraphAccumulator
    {
        public long Runs, Nodes, Launches, ArenaBytes;
        public double DeviceMs, WallMs;
    }
}

/// <summary>One executed node as the profiler books it: op name, operand shapes (stored dtypes) and cost.</summary>
internal readonly record struct ProfiledNode(string Op, string Shapes, OpCost Cost);
