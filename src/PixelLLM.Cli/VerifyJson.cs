using System.Text.Json;
using PixelLLM.Models.Verification;

namespace PixelLLM.Cli;

/// <summary>One case's outcome for <c>verify --json</c>: its report, or the one-line reason it could not run.</summary>
internal sealed record VerifyOutcome(string Case, VerifyReport? Report, string? Error)
{
    public bool Passed => Report is { Passed: true };
}

/// <summary>
/// <c>verify --json FILE</c>: every case and every tensor it compared, for scripts and dashboards (schema
/// <c>pixelllm-verify/1</c>). A non-finite error (a NaN where the reference has a number) is written as null.
/// </summary>
internal static class VerifyJson
{
    public const string Schema = "pixelllm-verify/1";

    public static void Write(Stream stream, string backend, IReadOnlyList<VerifyOutcome> outcomes)
    {
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteString("schema", Schema);
        w.WriteString("backend", backend);
        w.WriteNumber("cases_passed", outcomes.Count(o => o.Passed));
        w.WriteNumber("cases", outcomes.Count);
        w.WriteStartArray("results");
        foreach (var o in outcomes)
        {
            w.WriteStartObject();
            w.WriteString("case", o.Case);
            w.WriteBoolean("passed", o.Passed);
            if (o.Error is not null) w.WriteString("error", o.Error);
            if (o.Report is { } r)
            {
                w.WriteString("component", r.Component);
                w.WriteStartObject("tolerance");
                w.WriteNumber("atol", r.Tolerance.Atol);
                w.WriteNumber("rtol", r.Tolerance.Rtol);
                w.WriteEndObject();
                w.WriteStartArray("tensors");
                foreach (var c in r.Checks)
                {
                    w.WriteStartObject();
                    w.WriteString("name", c.Name);
                    w.WriteString("shape", c.Shape);
                    Number(w, "max_abs", c.MaxAbsError);
                    Number(w, "max_rel", c.MaxRelError);
                    Number(w, "error_over_tolerance", c.WorstRatio);
                    w.WriteBoolean("passed", c.Passed);
                    if (!string.IsNullOrEmpty(c.Note)) w.WriteString("note", c.Note);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void Number(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value)) w.WriteNumber(name, value);
        else w.WriteNull(name);
    }
}
