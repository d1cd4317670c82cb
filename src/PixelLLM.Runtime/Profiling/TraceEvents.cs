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
}
