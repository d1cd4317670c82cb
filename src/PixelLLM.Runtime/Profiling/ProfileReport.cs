using System.Globalization;
using System.Text.Json;

namespace PixelLLM.Runtime.Profiling;

/// <summary>Time and work of one op (or one op at one set of shapes) summed over every call.</summary>
public sealed record ProfileRow(string Op, string Shapes, long Calls, double TotalMs, double MinMs, double Flops, double Bytes)
{
    /// <summary>Achieved FLOP/s over all calls.</summary>
    public double FlopsPerSecond => TotalMs > 0 ? Flops / (TotalMs * 1e-3) : 0;

    /// <summary>Achieved bytes/s over all calls.</summary>
    public double BytesPerSecond => TotalMs > 0 ? Bytes / (TotalMs * 1e-3) : 0;

    /// <summary>
    /// Roofline efficiency against <paramref name="peaks"/>: the time the peaks allow (the larger of FLOPs ÷ GEMM peak and
    /// bytes ÷ copy bandwidth) over the time taken; 1 means the op runs at the card's limit.
    /// </summary>
    public double RooflineFraction(DevicePeaks peaks) =>
        TotalMs > 0 ? Math.Max(Flops / peaks.GemmFlopsPerSecond, Bytes / peaks.CopyBytesPerSecond) / (TotalMs * 1e-3) : 0;
}

/// <summary>
/// One graph's runs: how many, the launches each made, the device and wall time per run, and the activation arena its
/// memory plan needs (the largest of the executors that ran under this label).
/// </summary>
public sealed record GraphProfileRow(string Graph, long Runs, long Nodes, long Launches, double DeviceMs, double WallMs, long ArenaBytes = 0)
{
    /// <summary>Kernel launches per run (for a decode-step graph: launches per decode step).</summary>
    public double LaunchesPerRun => Runs > 0 ? (double)Launches / Runs : 0;

    /// <summary>Summed node device time per run.</summary>
    public double DeviceMsPerRun => Runs > 0 ? DeviceMs / Runs : 0;

    /// <summary>Host wall time per run, launches and the final synchronisation included.</summary>
    public double WallMsPerRun => Runs > 0 ? WallMs / Runs : 0;
}

/// <summary>One kernel (or library call, copy, fill) summed over its launches, when launches are timed.</summary>
public sealed record KernelProfileRow(string Kernel, long Calls, double TotalMs, double MinMs);

/// <summary>
/// What <see cref="ExecutionProfiler.Report"/> returns: rows per op and per (op, shapes), sorted by total time, per-graph
/// run statistics, per-kernel rows (empty unless launches were timed), and the device's measured peaks (null when not
/// measured). Printable as a table or JSON.
/// </summary>
public sealed record ProfileReport(string Device, DevicePeaks? Peaks, IReadOnlyList<ProfileRow> Ops, IReadOnlyList<ProfileRow> Shapes,
    IReadOnlyList<GraphProfileRow> Graphs, IReadOnlyList<KernelProfileRow> Kernels)
{
    /// <summary>Device time of every profiled node.</summary>
    public double TotalDeviceMs => Ops.Sum(r => r.TotalMs);

    /// <summary>How each node's time was measured (<see cref="IProfilingSupport.NodeTiming"/>); empty when not known.</summary>
    public string NodeTiming { get; init; } = "";

    /// <summary>The table a performance engineer reads first: ops by time, the costliest shapes, kernels, then graphs.</summary>
    public void WriteTable(TextWriter o, int topShapes = 12, int topKernels = 16)
    {
        var c = CultureInfo.InvariantCulture;
        o.WriteLine(string.Create(c, $"profile: {Device}; {TotalDeviceMs:F2} ms device time in {Ops.Sum(r => r.Calls)} node runs; ") +
                    (Peaks is { } p ? p.Describe() : "peaks not measured"));
        if (NodeTiming.Length > 0) o.WriteLine($"  node times: {NodeTiming}");
        string header = $"  {"op",-22} {"calls",7} {"total ms",10} {"%",5} {"mean µs",9} {"GFLOP",9} {"GB",8} {"TFLOP/s",8} {"%pk",4} {"GB/s",8} {"%pk",4} {"roof%",5}";
        o.WriteLine(header);
        foreach (var r in Ops) o.WriteLine(Line(r, r.Op));
        if (topShapes > 0 && Shapes.Count > 0)
        {
            o.WriteLine($"  costliest shapes (top {Math.Min(topShapes, Shapes.Count)} of {Shapes.Count}):");
            foreach (var r in Shapes.Take(topShapes)) o.WriteLine(Line(r, r.Op) + "  " + r.Shapes);
        }
        if (topKernels > 0 && Kernels.Count > 0)
        {
            double launched = Kernels.Sum(k => k.TotalMs);
            o.WriteLine($"  kernels by device time (top {Math.Min(topKernels, Kernels.Count)} of {Kernels.Count}; each launch timed on its own):");
            o.WriteLine($"  {"kernel",-40} {"calls",7} {"total ms",10} {"%",5} {"mean µs",9} {"min µs",9}");
            foreach (var k in Kernels.Take(topKernels))
                o.WriteLine(string.Create(c, $"  {Clip(k.Kernel, 40),-40} {k.Calls,7} {k.TotalMs,10:F3} {(launched > 0 ? 100 * k.TotalMs / launched : 0),5:F1} " +
                    $"{1e3 * k.TotalMs / Math.Max(k.Calls, 1),9:F1} {1e3 * k.MinMs,9:F1}"));
        }
        o.WriteLine($"  {"graph",-40} {"runs",6} {"launches/run",12} {"device ms/run",13} {"wall ms/run",11} {"arena MB",9}");
        foreach (var g in Graphs)
            o.WriteLine(string.Create(c, $"  {Clip(g.Graph, 40),-40} {g.Runs,6} {g.LaunchesPerRun,12:F1} {g.DeviceMsPerRun,13:F3} {g.WallMsPerRun,11:F3} {g.ArenaBytes / 1e6,9:F2}"));
    }

    private string Line(ProfileRow r, string name)
    {
        var c = CultureInfo.InvariantCulture;
        double total = TotalDeviceMs;
        string Peak(double achieved, double? peak) => peak is > 0 ? (100 * achieved / peak.Value).ToString("F0", c) : "-";
        return string.Create(c, $"  {Clip(name, 22),-22} {r.Calls,7} {r.TotalMs,10:F3} {(total > 0 ? 100 * r.TotalMs / total : 0),5:F1} " +
            $"{1e3 * r.TotalMs / Math.Max(r.Calls, 1),9:F1} {r.Flops / 1e9,9:F3} {r.Bytes / 1e9,8:F4} {r.FlopsPerSecond / 1e12,8:F3} " +
            $"{Peak(r.FlopsPerSecond, Peaks?.GemmFlopsPerSecond),4} {r.BytesPerSecond / 1e9,8:F1} {Peak(r.BytesPerSecond, Peaks?.CopyBytesPerSecond),4} " +
            $"{(Peaks is { } p ? (100 * r.RooflineFraction(p)).ToString("F0", c) : "-"),5}");
    }

    private static string Clip(string s, int width) => s.Length <= width ? s : s[..(width - 1)] + "…";

    /// <summary>Writes the report as JSON (times in ms, work in FLOPs and bytes, rates per second).</summary>
    public void WriteJson(Stream stream)
    {
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        WriteJson(w);
    }

    /// <summary>Writes the report as one JSON object into <paramref name="w"/> (e.g. as an element of a larger document).</summary>
    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("device", Device);
        w.WriteString("node_timing", NodeTiming);
        w.WriteNumber("total_device_ms", TotalDeviceMs);
        if (Peaks is { } p)
        {
            w.WriteStartObject("peaks");
            w.WriteNumber("gemm_flops_per_second", p.GemmFlopsPerSecond);
            w.WriteNumber("gemm_size", p.GemmSize);
            w.WriteNumber("copy_bytes_per_second", p.CopyBytesPerSecond);
            w.WriteNumber("copy_bytes", p.CopyBytes);
            w.WriteEndObject();
        }
        else w.WriteNull("peaks");
        WriteRows(w, "ops", Ops);
        WriteRows(w, "shapes", Shapes);
        w.WriteStartArray("graphs");
        foreach (var g in Graphs)
        {
            w.WriteStartObject();
            w.WriteString("graph", g.Graph);
            w.WriteNumber("runs", g.Runs);
            w.WriteNumber("nodes", g.Nodes);
            w.WriteNumber("launches", g.Launches);
            w.WriteNumber("launches_per_run", g.LaunchesPerRun);
            w.WriteNumber("device_ms_per_run", g.DeviceMsPerRun);
            w.WriteNumber("wall_ms_per_run", g.WallMsPerRun);
            w.WriteNumber("arena_bytes", g.ArenaBytes);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("kernels");
        foreach (var k in Kernels)
        {
            w.WriteStartObject();
            w.WriteString("kernel", k.Kernel);
            w.WriteNumber("calls", k.Calls);
            w.WriteNumber("total_ms", k.TotalMs);
            w.WriteNumber("min_ms", k.MinMs);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private void WriteRows(Utf8JsonWriter w, string name, IReadOnlyList<ProfileRow> rows)
    {
        w.WriteStartArray(name);
        foreach (var r in rows)
        {
            w.WriteStartObject();
            w.WriteString("op", r.Op);
            if (r.Shapes.Length > 0) w.WriteString("shapes", r.Shapes);
            w.WriteNumber("calls", r.Calls);
            w.WriteNumber("total_ms", r.TotalMs);
            w.WriteNumber("min_ms", r.MinMs);
            w.WriteNumber("flops", r.Flops);
            w.WriteNumber("bytes", r.Bytes);
            w.WriteNumber("flops_per_second", r.FlopsPerSecond);
            w.WriteNumber("bytes_per_second", r.BytesPerSecond);
            if (Peaks is { } p)
            {
                w.WriteNumber("fraction_of_gemm_peak", r.FlopsPerSecond / p.GemmFlopsPerSecond);
                w.WriteNumber("fraction_of_copy_peak", r.BytesPerSecond / p.CopyBytesPerSecond);
                w.WriteNumber("roofline_fraction", r.RooflineFraction(p));
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }
}
