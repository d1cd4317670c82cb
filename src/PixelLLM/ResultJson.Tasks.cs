using System.Text.Json;

namespace PixelLLM;

internal static partial class ResultJson
{
    /// <summary>
    /// task "segment": one result per expression with the expression, decoded text, score, box, IoU prediction, token ids and the binary mask
    /// as COCO's uncompressed RLE ("size" [height, width], "counts" of alternating 0/1 runs in column-major order, starting
    /// with 0s). The canvas-grid logits are too large for JSON: --dump writes them (out.detection_masks).
    /// </summary>
    public static byte[] Segment(IReadOnlyList<SegmentResult> results, ImageJson? image) => Document("segment", image, w =>
    {
        foreach (var r in results) Segment(w, r);
    });

    private static void Segment(Utf8JsonWriter w, SegmentResult r)
    {
        w.WriteStartObject();
        w.WriteString("expression", r.Expression);
        w.WriteString("text", r.Text);
        w.WritePropertyName("score");
        if (r.Score is { } score) Number(w, score); else w.WriteNullValue();
        WriteBox(w, "box", r.Box);
        w.WritePropertyName("iou");
        Number(w, r.Iou);
        WriteIds(w, r.Tokens);
        w.WriteStartObject("mask");
        w.WriteStartArray("size");
        w.WriteNumberValue(r.Mask.Height);
        w.WriteNumberValue(r.Mask.Width);
        w.WriteEndArray();
        w.WriteNumber("area", r.Mask.Area);
        w.WriteStartArray("counts");
        foreach (var run in ColumnMajorRuns(r.Mask)) w.WriteNumberValue(run);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>task "densecap": one result per counted detection (slot, box, score, text, log_prob, token ids), plus "slots" = K.</summary>
    public static byte[] DenseCaption(DenseCaptionResults results, ImageJson? image) => Document("densecap", image, w =>
    {
        foreach (var d in results.Detections)
        {
            w.WriteStartObject();
            w.WriteNumber("slot", d.Slot);
            WriteBox(w, "box", d.Box);
            w.WritePropertyName("score");
            Number(w, d.Score);
            w.WriteString("text", d.Text);
            w.WritePropertyName("log_prob");
            Number(w, d.LogProb);
            WriteIds(w, d.Tokens);
            w.WriteEndObject();
        }
    });

    private static void WriteIds(Utf8JsonWriter w, IReadOnlyList<int> ids)
    {
        w.WriteStartArray("token_ids");
        foreach (var id in ids) w.WriteNumberValue(id);
        w.WriteEndArray();
    }

    /// <summary>COCO uncompressed RLE: run lengths over the column-major pixel order, the first run counting 0s (possibly 0 long).</summary>
    internal static List<int> ColumnMajorRuns(BinaryMask mask)
    {
        var runs = new List<int>();
        var pixels = mask.Pixels;
        byte current = 0;
        int length = 0;
        for (int x = 0; x < mask.Width; x++)
            for (int y = 0; y < mask.Height; y++)
            {
                byte v = pixels[y * mask.Width + x] != 0 ? (byte)1 : (byte)0;
                if (v != current)
                {
                    runs.Add(length);
                    (current, length) = (v, 0);
                }
                length++;
            }
        runs.Add(length);
        return runs;
    }
}
