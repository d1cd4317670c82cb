namespace PixelLLM.Models.Checkpoints;

/// <summary>
/// Every parameter a scenic PixelLLM checkpoint (T5 or GIT variant) holds for a <see cref="PixelLlmConfig"/>, with its Flax shape —
/// the checklist a loader or converter validates a parameter dict against (<see cref="ScenicWeights.Validate"/>).
/// A shape entry of −1 means "not stated by the config" (e.g. the stored pos-embed grids when the config omits them).
/// </summary>
public static class ScenicParameterShapes
{
    public static IReadOnlyDictionary<string, int[]> For(PixelLlmConfig c)
    {
        var s = new Dictionary<string, int[]>(StringComparer.Ordinal);
        Eva(s, c);
        Sam(s, c);
        PromptEncoder(s, c.PromptEmbedDim);
        Adapter(s, c);
        int d = c.TextWidth;
        if (c.LanguageModel.Kind == LanguageModelKind.Git)
            foreach (var (path, shape) in ScenicGitNames.ScenicShapes(c.Git, c.Adapter.OutputDim)) s[path] = shape;
        else
        {
            s["visual_project_layers/visual_projection.0/kernel"] = [c.Adapter.OutputDim, d];
            s["visual_project_layers/visual_projection.0/bias"] = [d];
            Norm(s, "visual_project_layers/visual_projection.1", d);
            T5(s, c);
        }
        if (c.PointHead is { } head) PointHead(s, head, d);
        if (c.MaskBranch is { } mask)
            ScenicMaskShapes.Add(s, mask, d, c.LanguageModel.Kind == LanguageModelKind.Git ? c.Adapter.OutputDim : d);
        if (c.BoxDecoder is { } box) ScenicBoxDecoderShapes.Add(s, box, c.FusedChannels);
        return s;
    }

    private static void Eva(Dictionary<string, int[]> s, PixelLlmConfig c)
    {
        const string r = "git_backbone/";
        int dim = c.Eva.EmbedDim, hidden = c.Eva.MlpHidden, p = c.Eva.PatchSize;
        s[r + "patch_embed.proj/kernel"] = [p, p, 3, dim];
        s[r + "patch_embed.proj/bias"] = [dim];
        s[r + "cls_token"] = [1, 1, dim];
        s[r + "pos_embed"] = [1, c.EvaTableGrid is int t ? 1 + t * t : -1, dim];
        for (int i = 0; i < c.Eva.Depth; i++)
        {
            var b = $"{r}blocks.{i}/";
            Norm(s, b + "norm1", dim);
            Norm(s, b + "norm2", dim);
            foreach (var proj in new[] { "q_proj", "k_proj", "v_proj" }) s[$"{b}attn/{proj}/kernel"] = [dim, dim];
            s[b + "attn/q_bias"] = [dim];
            s[b + "attn/v_bias"] = [dim];
            Dense(s, b + "attn/proj", dim, dim);
            Dense(s, b + "mlp/w1", dim, hidden);
            Dense(s, b + "mlp/w2", dim, hidden);
            Norm(s, b + "mlp/ffn_ln", hidden);
            Dense(s, b + "mlp/w3", hidden, dim);
        }
        if (c.Eva.FinalNorm) Norm(s, r + "ln_post", dim);
    }

    private static void Sam(Dictionary<string, int[]> s, PixelLlmConfig c)
    {
        const string r = "sam_backbone/";
        var sam = c.Sam;
        int dim = sam.EmbedDim, p = sam.PatchSize, table = c.SamTableGrid ?? -1;
        s[r + "patch_embed.proj/kernel"] = [p, p, 3, dim];
        s[r + "patch_embed.proj/bias"] = [dim];
        s[r + "pos_embed"] = [1, table, table, dim];
        for (int i = 0; i < sam.Depth; i++)
        {
            var b = $"{r}blocks.{i}/";
            Norm(s, b + "norm1", dim);
            Norm(s, b + "norm2", dim);
            Dense(s, b + "attn/qkv", dim, 3 * dim);
            Dense(s, b + "attn/proj", dim, dim);
            int span = sam.IsWindowed(i) ? sam.WindowSize : table;
            int rows = span > 0 ? 2 * span - 1 : -1;
            s[b + "attn/rel_pos_h"] = [rows, sam.HeadDim];
            s[b + "attn/rel_pos_w"] = [rows, sam.HeadDim];
            Dense(s, b + "mlp/lin1", dim, sam.MlpDim);
            Dense(s, b + "mlp/lin2", sam.MlpDim, dim);
        }
        s[r + "neck/0/kernel"] = [1, 1, dim, sam.OutChans];
        Norm(s, r + "neck/1", sam.OutChans);
        s[r + "neck/2/kernel"] = [3, 3, sam.OutChans, sam.OutChans];
        Norm(s, r + "neck/3", sam.OutChans);
    }

    private static void PromptEncoder(Dictionary<string, int[]> s, int e)
    {
        const string r = "prompt_encoder/";
        s[r + "pe_layer/positional_encoding_gaussian_matrix"] = [2, e / 2];
        for (int i = 0; i < 4; i++) s[$"{r}point_embeddings.{i}.weight"] = [1, e];
        s[r + "not_a_point_embed.weight"] = [1, e];
        s[r + "no_mask_embed.weight"] = [1, e];
    }

    private static void Adapter(Dictionary<string, int[]> s, PixelLlmConfig c)
    {
        const string r = "prompt_adapter/";
        var a = c.Adapter;
        int d = a.TransformerDim, cross = a.Transformer.CrossAttentionDim;
        s[r + "output_tokens.weight"] = [a.NumOutputs, d];
        if (a.InputEmbeddingDim != d)
        {
            Dense(s, r + "prompt_embedding_projection_mlp/layers.0", a.InputEmbeddingDim, d);
            Dense(s, r + "image_pe_projection_mlp/layers.0", a.InputEmbeddingDim, d);
        }
        Dense(s, r + "image_projection_mlp/layers.0", c.FusedChannels, d);
        for (int i = 0; i < a.NumOutputs; i++) Dense(s, $"{r}output_hypernetworks_mlps.{i}/layers.0", d, a.OutputDim);
        Dense(s, r + "dense_output_mlp/layers.0", d, a.OutputDim);
        var t = r + "transformer/";
        for (int i = 0; i < a.Depth; i++)
        {
            var l = $"{t}layers.{i}/";
            Attention(s, l + "self_attn", d, d);
            Attention(s, l + "cross_attn_token_to_image", d, cross);
            Attention(s, l + "cross_attn_image_to_token", d, cross);
            Dense(s, l + "mlp/lin1", d, a.MlpDim);
            Dense(s, l + "mlp/lin2", a.MlpDim, d);
            for (int n = 1; n <= 4; n++) Norm(s, $"{l}norm{n}", d);
        }
        Attention(s, t + "final_attn_token_to_image", d, cross);
        Norm(s, t + "norm_final_attn", d);
    }

    private static void T5(Dictionary<string, int[]> s, PixelLlmConfig c)
    {
        const string r = "textual/t5_module/";
        var t = c.T5;
        int d = t.DModel, inner = t.Inner;
        s[r + "token_embedder/embedding"] = [t.VocabSize, d];
        foreach (var (stack, layers) in new[] { ("encoder", t.NumLayers), ("decoder", t.NumDecoderLayers) })
        {
            s[$"{r}{stack}/relpos_bias/rel_embedding"] = [t.NumHeads, t.RelativeBuckets];
            bool decoder = stack == "decoder";
            for (int i = 0; i < layers; i++)
            {
                var l = $"{r}{stack}/layers_{i}/";
                foreach (var (norm, attention) in decoder
                    ? new[] { ("pre_self_attention_layer_norm", "self_attention"), ("pre_cross_attention_layer_norm", "encoder_decoder_attention") }
                    : [("pre_attention_layer_norm", "attention")])
                {
                    s[l + norm + "/scale"] = [d];
                    foreach (var (proj, input, output) in new[] { ("query", d, inner), ("key", d, inner), ("value", d, inner), ("out", inner, d) })
                    {
                        s[$"{l}{attention}/{proj}/kernel"] = [input, output];
                        if (c.LoraRank > 0 && c.LoraModules.Contains(proj))
                        {
                            s[$"{l}{attention}/{proj}/kernel_left_lora"] = [input, c.LoraRank];
                            s[$"{l}{attention}/{proj}/kernel_right_lora"] = [c.LoraRank, output];
                        }
                    }
                }
                s[l + "pre_mlp_layer_norm/scale"] = [d];
                s[l + "mlp/wi_0/kernel"] = [d, t.DFf];
                s[l + "mlp/wi_1/kernel"] = [d, t.DFf];
                s[l + "mlp/wo/kernel"] = [t.DFf, d];
            }
        }
        s[r + "encoder/encoder_norm/scale"] = [d];
        s[r + "decoder/decoder_norm/scale"] = [d];
        s[r + "decoder/logits_dense/kernel"] = [d, t.VocabSize];
    }

    private static void PointHead(Dictionary<string, int[]> s, PointHeadConfig h, int d)
    {
        const string r = "point_predictor/";
        if (h.PreNorm) Norm(s, r + "LayerNorm_0", d);
        for (int i = 0; i < h.Depth; i++)
            Dense(s, $"{r}mlp/layers.{i}", i == 0 ? d : h.HiddenDim, i == h.Depth - 1 ? h.OutputDim : h.HiddenDim);
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
