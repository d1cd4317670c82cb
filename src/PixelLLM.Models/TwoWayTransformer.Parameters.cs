namespace PixelLLM.Models;

public static partial class TwoWayTransformer
{
    /// <summary>
    /// Every parameter <see cref="Build"/> binds for <paramref name="cfg"/>, under segment-anything's names and (out, in)
    /// linear layouts: self-attention at full width, the three cross attentions at C / downsample rate. In insertion order.
    /// </summary>
    public static IReadOnlyDictionary<string, int[]> ParameterShapes(TwoWayTransformerConfig cfg)
    {
        int c = cfg.EmbeddingDim;
        var shapes = new Dictionary<string, int[]>(StringComparer.Ordinal);
        for (int i = 0; i < cfg.Depth; i++)
        {
            var l = $"layers.{i}.";
            AddAttention(shapes, l + "self_attn", c, c);
            AddNorm(shapes, l + "norm1", c);
            AddAttention(shapes, l + "cross_attn_token_to_image", c, cfg.CrossAttentionDim);
            AddNorm(shapes, l + "norm2", c);
            shapes[l + "mlp.lin1.weight"] = [cfg.MlpDim, c];
            shapes[l + "mlp.lin1.bias"] = [cfg.MlpDim];
            shapes[l + "mlp.lin2.weight"] = [c, cfg.MlpDim];
            shapes[l + "mlp.lin2.bias"] = [c];
            AddNorm(shapes, l + "norm3", c);
            AddNorm(shapes, l + "norm4", c);
            AddAttention(shapes, l + "cross_attn_image_to_token", c, cfg.CrossAttentionDim);
        }
        AddAttention(shapes, "final_attn_token_to_image", c, cfg.CrossAttentionDim);
        AddNorm(shapes, "norm_final_attn", c);
        return shapes;
    }

    private static void AddAttention(Dictionary<string, int[]> shapes, string name, int width, int inner)
    {
        foreach (var proj in new[] { "q_proj", "k_proj", "v_proj" })
        {
            shapes[$"{name}.{proj}.weight"] = [inner, width];
            shapes[$"{name}.{proj}.bias"] = [inner];
        }
        shapes[name + ".out_proj.weight"] = [width, inner];
        shapes[name + ".out_proj.bias"] = [width];
    }

    private static void AddNorm(Dictionary<string, int[]> shapes, string name, int width)
    {
        shapes[name + ".weight"] = [width];
        shapes[name + ".bias"] = [width];
    }
}
