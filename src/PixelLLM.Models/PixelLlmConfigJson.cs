using System.Text.Json;
using PixelLLM.Runtime;

namespace PixelLLM.Models;

/// <summary>Reads a <see cref="PixelLlmConfig"/> from scenic-style model config JSON (the golden case "config" object).</summary>
public static class PixelLlmConfigJson
{
    /// <summary>
    /// Keys: canvas, begin_token_id, end_token_id, max_caption_length, box_points_per_side, git{…}, sam{…},
    /// prompt_encoder.embed_dim, prompt_adapter{…}, t5{…}, point_predictor{…} (optional). Throws
    /// <see cref="ModelFileException"/> naming a missing or mistyped key.
    /// </summary>
    public static PixelLlmConfig FromScenic(JsonElement c)
    {
        try
        {
            var t5 = c.GetProperty("t5");
            var lora = Int(t5, "lora_rank", 0);
            return new PixelLlmConfig
            {
                Canvas = c.GetProperty("canvas").GetInt32(),
                Eva = Eva(c.GetProperty("git")),
                Sam = Sam(c.GetProperty("sam")),
                PromptEmbedDim = c.GetProperty("prompt_encoder").GetProperty("embed_dim").GetInt32(),
                Adapter = Adapter(c.GetProperty("prompt_adapter")),
                T5 = new T5Config(
                    VocabSize: t5.GetProperty("vocab_size").GetInt32(),
                    DModel: t5.GetProperty("emb_dim").GetInt32(),
                    DKv: t5.GetProperty("head_dim").GetInt32(),
                    DFf: t5.GetProperty("mlp_dim").GetInt32(),
                    NumHeads: t5.GetProperty("num_heads").GetInt32(),
                    NumLayers: t5.GetProperty("num_encoder_layers").GetInt32(),
                    NumDecoderLayers: t5.GetProperty("num_decoder_layers").GetInt32(),
                    RelativeBuckets: Int(t5, "relpos_num_buckets", 32),
                    RelativeMaxDistance: Int(t5, "relpos_max_distance", 128),
                    Eps: 1e-6f, MaskBias: -1e10f, TieWordEmbeddings: false),
                LoraRank = lora,
                LoraScale = t5.TryGetProperty("lora_scale", out var scale) ? scale.GetSingle() : 1f,
                BoxDecoder = DenseCaptioning.BoxDecoderConfigJson.Read(c),
                PointHead = c.TryGetProperty("point_predictor", out var ph) && ph.ValueKind == JsonValueKind.Object ? PointHead(ph) : null,
                BeginTokenId = Int(c, "begin_token_id", 0),
                EndTokenId = Int(c, "end_token_id", 1),
                MaxCaptionLength = c.GetProperty("max_caption_length").GetInt32(),
                BoxPointsPerSide = Int(c, "box_points_per_side", 2),
                EvaTableGrid = TableGrid(c.GetProperty("git"), "pretrain_img_size"),
                SamTableGrid = TableGrid(c.GetProperty("sam"), "img_size"),
            };
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new ModelFileException($"pixelllm config: {e.Message}");
        }
    }

    private static Eva02Config Eva(JsonElement git)
    {
        if (git.TryGetProperty("use_ln_post", out var ln) && !ln.GetBoolean())
            throw new ModelFileException("pixelllm config: git.use_ln_post = false is not supported");
        return Eva02Config.PixelLlm(
            git.GetProperty("embed_dim").GetInt32(), git.GetProperty("depth").GetInt32(),
            git.GetProperty("num_heads").GetInt32(), git.GetProperty("patch_size").GetInt32(),
            git.TryGetProperty("mlp_ratio", out var r) ? r.GetDouble() : 8.0 / 3.0);
    }

    /// <summary>scenic's sam_backbone arguments: window_block_indexes lists the WINDOWED blocks (the rest are global).</summary>
    private static SamImageEncoderConfig Sam(JsonElement sam)
    {
        int depth = sam.GetProperty("depth").GetInt32();
        var windowed = sam.GetProperty("window_block_indexes").EnumerateArray().Select(e => e.GetInt32()).ToHashSet();
        return SamImageEncoderConfig.PixelLlmVitH with
        {
            EmbedDim = sam.GetProperty("embed_dim").GetInt32(),
            Depth = depth,
            NumHeads = sam.GetProperty("num_heads").GetInt32(),
            PatchSize = sam.GetProperty("patch_size").GetInt32(),
            OutChans = sam.GetProperty("out_chans").GetInt32(),
            WindowSize = sam.GetProperty("window_size").GetInt32(),
            MlpRatio = sam.TryGetProperty("mlp_ratio", out var r) ? r.GetDouble() : 4.0,
            GlobalAttnIndexes = [.. Enumerable.Range(0, depth).Where(i => !windowed.Contains(i))],
        };
    }

    private static PromptAdapterConfig Adapter(JsonElement a) => new(
        Depth: a.GetProperty("depth").GetInt32(),
        TransformerDim: a.GetProperty("transformer_dim").GetInt32(),
        InputEmbeddingDim: a.GetProperty("input_embedding_dim").GetInt32(),
        NumOutputs: a.GetProperty("num_outputs").GetInt32(),
        OutputDim: a.GetProperty("output_dim").GetInt32(),
        NumHeads: Int(a, "num_heads", 8),
        MlpDim: Int(a, "mlp_dim", 2048),
        AttentionDownsampleRate: Int(a, "attention_downsample_rate", 2));

    private static PointHeadConfig PointHead(JsonElement p)
    {
        var activation = p.TryGetProperty("mlp_activation", out var act) ? act.GetString() : "relu";
        return new PointHeadConfig(
            Depth: p.GetProperty("depth").GetInt32(),
            HiddenDim: p.GetProperty("hidden_dim").GetInt32(),
            NumOutputPoints: Int(p, "num_output_points", 4),
            NumClasses: Int(p, "num_classes", 1),
            PreNorm: p.TryGetProperty("pre_norm", out var pre) && pre.GetBoolean(),
            Activation: activation switch
            {
                "gelu" => Runtime.Ops.UnaryKind.Gelu,
                "relu" => Runtime.Ops.UnaryKind.Relu,
                _ => throw new ModelFileException($"pixelllm config: point_predictor.mlp_activation '{activation}' is not supported"),
            });
    }

    private static int? TableGrid(JsonElement backbone, string sizeKey) =>
        backbone.TryGetProperty(sizeKey, out var size) && size.ValueKind == JsonValueKind.Number
            ? size.GetInt32() / backbone.GetProperty("patch_size").GetInt32() : null;

    private static int Int(JsonElement e, string name, int fallback) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;
}
