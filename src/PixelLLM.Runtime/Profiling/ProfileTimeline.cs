using System.Diagnostics;
using System.Text.Json;

namespace PixelLLM.Runtime.Profiling;

/// <summary>
/// Profiled runs on a timeline, for Perfetto (ui.perfetto.dev) or chrome://tracing: the device's nodes, and with launch
/// timing its kernels, on one track each; the host's graph runs and named sections (a bench stage, a request's stages) on
/// two more. Within a run, nodes and kernels sit where the backend's own clock put them (event pairs on a GPU), so the
/// gaps between them are the device's. The device and host clocks share no origin: a run's device track starts when the
/// host began the run, or where the previous run's device work ended if that is later. Thread-safe.
/// </summary>
public sealed class ProfileTimeline
{
    /// <summary>Events kept at most; a run that would pass it is counted (<see cref="RunsNotKept"/>), not kept.</summary>
    public const int MaxEvents = 1_000_000;

    private enum Track { Nodes = 1, Kernels = 2, Runs = 3, Sections = 4 }

    private readonly record struct Event(Track Track, string Name, double StartMs, double Ms, string? Graph = null, string? Shapes = null,
        OpCost Cost = default, long Nodes = 0, long Launches = 0);

    private readonly object gate = new();
    private readonly int maxEvents;
    private readonly long origin = Stopwatch.GetTimestamp();
    private readonly List<Event> events = [];
    private (string Name, double StartMs)? open;
    private int kept, runsNotKept;
    private double deviceEnd, keptDeviceEnd;

    /// <summary>An empty timeline; its clock starts now.</summary>
    public ProfileTimeline() : this(MaxEvents) { }

    internal ProfileTimeline(int maxEvents) => this.maxEvents = maxEvents;

    /// <summary>Events recorded (nodes, kernels, runs, ended sections).</summary>
    public int Events
    {
        get { lock (gate) return events.Count; }
    }

    /// <summary>Runs left out because keeping them would have passed <see cref="MaxEvents"/>.</summary>
    public int RunsNotKept
    {
        get { lock (gate) return runsNotKept; }
    }

    /// <summary>Starts a named section on the host's track, ending the one before.</summary>
    public void BeginSection(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        lock (gate)
        {
            EndSectionLocked();
            open = (name, Now());
        }
    }

    /// <summary>Ends the open section (if any) and keeps everything recorded so far through <see cref="Forget"/>.</summary>
    public void EndSection()
    {
        lock (gate)
        {
            EndSectionLocked();
            kept = events.Count;
            keptDeviceEnd = deviceEnd;
        }
    }

    /// <summary>
    /// Drops what was recorded since the last section ended (a warm-up), and restarts the open section now
    /// (<see cref="ExecutionProfiler.Reset"/> calls it).
    /// </summary>
    internal void Forget()
    {
        lock (gate)
        {
            events.RemoveRange(kept, events.Count - kept);
            deviceEnd = keptDeviceEnd;
            if (open is { } section) open = (section.Name, Now());
        }
    }

    /// <summary>Milliseconds of the host's clock since this timeline began.</summary>
    internal double Now() => HostMs(Stopwatch.GetTimestamp());

    /// <summary>
    /// A <see cref="Stopwatch"/> timestamp in milliseconds since this timeline began, at the clock's full resolution
    /// (not TimeSpan's 100 ns, which would let a run's nodes, timed at full resolution, poke out of the run).
    /// </summary>
    internal double HostMs(long timestamp) => (timestamp - origin) * 1e3 / Stopwatch.Frequency;

    /// <summary>Adds one run that began at host time <paramref name="hostStartMs"/> (<see cref="HostMs"/>).</summary>
    internal void AddRun(string graph, double hostStartMs, double wallMs, long launches, IReadOnlyList<ProfiledNode> nodes,
        ReadOnlySpan<Bracket> brackets, IReadOnlyList<LaunchTiming> launchTimes)
    {
        lock (gate)
        {
            if (events.Count + nodes.Count + launchTimes.Count + 1 > maxEvents)
            {
                runsNotKept++;
                return;
            }
            // A track's events never overlap: a start is clamped to the end before it, which the clock's rounding can pass by a few ns.
            double runStart = Math.Max(hostStartMs, deviceEnd), end = runStart;
            for (int i = 0; i < nodes.Count; i++)
            {
                double start = double.IsNaN(brackets[i].StartMs) ? end : Math.Max(end, runStart + brackets[i].StartMs);
                events.Add(new(Track.Nodes, nodes[i].Op, start, brackets[i].Ms, graph, nodes[i].Shapes, nodes[i].Cost));
                end = Math.Max(end, start + brackets[i].Ms);
            }
            double kernelEnd = runStart;
            foreach (var (kernel, ms, startMs) in launchTimes)
            {
                double start = double.IsNaN(startMs) ? kernelEnd : Math.Max(kernelEnd, runStart + startMs);
                events.Add(new(Track.Kernels, kernel, start, ms, graph));
                kernelEnd = Math.Max(kernelEnd, start + ms);
            }
            deviceEnd = Math.Max(deviceEnd, Math.Max(end, kernelEnd));
            events.Add(new(Track.Runs, graph, hostStartMs, wallMs, graph, Nodes: nodes.Count, Launches: launches));
        }
    }

    private void EndSectionLocked()
    {
        if (open is not { } section) return;
        double end = Math.Max(Now(), events.Count > 0 ? events[^1].StartMs + events[^1].Ms : 0);
        events.Add(new(Track.Sections, section.Name, section.StartMs, end - section.StartMs));
        open = null;
    }

    /// <summary>
    /// Writes the timeline in the Chrome trace-event format (a JSON object with "traceEvents"; times in µs), naming the
    /// device <paramref name="device"/> and saying how its node times were measured (<paramref name="nodeTiming"/>).
    /// An open section is written as ending now.
    /// </summary>
    public void WriteJson(Stream stream, string device, string nodeTiming)
    {
        using var w = new Utf8JsonWriter(stream);
        lock (gate)
        {
            var all = new List<Event>(events);
            if (open is { } section) all.Add(new(Track.Sections, section.Name, section.StartMs, Now() - section.StartMs));
            w.WriteStartObject();
            w.WriteString("displayTimeUnit", "ms");
            w.WriteStartObject("otherData");
            w.WriteString("device", device);
            w.WriteString("node_timing", nodeTiming);
            w.WriteString("clocks", "nodes and kernels on the backend's clock within a run; each run placed at its host start");
            w.WriteNumber("runs_not_kept", runsNotKept);
            w.WriteEndObject();
            w.WriteStartArray("traceEvents");
            TraceEvents.WriteName(w, "process_name", 1, null, $"device: {device}");
            TraceEvents.WriteName(w, "thread_name", 1, (int)Track.Nodes, "nodes");
            if (all.Any(e => e.Track == Track.Kernels)) TraceEvents.WriteName(w, "thread_name", 1, (int)Track.Kernels, "kernels");
            TraceEvents.WriteName(w, "process_name", 2, null, "host");
            TraceEvents.WriteName(w, "thread_name", 2, (int)Track.Runs, "graph runs");
            TraceEvents.WriteName(w, "thread_name", 2, (int)Track.Sections, "sections");
            foreach (var e in all) Write(w, e);
            w.WriteEndArray();
            w.WriteEndObject();
        }
    }

    private static void Write(Utf8JsonWriter w, Event e) =>
        TraceEvents.WriteComplete(w, e.Name, e.Track switch { Track.Nodes => "node", Track.Kernels => "launch", Track.Runs => "run", _ => "section" },
            e.Track is Track.Nodes or Track.Kernels ? 1 : 2, (int)e.Track, e.StartMs * 1e3, (e.StartMs + e.Ms) * 1e3, e.Track == Track.Sections ? null : a =>
            {
                a.WriteString("graph", e.Graph);
                if (e.Track == Track.Nodes)
                {
                    a.WriteString("shapes", e.Shapes);
                    a.WriteNumber("flops", e.Cost.Flops);
                    a.WriteNumber("bytes", e.Cost.Bytes);
                }
                if (e.Track == Track.Runs)
                {
                    a.WriteNumber("nodes", e.Nodes);
                    a.WriteNumber("launches", e.Launches);
                }
            });
}
