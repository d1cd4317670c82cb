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
    /// Throws <see cref="ModelFileException"/> naming a missing, mistyped, out-of-range or unsupported key.
    /// </summary>
    public static MaskBranchConfig? FromScenic(JsonElement c, int canvas)
    {
        if (ConfigReader.OptionalObject(c, "mask_decoder") is not { } d) return null;
        try
        {
            if (ConfigReader.String(c, "mask_decoder_feature_key", null) is { } k && k != "sam_visual_features")
                throw new ModelFileException($"pixelllm config: mask_decoder_feature_key '{k}' is not supported (expected sam_visual_features)");
            var a = ConfigReader.OptionalObject(c, "mask_adapter")
                ?? throw new ModelFileException("pixelllm config: mask_decoder without mask_adapter is not supported");
            var transformer = PixelLlmConfigJson.TwoWay(d, "mask_decoder", "transformer_depth", "transformer_dim", "num_heads",
                "transformer_mlp_dim", "attention_downsample_rate", depthFallback: 2);
            var decoder = new MaskDecoderConfig(transformer.EmbeddingDim, transformer,
                NumMultimaskOutputs: ConfigReader.Int(d, "mask_decoder.num_multimask_outputs", 1, ConfigReader.MaxCount, 3),
                IouHeadDepth: ConfigReader.Int(d, "mask_decoder.iou_head_depth", 1, ConfigReader.MaxDepth, 3),
                IouHeadHiddenDim: ConfigReader.Int(d, "mask_decoder.iou_head_hidden_dim", 1, ConfigReader.MaxWidth, 256));
            var adapterTransformer = PixelLlmConfigJson.TwoWay(a, "mask_adapter", "depth", "transformer_dim", "num_heads", "mlp_dim",
                "attention_downsample_rate", depthFallback: null);
            int outputDim = ConfigReader.Int(a, "mask_adapter.output_dim", 1, ConfigReader.MaxWidth);
            // The adapter's output tokens are its transformer's (errata D3); MaskAdapter.Build would refuse the graph later.
            ConfigReader.Expect(outputDim == adapterTransformer.EmbeddingDim, "mask_adapter.output_dim",
                $"mask_adapter.transformer_dim {adapterTransformer.EmbeddingDim}", outputDim);
            var adapter = new MaskAdapterConfig(
                Depth: adapterTransformer.Depth,
                TransformerDim: adapterTransformer.EmbeddingDim,
                NumOutputs: ConfigReader.Int(a, "mask_adapter.num_outputs", 1, ConfigReader.MaxCount, 2),
                OutputDim: outputDim,
                NumHeads: adapterTransformer.NumHeads,
                MlpDim: adapterTransformer.MlpDim,
                AttentionDownsampleRate: adapterTransformer.AttentionDownsampleRate,
                Gating: ConfigReader.Bool(a, "mask_adapter.gating", false),
                InputProjection: ConfigReader.Bool(a, "mask_adapter.input_projection", true));
            var (h, w) = (canvas, canvas);
            if (ConfigReader.Ints(c, "sam_preprocess_image_size", 2, 2, 1, PixelLlmConfigJson.MaxCanvas) is { } hw) (h, w) = (hw[0], hw[1]);
            return new MaskBranchConfig(adapter, decoder, h, w);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            // A safety net only: every key is read through ConfigReader, which names it.
            throw new ModelFileException($"pixelllm config: mask branch: {e.Message}");
        }
    }
}
