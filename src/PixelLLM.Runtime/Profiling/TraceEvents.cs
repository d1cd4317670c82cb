using System.Text.Json;

namespace PixelLLM.Runtime.Profiling;

/// <summary>Pieces of the Chrome trace-event format (what Perfetto and chrome://tracing read) that every timeline writes.</summary>
public static class TraceEvents
{
    /// <summary>A metadata event naming a process (<paramref name="tid"/> null, kind "process_name") or a thread ("thread_name").</summary>
    public static void WriteName(Utf8JsonWriter w, string kind, int pid, int? tid, string name)
    {
        w.WriteStartObject();
        w.WriteString("name", kind);
        w.WriteString("ph", "M");
        w.WriteNumber("pid", pid);
        if (tid is { } t) w.WriteNumber("tid", t);
        w.WriteStartObject("args");
        w.WriteString("name", name);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>
    /// A complete ("X") event from <paramref name="startUs"/> to <paramref name="endUs"/>, both written to the ns: the
    /// duration is the difference of the rounded ends, so events that touch stay touching. <paramref name="args"/>, when
    /// given, writes the members of its "args" object.
    /// </summary>
    public static void WriteComplete(Utf8JsonWriter w, string name, string category, int pid, int tid, double startUs, double endUs,
        Action<Utf8JsonWriter>? args = null)
    {
        w.WriteStartObject();
        w.WriteString("name", name);
        w.WriteString("cat", category);
        w.WriteString("ph", "X");
        w.WriteNumber("pid", pid);
        w.WriteNumber("tid", tid);
        double start = Math.Round(startUs, 3);
        w.WriteNumber("ts", start);
        w.WriteNumber("dur", Math.Round(Math.Round(endUs, 3) - start, 3));
        if (args is not null)
        {
            w.WriteStartObject("args");
            args(w);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }
}
