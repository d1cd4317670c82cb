namespace PixelLLM.Models.Checkpoints;

/// <summary>
/// The scenic parameters (Flax names and shapes) of the referring-segmentation branch, added to
/// <see cref="ScenicParameterShapes.For"/> when the config has one. The hypernetwork MLPs are C → hidden → hidden → C/8 with
/// hidden = iou_head_hidden_dim (errata D1: scenic's width, PyTorch SAM uses C); the adapter MLPs have one layer (errata D3).
/// </summary>
internal static class ScenicMaskShapes
{
    /// <param name="textWidth">Width of the text states (T5 d_model, BERT/GIT hidden).</param>
    /// <param name="visualWidth">
    /// Width of the visual tokens (spec §7.3 D_vis): T5's d_model after <c>visual_project_layers</c>, but the prompt
    /// adapter's output for BERT/GIT, which project inside the text decoder (1024, not the 768 hidden).
    /// </param>
    public static void Add(Dictionary<string, int[]> s, MaskBranchConfig m, int textWidth, int visualWidth)
    {
        var a = m.Adapter;
        const string r = "mask_adapter/";
        s[r + "output_tokens.weight"] = [a.NumOutputs, a.TransformerDim];
        if (a.Gating) s[r + "alpha_output.weight"] = [a.NumOutputs, a.OutputDim];
        if (a.InputProjection)
            foreach (var (mlp, width) in new[] { ("visual_projection_mlp", visualWidth), ("textual_projection_mlp", textWidth) })
            {
                Norm(s, $"{r}{mlp}/LayerNorm_0", width);
                Dense(s, $"{r}{mlp}/layers.0", width, a.TransformerDim);
            }
        Transformer(s, r + "transformer/", a.Transformer);

        var d = m.Decoder;
        const string q = "mask_decoder/";
        int c = d.TransformerDim, tokens = d.NumMaskTokens, hidden = d.IouHeadHiddenDim;
        s[q + "iou_token.weight"] = [1, c];
        s[q + "mask_tokens.weight"] = [tokens, c];
        Transformer(s, q + "transformer/", d.Transformer);
        s[q + "output_upscaling/0/kernel"] = [2, 2, c / 4, c];
        s[q + "output_upscaling/0/bias"] = [c / 4];
        Norm(s, q + "output_upscaling/1", c / 4);
        s[q + "output_upscaling/3/kernel"] = [2, 2, c / 8, c / 4];
        s[q + "output_upscaling/3/bias"] = [c / 8];
        for (int i = 0; i < tokens; i++) Mlp(s, $"{q}output_hypernetworks_mlps.{i}", c, hidden, c / 8, d.HypernetworkDepth);
        Mlp(s, q + "iou_prediction_head", c, hidden, tokens, d.IouHeadDepth);
    }

    private static void Transformer(Dictionary<string, int[]> s, string t, TwoWayTransformerConfig cfg)
    {
        int dim = cfg.EmbeddingDim, cross = cfg.CrossAttentionDim;
        for (int i = 0; i < cfg.Depth; i++)
        {
            var l = $"{t}layers.{i}/";
            Attention(s, l + "self_attn", dim, dim);
            Attention(s, l + "cross_attn_token_to_image", dim, cross);
            Attention(s, l + "cross_attn_image_to_token", dim, cross);
            Dense(s, l + "mlp/lin1", dim, cfg.MlpDim);
            Dense(s, l + "mlp/lin2", cfg.MlpDim, dim);
            for (int n = 1; n <= 4; n++) Norm(s, $"{l}norm{n}", dim);
        }
        Attention(s, t + "final_attn_token_to_image", dim, cross);
        Norm(s, t + "norm_final_attn", dim);
    }

    private static void Mlp(Dictionary<string, int[]> s, string prefix, int input, int hidden, int output, int layers)
    {
        for (int i = 0; i < layers; i++) Dense(s, $"{prefix}/layers.{i}", i == 0 ? input : hidden, i == layers - 1 ? output : hidden);
    }

    private static void Attention(Dictionary<string, int[]> s, string prefix, int dim, int inner)
    {
        foreach (var proj in new[] { "q_proj", "k_proj", "v_proj" }) Dense(s, $"{prefix}/{proj}", dim, inner);
        Dense(s, prefix + "/out_proj", inner, dim);
    }

    private static void Dense(Dictionary<string, int[]> s, string prefix, int fanIn, int fanOut)
    {
        s[prefix + "/kernel"] = [fanIn, fanOut];
        s[prefix + "/bias"] = [fanOut];
    }

    private static void Norm(Dictionary<string, int[]> s, string prefix, int width)
    {
        s[prefix + "/scale"] = [width];
        s[prefix + "/bias"] = [width];
    }
}
