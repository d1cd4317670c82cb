using System.Globalization;
using System.Text.Json;
using PixelLLM.Backends.Cuda.Interop;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Profiling;

namespace PixelLLM.Cli;

/// <summary>
/// <c>bench --kernel-trace FILE</c> (CUDA): CUPTI records every kernel of each stage's timed runs as the device ran them,
/// CUDA-graph replays included (what <c>--profile</c>, which launches eagerly between event pairs, cannot show). After
/// each stage a summary says how busy the device was, how much of the rest were gaps between kernels and how much idle
/// stretches (host round trips), and which kernels took the time; FILE is the timeline in the Chrome trace-event format
/// (ui.perfetto.dev), a track per stream, the stages as sections.
/// </summary>
internal sealed class BenchKernelTrace
{
    private readonly List<(string Stage, IReadOnlyList<KernelActivity> Kernels, long Dropped)> stages = [];
    private readonly string path;
    private readonly TextWriter table;

    /// <summary>Fails before any work when libcupti cannot be loaded.</summary>
    public BenchKernelTrace(string path, TextWriter table)
    {
        var cupti = Cupti.Probe();
        if (!cupti.Found) throw new InvalidInputException($"--kernel-trace: CUPTI is not available: {cupti.WhyNot}");
        (this.path, this.table) = (path, table);
    }

    /// <summary>A stage begins: whatever an earlier stage left recording is dropped.</summary>
    public void StageStarted() => Cupti.Stop();

    /// <summary>The stage's warm-up is over: record from here.</summary>
    public void Timed() => Cupti.Start();

    public void StageDone(string stage)
    {
        var (kernels, dropped) = Cupti.Stop();
        stages.Add((stage, kernels, dropped));
        var summary = KernelTraceSummary.Of(kernels);
        table.WriteLine(summary.Line() + (dropped > 0 ? $"; CUPTI dropped {dropped} records" : ""));
        foreach (var line in summary.TopKernels(8)) table.WriteLine(line);
    }

    public void Finish() => OutputFile.Write("--kernel-trace", path, Write);

    private void Write(Stream stream)
    {
        using var w = new Utf8JsonWriter(stream);
        var all = stages.SelectMany(s => s.Kernels).ToList();
        ulong origin = all.Count == 0 ? 0 : all.Min(k => k.StartNs);
        double Us(ulong ns) => (ns - origin) * 1e-3;
        w.WriteStartObject();
        w.WriteString("displayTimeUnit", "ms");
        w.WriteStartObject("otherData");
        w.WriteString("source", "CUPTI concurrent-kernel activity records (device timestamps)");
        w.WriteEndObject();
        w.WriteStartArray("traceEvents");
        TraceEvents.WriteName(w, "process_name", 1, null, "device (CUPTI)");
        foreach (var id in all.Select(k => k.Stream).Distinct().Order()) TraceEvents.WriteName(w, "thread_name", 1, (int)id, $"stream {id}");
        TraceEvents.WriteName(w, "process_name", 2, null, "bench");
        TraceEvents.WriteName(w, "thread_name", 2, 1, "stages");
        foreach (var (stage, kernels, dropped) in stages)
        {
            if (kernels.Count == 0) continue;
            ulong first = kernels.Min(k => k.StartNs), last = kernels.Max(k => k.EndNs);
            TraceEvents.WriteComplete(w, stage, "stage", 2, 1, Us(first), Us(last));
            foreach (var k in kernels)
                TraceEvents.WriteComplete(w, k.Name, "kernel", 1, (int)k.Stream, Us(k.StartNs), Us(k.EndNs), a =>
                {
                    a.WriteString("stage", stage);
                    a.WriteString("grid", $"{k.Grid.X}×{k.Grid.Y}×{k.Grid.Z}");
                    a.WriteString("block", $"{k.Block.X}×{k.Block.Y}×{k.Block.Z}");
                    a.WriteNumber("correlation", k.Correlation);
                });
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}

/// <summary>
/// Where a stage's device time went, from its kernels' device timestamps: the span from the first start to the last end,
/// the time some kernel ran (the union of their intervals), the gaps between kernels shorter than
/// <see cref="IdleMicroseconds"/> (launch and dependency latency inside a run or a graph replay) and the longer idle
/// stretches (the host's round trips between runs and steps), and the kernels by total time. The idle stretches split
/// the kernels into bursts — a bench stage's runs, or a decode stage's steps — and the summary gives the mean burst too.
/// </summary>
internal sealed record KernelTraceSummary(int Kernels, double SpanMs, double BusyMs, int Gaps, double GapMs, int IdleStretches, double IdleMs,
    IReadOnlyList<(string Kernel, int Calls, double TotalMs)> ByKernel)
{
    /// <summary>Gaps at least this long count as idle stretches (host work), not as latency between kernels.</summary>
    public const double IdleMicroseconds = 20;

    public static KernelTraceSummary Of(IReadOnlyList<KernelActivity> kernels)
    {
        if (kernels.Count == 0) return new(0, 0, 0, 0, 0, 0, 0, []);
        var sorted = kernels.OrderBy(k => k.StartNs).ToList();
        ulong start = sorted[0].StartNs, end = sorted[0].EndNs, busy = 0, gap = 0, idle = 0;
        int gaps = 0, stretches = 0;
        foreach (var k in sorted.Skip(1))
        {
            if (k.StartNs <= end)
            {
                end = Math.Max(end, k.EndNs);
                continue;
            }
            busy += end - start;
            ulong between = k.StartNs - end;
            if (between < IdleMicroseconds * 1e3) (gap, gaps) = (gap + between, gaps + 1);
            else (idle, stretches) = (idle + between, stretches + 1);
            (start, end) = (k.StartNs, k.EndNs);
        }
        busy += end - start;
        double span = (sorted.Max(k => k.EndNs) - sorted[0].StartNs) * 1e-6;
        var byKernel = kernels.GroupBy(k => k.Name).Select(g => (g.Key, g.Count(), g.Sum(k => k.Ms))).OrderByDescending(r => r.Item3).ToList();
        return new(kernels.Count, span, busy * 1e-6, gaps, gap * 1e-6, stretches, idle * 1e-6, byKernel);
    }

    /// <summary>Runs of kernels between idle stretches (a bench stage's runs, a decode stage's steps).</summary>
    public int Bursts => Kernels == 0 ? 0 : IdleStretches + 1;

    public string Line()
    {
        if (Kernels == 0) return "  kernel trace: no kernels recorded";
        var c = CultureInfo.InvariantCulture;
        return string.Create(c, $"  kernel trace: {Kernels} kernels over {SpanMs:F3} ms: device busy {BusyMs:F3} ms ({100 * BusyMs / SpanMs:F1} %); ") +
            string.Create(c, $"{Gaps} gaps under {IdleMicroseconds:F0} µs, {GapMs:F3} ms in all ({(Gaps > 0 ? 1e3 * GapMs / Gaps : 0):F2} µs each); ") +
            string.Create(c, $"{IdleStretches} idle stretches, {IdleMs:F3} ms; per burst of {(double)Kernels / Bursts:F1} kernels: ") +
            string.Create(c, $"busy {1e3 * BusyMs / Bursts:F1} µs, gaps {1e3 * GapMs / Bursts:F1} µs");
    }

    public IEnumerable<string> TopKernels(int count) => ByKernel.Take(count).Select(r => string.Create(CultureInfo.InvariantCulture,
        $"    {Clip(r.Kernel, 60),-60} {r.Calls,7} calls {r.TotalMs,10:F3} ms {1e3 * r.TotalMs / r.Calls,9:F2} µs each"));

    private static string Clip(string s, int width) => s.Length <= width ? s : s[..(width - 1)] + "…";
}
