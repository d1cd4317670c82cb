using System.Globalization;
using System.Text.Json;

namespace PixelLLM.Cli.Evaluation;

/// <summary>One line of the report: eval.py's key, what it measures, its value and how many items it averages.</summary>
internal sealed record EvalRow(string Key, string Label, double? Value, int Count, string Target);

/// <summary>The table and the JSON of an evaluation (eval.py's keys, so the two tools' outputs compare line by line).</summary>
internal static class EvalReport
{
    public static IReadOnlyList<EvalRow> Rows(EvalMetrics m, EvalTasks tasks)
    {
        var rows = new List<EvalRow>();
        if (tasks.HasFlag(EvalTasks.Trace))
        {
            rows.Add(new("cap_exact", "caption exact match (greedy)", EvalMetrics.Mean(m.CaptionExact), m.CaptionExact.Count, "-"));
            rows.Add(new("tok_acc", "caption token accuracy (teacher-forced)", EvalMetrics.Mean(m.TokenAccuracy), m.TokenAccuracy.Count, "-"));
            rows.Add(new("trace_hit", "trace hit rate (point in object mask)", EvalMetrics.Mean(m.TraceHit), m.TraceHit.Count, ">= 0.8"));
            rows.Add(new("trace_box_hit", "trace hit rate (point in object box)", EvalMetrics.Mean(m.TraceBoxHit), m.TraceBoxHit.Count, "-"));
        }
        if (tasks.HasFlag(EvalTasks.Refer))
            rows.Add(new("refer_hit", "referring P@0.5 (teacher-forced)", EvalMetrics.Mean(m.ReferHit), m.ReferHit.Count, ">= 0.8"));
        if (tasks.HasFlag(EvalTasks.Segment))
        {
            rows.Add(new("mask_iou", "mask IoU (mean)", EvalMetrics.Mean(m.MaskIou), m.MaskIou.Count, ">= 0.7"));
            rows.Add(new("mask_ciou", "mask cIoU (cumulative)", m.CumulativeMaskIou, m.MaskIou.Count, "-"));
        }
        if (tasks.HasFlag(EvalTasks.Loca))
            rows.Add(new("loca_acc", "location-conditioned caption accuracy", EvalMetrics.Mean(m.LocaAccuracy), m.LocaAccuracy.Count, ">= 0.8"));
        return rows;
    }

    public static void WriteTable(TextWriter output, IReadOnlyList<EvalRow> rows, int scenes)
    {
        output.WriteLine($"{"metric",-42} {"value",6} {"count",6}  target");
        foreach (var r in rows)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Label,-42} {(r.Value is { } v ? v.ToString("F3", CultureInfo.InvariantCulture) : "n/a"),6} {r.Count,6}  {r.Target}"));
        output.WriteLine($"scenes: {scenes}");
    }

    /// <summary>{"task", "data", "model", "backend", "seconds", "scenes", every row's key → value, "counts": {key → count}}.</summary>
    public static byte[] Json(IReadOnlyList<EvalRow> rows, int scenes, string task, string data, string model, string backend, double seconds)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("task", task);
            w.WriteString("data", data);
            w.WriteString("model", model);
            w.WriteString("backend", backend);
            w.WriteNumber("seconds", Math.Round(seconds, 1));
            w.WriteNumber("scenes", scenes);
            foreach (var r in rows)
            {
                if (r.Value is { } v) w.WriteNumber(r.Key, v);
                else w.WriteNull(r.Key);
            }
            w.WriteStartObject("counts");
            w.WriteNumber("scenes", scenes);
            foreach (var r in rows) w.WriteNumber(r.Key, r.Count);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return stream.ToArray();
    }
}
