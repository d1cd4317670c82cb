namespace PixelLLM.Models;

public static partial class PromptEncoder
{
    /// <summary>
    /// Every parameter the prompt encoder's pieces bind for <paramref name="cfg"/>, under segment-anything's names:
    /// the (2, C/2) Fourier matrix, five (1, C) learned embeddings, and the mask-downscaling convolutions (O, I, kh, kw)
    /// with their LayerNorm2d layers. In insertion order.
    /// </summary>
    public static IReadOnlyDictionary<string, int[]> ParameterShapes(PromptEncoderConfig cfg)
    {
        int c = cfg.EmbedDim, hidden = cfg.MaskInChans, first = cfg.MaskInChans / 4;
        var shapes = new Dictionary<string, int[]>(StringComparer.Ordinal)
        {
            ["pe_layer.positional_encoding_gaussian_matrix"] = [2, c / 2],
        };
        for (int i = 0; i < 4; i++) shapes[$"point_embeddings.{i}.weight"] = [1, c];
        shapes["not_a_point_embed.weight"] = [1, c];
        shapes["mask_downscaling.0.weight"] = [first, 1, 2, 2];
        shapes["mask_downscaling.0.bias"] = [first];
        shapes["mask_downscaling.1.weight"] = [first];
        shapes["mask_downscaling.1.bias"] = [first];
        shapes["mask_downscaling.3.weight"] = [hidden, first, 2, 2];
        shapes["mask_downscaling.3.bias"] = [hidden];
        shapes["mask_downscaling.4.weight"] = [hidden];
        shapes["mask_downscaling.4.bias"] = [hidden];
        shapes["mask_downscaling.6.weight"] = [c, hidden, 1, 1];
        shapes["mask_downscaling.6.bias"] = [c];
        shapes["no_mask_embed.weight"] = [1, c];
        return shapes;
    }
}
