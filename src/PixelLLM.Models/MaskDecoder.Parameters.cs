namespace PixelLLM.Models;

public static partial class MaskDecoder
{
    /// <summary>
    /// Every parameter <see cref="Build"/> binds for <paramref name="cfg"/>, under segment-anything's names: output tokens,
    /// the transformer (prefix <c>transformer.</c>), the two transposed convolutions of the upscaling path (weights
    /// (in, out, kh, kw) as torch stores them), one hypernetwork MLP per mask token (C → C → C/8) and the IoU head
    /// (C → hidden → mask tokens). In insertion order.
    /// </summary>
    public static IReadOnlyDictionary<string, int[]> ParameterShapes(MaskDecoderConfig cfg)
    {
        int c = cfg.TransformerDim, tokens = cfg.NumMaskTokens;
        var shapes = new Dictionary<string, int[]>(StringComparer.Ordinal);
        foreach (var (name, shape) in TwoWayTransformer.ParameterShapes(cfg.Transformer)) shapes["transformer." + name] = shape;
        shapes["iou_token.weight"] = [1, c];
        shapes["mask_tokens.weight"] = [tokens, c];
        shapes["output_upscaling.0.weight"] = [c, c / 4, 2, 2];
        shapes["output_upscaling.0.bias"] = [c / 4];
        shapes["output_upscaling.1.weight"] = [c / 4];
        shapes["output_upscaling.1.bias"] = [c / 4];
        shapes["output_upscaling.3.weight"] = [c / 4, c / 8, 2, 2];
        shapes["output_upscaling.3.bias"] = [c / 8];
        for (int i = 0; i < tokens; i++) AddMlp(shapes, $"output_hypernetworks_mlps.{i}", c, c, c / 8, cfg.HypernetworkDepth);
        AddMlp(shapes, "iou_prediction_head", c, cfg.IouHeadHiddenDim, tokens, cfg.IouHeadDepth);
        return shapes;
    }

    /// <summary>segment-anything's MLP(input, hidden, output, layers): layers.0 … layers.{n−1}, each with a bias.</summary>
    private static void AddMlp(Dictionary<string, int[]> shapes, string name, int input, int hidden, int output, int layers)
    {
        for (int i = 0; i < layers; i++)
        {
            int into = i == 0 ? input : hidden, outOf = i == layers - 1 ? output : hidden;
            shapes[$"{name}.layers.{i}.weight"] = [outOf, into];
            shapes[$"{name}.layers.{i}.bias"] = [outOf];
        }
    }
}
