namespace PixelLLM.Models;

public static partial class SamImageEncoder
{
    /// <summary>
    /// Every parameter <see cref="Build"/> binds for <paramref name="cfg"/>, under segment-anything's state-dict names, with the
    /// shapes segment-anything stores for an <see cref="SamImageEncoderConfig.PretrainImageSize"/> image: linear weights
    /// (out, in), conv weights (O, I, kh, kw), pos_embed (1, G, G, C) and rel-pos (2·window − 1 or 2·G − 1, head dim) with
    /// G = PretrainImageSize / patch. Biases follow SAM (qkv_bias on, neck convs without). In insertion order.
    /// </summary>
    /// <param name="imageChannels">Channels of the image the patch conv reads (3 for RGB).</param>
    public static IReadOnlyDictionary<string, int[]> ParameterShapes(SamImageEncoderConfig cfg, int imageChannels = 3)
    {
        cfg.Validate();
        int c = cfg.EmbedDim, p = cfg.PatchSize, grid = cfg.PretrainGrid, hidden = cfg.MlpDim, o = cfg.OutChans;
        var shapes = new Dictionary<string, int[]>(StringComparer.Ordinal)
        {
            ["patch_embed.proj.weight"] = [c, imageChannels, p, p],
            ["patch_embed.proj.bias"] = [c],
        };
        if (cfg.UseAbsPos) shapes["pos_embed"] = [1, grid, grid, c];
        for (int i = 0; i < cfg.Depth; i++)
        {
            var b = $"blocks.{i}.";
            shapes[b + "norm1.weight"] = [c];
            shapes[b + "norm1.bias"] = [c];
            shapes[b + "attn.qkv.weight"] = [3 * c, c];
            shapes[b + "attn.qkv.bias"] = [3 * c];
            if (cfg.UseRelPos)
            {
                int length = 2 * (cfg.IsWindowed(i) ? cfg.WindowSize : grid) - 1;
                shapes[b + "attn.rel_pos_h"] = [length, cfg.HeadDim];
                shapes[b + "attn.rel_pos_w"] = [length, cfg.HeadDim];
            }
            shapes[b + "attn.proj.weight"] = [c, c];
            shapes[b + "attn.proj.bias"] = [c];
            shapes[b + "norm2.weight"] = [c];
            shapes[b + "norm2.bias"] = [c];
            shapes[b + "mlp.lin1.weight"] = [hidden, c];
            shapes[b + "mlp.lin1.bias"] = [hidden];
            shapes[b + "mlp.lin2.weight"] = [c, hidden];
            shapes[b + "mlp.lin2.bias"] = [c];
        }
        shapes["neck.0.weight"] = [o, c, 1, 1];
        shapes["neck.1.weight"] = [o];
        shapes["neck.1.bias"] = [o];
        shapes["neck.2.weight"] = [o, o, 3, 3];
        shapes["neck.3.weight"] = [o];
        shapes["neck.3.bias"] = [o];
        return shapes;
    }
}
