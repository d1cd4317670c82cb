using System.Text.Json;
using PixelLLM.Runtime;

namespace PixelLLM.Cli;

/// <summary>The run description every bench JSON starts with, so the caption and dense-captioning benches stay comparable.</summary>
internal static class BenchJson
{
    internal static void WriteRunHeader(Utf8JsonWriter w, string config, string backend, DType weights, int runs, int seed,
        string loadBefore, string loadAfter, long peakResidentBytes)
    {
        w.WriteString("config", config);
        w.WriteString("backend", backend);
        w.WriteString("weights", weights.ToString());
        w.WriteNumber("runs", runs);
        w.WriteNumber("seed", seed);
        w.WriteNumber("cores", Environment.ProcessorCount);
        w.WriteString("date_utc", DateTime.UtcNow.ToString("u"));
        w.WriteString("load_average_before", loadBefore);
        w.WriteString("load_average_after", loadAfter);
        w.WriteNumber("peak_resident_bytes", peakResidentBytes);
    }
}
