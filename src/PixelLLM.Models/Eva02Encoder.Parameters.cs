namespace PixelLLM.Models;

public static partial class Eva02Encoder
{
    /// <summary>
    /// Every parameter <see cref="Build"/> binds for <paramref name="cfg"/>, under timm's <c>Eva</c> names (the engine's
    /// names; a converter maps scenic's onto them), with the shapes timm stores: linear weights (out, in), the patch conv
    /// (C, channels, patch, patch), pos_embed (1, 1 + Ph·Pw, C) for the table grid <see cref="Eva02Config.PosEmbedGrid"/>
    /// (required here). EVA02 biases: q_proj and v_proj have one, k_proj none (timm's fused qkv: q_bias and v_bias); the
    /// MLP Linears and proj have one.
    /// In insertion order.
    /// </summary>
    /// <param name="imageChannels">Channels of the image the patch conv reads (3 for RGB).</param>
    public static IReadOnlyDictionary<string, int[]> ParameterShapes(Eva02Config cfg, int imageChannels = 3)
    {
        Validate(cfg);
        var grid = cfg.PosEmbedGrid
            ?? throw new ArgumentException("Eva02Encoder.ParameterShapes: set PosEmbedGrid (the stored pos_embed table's grid)", nameof(cfg));
        int c = cfg.EmbedDim, p = cfg.PatchSize, hidden = cfg.MlpHidden;
        var shapes = new Dictionary<string, int[]>(StringComparer.Ordinal);
        if (cfg.ClassToken) shapes["cls_token"] = [1, 1, c];
        if (cfg.RegisterTokens > 0) shapes["reg_token"] = [1, cfg.RegisterTokens, c];
        if (cfg.AbsPosEmbed) shapes["pos_embed"] = [1, (cfg.NoEmbedClass ? 0 : cfg.PrefixTokens) + grid[0] * grid[1], c];
        shapes["patch_embed.proj.weight"] = [c, imageChannels, p, p];
        if (!cfg.PreNorm) shapes["patch_embed.proj.bias"] = [c];
        else
        {
            shapes["norm_pre.weight"] = [c];
            shapes["norm_pre.bias"] = [c];
        }
        for (int i = 0; i < cfg.Depth; i++)
        {
            var b = $"blocks.{i}.";
            if (cfg.LayerScale)
            {
                shapes[b + "gamma_1"] = [c];
                shapes[b + "gamma_2"] = [c];
            }
            shapes[b + "norm1.weight"] = [c];
            shapes[b + "norm1.bias"] = [c];
            if (cfg.QkvFused)
            {
                shapes[b + "attn.qkv.weight"] = [3 * c, c];
                shapes[b + "attn.q_bias"] = [c];
                shapes[b + "attn.v_bias"] = [c];
            }
            else
            {
                shapes[b + "attn.q_proj.weight"] = [c, c];
                shapes[b + "attn.q_proj.bias"] = [c];
                shapes[b + "attn.k_proj.weight"] = [c, c];
                shapes[b + "attn.v_proj.weight"] = [c, c];
                shapes[b + "attn.v_proj.bias"] = [c];
            }
            if (cfg.ScaleAttnInner)
            {
                shapes[b + "attn.norm.weight"] = [c];
                shapes[b + "attn.norm.bias"] = [c];
            }
            shapes[b + "attn.proj.weight"] = [c, c];
            shapes[b + "attn.proj.bias"] = [c];
            shapes[b + "norm2.weight"] = [c];
            shapes[b + "norm2.bias"] = [c];
            switch (cfg.Mlp)
            {
                case Eva02Mlp.SwiGlu:
                    shapes[b + "mlp.fc1_g.weight"] = [hidden, c];
                    shapes[b + "mlp.fc1_g.bias"] = [hidden];
                    shapes[b + "mlp.fc1_x.weight"] = [hidden, c];
                    shapes[b + "mlp.fc1_x.bias"] = [hidden];
                    break;
                default: // the packed GluMlp holds both halves in one fc1; the GELU Mlp one hidden width
                    int rows = cfg.Mlp == Eva02Mlp.SwiGluPacked ? 2 * hidden : hidden;
                    shapes[b + "mlp.fc1.weight"] = [rows, c];
                    shapes[b + "mlp.fc1.bias"] = [rows];
                    break;
            }
            if (cfg.ScaleMlp)
            {
                shapes[b + "mlp.norm.weight"] = [hidden];
                shapes[b + "mlp.norm.bias"] = [hidden];
            }
            shapes[b + "mlp.fc2.weight"] = [c, hidden];
            shapes[b + "mlp.fc2.bias"] = [c];
        }
        if (cfg.FinalNorm)
        {
            shapes["norm.weight"] = [c];
            shapes["norm.bias"] = [c];
        }
        if (cfg.FcNorm)
        {
            shapes["fc_norm.weight"] = [c];
            shapes["fc_norm.bias"] = [c];
        }
        if (cfg.NumClasses > 0)
        {
            shapes["head.weight"] = [cfg.NumClasses, c];
            shapes["head.bias"] = [cfg.NumClasses];
        }
        return shapes;
    }
}
