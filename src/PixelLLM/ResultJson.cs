using System.Text.Json;

namespace PixelLLM;

/// <summary>Optional image description written at the top of a result document.</summary>
internal sealed record ImageJson(string Source, int Width, int Height);

/// <summary>
/// Results as JSON with <see cref="Utf8JsonWriter"/> (no reflection: trimming / NativeAOT safe). Numbers are written in their
/// shortest round-trip form, so equal results give equal bytes. Schema "pixelllm-result/1", documented in the README.
/// </summary>
internal static partial class ResultJson
{
    public const string Schema = "pixelllm-result/1";

    public static byte[] Caption(IReadOnlyList<CaptionResult> results, ImageJson? image) => Document("caption", image, w =>
    {
        foreach (var r in results)
        {
            w.WriteStartObject();
            w.WriteString("text", r.Text);
            w.WritePropertyName("score");
            Number(w, r.Score);
            WriteBox(w, "prompt_box", r.PromptBox);
            WriteBox(w, "box", r.TraceBox);
            WriteTokens(w, r.Tokens);
            w.WriteEndObject();
        }
    });

    public static byte[] Refer(IReadOnlyList<ReferResult> results, ImageJson? image) => Document("refer", image, w =>
    {
        foreach (var r in results) Refer(w, r);
    });

    private static void Refer(Utf8JsonWriter w, ReferResult r)
    {
        w.WriteStartObject();
        w.WriteString("expression", r.Expression);
        w.WriteString("text", r.Text);
        w.WritePropertyName("score");
        if (r.Score is { } s) Number(w, s); else w.WriteNullValue();
        WriteBox(w, "box", r.Box);
        WriteTokens(w, r.Tokens);
        w.WriteEndObject();
    }

    private static byte[] Document(string task, ImageJson? image, Action<Utf8JsonWriter> results)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("schema", Schema);
            w.WriteString("task", task);
            if (image is not null)
            {
                w.WriteStartObject("image");
                w.WriteString("source", image.Source);
                w.WriteNumber("width", image.Width);
                w.WriteNumber("height", image.Height);
                w.WriteEndObject();
            }
            w.WriteStartArray("results");
            results(w);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static void WriteTokens(Utf8JsonWriter w, IReadOnlyList<TraceToken> tokens)
    {
        w.WriteStartArray("tokens");
        foreach (var t in tokens)
        {
            w.WriteStartObject();
            w.WriteNumber("position", t.Position);
            w.WriteNumber("id", t.Id);
            w.WriteString("piece", t.Piece);
            w.WriteBoolean("word", t.IsWord);
            w.WriteBoolean("valid", t.Valid);
            w.WriteStartArray("points");
            foreach (var p in t.Points)
            {
                w.WriteStartArray();
                Number(w, p.X);
                Number(w, p.Y);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            WriteBox(w, "box", t.Points.Count == 0 ? null : t.Box);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void WriteBox(Utf8JsonWriter w, string name, Box? box)
    {
        if (box is not { } b)
        {
            w.WriteNull(name);
            return;
        }
        w.WriteStartArray(name);
        Number(w, b.X0);
        Number(w, b.Y0);
        Number(w, b.X1);
        Number(w, b.Y1);
        w.WriteEndArray();
    }

    /// <summary>JSON has no NaN / infinity: a non-finite value (a diverged model) is written as null.</summary>
    private static void Number(Utf8JsonWriter w, float value)
    {
        if (float.IsFinite(value)) w.WriteNumberValue(value); else w.WriteNullValue();
    }
}
