using System.Text.Json;
using PixelLLM.Runtime;

namespace PixelLLM.Models;

/// <summary>Reads the <see cref="MaskBranchConfig"/> of a scenic-style model config JSON (the refseg golden's "config").</summary>
public static class MaskBranchConfigJson
{
    /// <summary>
    /// Keys: mask_adapter{depth, transformer_dim, num_outputs, output_dim, num_heads, mlp_dim, attention_downsample_rate, gating,
    /// input_projection}, mask_decoder{transformer_dim, transformer_depth, num_heads, transformer_mlp_dim, attention_downsample_rate,
    /// num_multimask_outputs, iou_head_depth, iou_head_hidden_dim}, sam_preprocess_image_size [h, w] (else the canvas) and
    /// mask_decoder_feature_key (only "sam_visual_features"). Null when the config has no mask_decoder (no mask branch).
    /// Throws <see cref="ModelFileException"/> naming a missing or unsupported key.
    /// </summary>
    public static MaskBranchConfig? FromScenic(JsonElement c, int canvas)
    {
        if (!c.TryGetProperty("mask_decoder", out var d) || d.ValueKind != JsonValueKind.Object) return null;
        try
        {
            if (c.TryGetProperty("mask_decoder_feature_key", out var key) && key.GetString() is { } k && k != "sam_visual_features")
                throw new ModelFileException($"pixelllm config: mask_decoder_feature_key '{k}' is not supported (expected sam_visual_features)");
            if (!c.TryGetProperty("mask_adapter", out var a) || a.ValueKind != JsonValueKind.Object)
                throw new ModelFileException("pixelllm config: mask_decoder without mask_adapter is not supported");
            int dim = Required(d, "mask_decoder", "transformer_dim");
            var transformer = new TwoWayTransformerConfig(Int(d, "transformer_depth", 2), dim, Int(d, "num_heads", 8),
                Int(d, "transformer_mlp_dim", 2048), Int(d, "attention_downsample_rate", 2));
            var decoder = new MaskDecoderConfig(dim, transformer, Int(d, "num_multimask_outputs", 3), Int(d, "iou_head_depth", 3),
                IouHeadHiddenDim: Int(d, "iou_head_hidden_dim", 256));
            var adapter = new MaskAdapterConfig(
                Depth: Required(a, "mask_adapter", "depth"),
                TransformerDim: Required(a, "mask_adapter", "transformer_dim"),
                NumOutputs: Int(a, "num_outputs", 2),
                OutputDim: Required(a, "mask_adapter", "output_dim"),
                NumHeads: Int(a, "num_heads", 8),
                MlpDim: Int(a, "mlp_dim", 2048),
                AttentionDownsampleRate: Int(a, "attention_downsample_rate", 2),
                Gating: Bool(a, "gating", false),
                InputProjection: Bool(a, "input_projection", true));
            var (h, w) = (canvas, canvas);
            if (c.TryGetProperty("sam_preprocess_image_size", out var size) && size.ValueKind == JsonValueKind.Array)
            {
                var hw = size.EnumerateArray().Select(e => e.GetInt32()).ToArray();
                if (hw.Length != 2 || hw.Any(v => v < 1))
                    throw new ModelFileException($"pixelllm config: sam_preprocess_image_size must be [h, w] > 0, got [{string.Join(", ", hw)}]");
                (h, w) = (hw[0], hw[1]);
            }
            return new MaskBranchConfig(adapter, decoder, h, w);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new ModelFileException($"pixelllm config: mask branch: {e.Message}");
        }
    }

    private static int Required(JsonElement e, string section, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int value)
            ? value : throw new ModelFileException($"pixelllm config: {section}.{name} must be an integer");

    private static int Int(JsonElement e, string name, int fallback) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;

    private static bool Bool(JsonElement e, string name, bool fallback) =>
        e.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;
}
