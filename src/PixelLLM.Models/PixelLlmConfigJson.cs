using System.Text.Json;
using PixelLLM.Runtime;

namespace PixelLLM.Models;

/// <summary>Reads a <see cref="PixelLlmConfig"/> from scenic-style model config JSON (the golden case "config" object).</summary>
public static class PixelLlmConfigJson
{
    /// <summary>
    /// Keys: canvas, begin_token_id, end_token_id, pad_token_id, unk_token_id, special_non_eos_ids, max_caption_length,
    /// box_points_per_side, git{…}, sam{…}, prompt_encoder.embed_dim, prompt_adapter{…}, point_predictor{…} (optional), and
    /// the language model: text_decoder_name "git" with git_text{…} (visual_project_layers_name must be "none": GIT
    /// projects inside textual/), otherwise t5{…}. Throws <see cref="ModelFileException"/> naming a missing or mistyped key.
    /// </summary>
    public static PixelLlmConfig FromScenic(JsonElement c)
    {
        try
        {
            if (c.ValueKind != JsonValueKind.Object) throw new ModelFileException($"pixelllm config: expected a JSON object, got {c.ValueKind}");
            bool git = c.TryGetProperty("text_decoder_name", out var decoderName) && decoderName.GetString() == "git";
            var (language, loraRank, loraScale, loraModules) = git
                ? (PixelLlmLanguageModel.OfGit(GitText(c)), 0, 1f, [])
                : T5Text(Required(c, "t5", ""));
            return new PixelLlmConfig
            {
                Canvas = c.GetProperty("canvas").GetInt32(),
                Eva = Eva(c.GetProperty("git")),
                Sam = Sam(c.GetProperty("sam")),
                PromptEmbedDim = c.GetProperty("prompt_encoder").GetProperty("embed_dim").GetInt32(),
                Adapter = Adapter(c.GetProperty("prompt_adapter")),
                LanguageModel = language,
                LoraRank = loraRank,
                LoraScale = loraScale,
                LoraModules = loraModules,
                BoxDecoder = DenseCaptioning.BoxDecoderConfigJson.Read(c),
                PointHead = c.TryGetProperty("point_predictor", out var ph) && ph.ValueKind == JsonValueKind.Object ? PointHead(ph) : null,
                BeginTokenId = Int(c, "begin_token_id", 0),
                EndTokenId = Int(c, "end_token_id", 1),
                PadTokenId = Int(c, "pad_token_id", 0),
                UnkTokenId = c.TryGetProperty("unk_token_id", out var unk) && unk.ValueKind == JsonValueKind.Number ? unk.GetInt32() : null,
                SpecialNonEosIds = c.TryGetProperty("special_non_eos_ids", out var special) && special.ValueKind == JsonValueKind.Array
                    ? [.. special.EnumerateArray().Select(e => e.GetInt32())] : [],
                MaxCaptionLength = c.GetProperty("max_caption_length").GetInt32(),
                BoxPointsPerSide = Int(c, "box_points_per_side", 2),
                EvaTableGrid = TableGrid(c.GetProperty("git"), "pretrain_img_size"),
                SamTableGrid = TableGrid(c.GetProperty("sam"), "img_size"),
                MaskBranch = MaskBranchConfigJson.FromScenic(c, c.GetProperty("canvas").GetInt32()),
                FeatureKeys = FeatureKeys(c),
                PromptUseBoxes = PromptUseBoxes(c),
            };
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new ModelFileException($"pixelllm config: {e.Message}");
        }
    }

    private static (PixelLlmLanguageModel, int LoraRank, float LoraScale, IReadOnlyList<string> LoraModules) T5Text(JsonElement t5) => (PixelLlmLanguageModel.OfT5(new T5Config(
            VocabSize: t5.GetProperty("vocab_size").GetInt32(),
            DModel: t5.GetProperty("emb_dim").GetInt32(),
            DKv: t5.GetProperty("head_dim").GetInt32(),
            DFf: t5.GetProperty("mlp_dim").GetInt32(),
            NumHeads: t5.GetProperty("num_heads").GetInt32(),
            NumLayers: t5.GetProperty("num_encoder_layers").GetInt32(),
            NumDecoderLayers: t5.GetProperty("num_decoder_layers").GetInt32(),
            RelativeBuckets: Int(t5, "relpos_num_buckets", 32),
            RelativeMaxDistance: Int(t5, "relpos_max_distance", 128),
            Eps: 1e-6f, MaskBias: -1e10f, TieWordEmbeddings: false)),
        Int(t5, "lora_rank", 0),
        t5.TryGetProperty("lora_scale", out var scale) ? scale.GetSingle() : 1f,
        LoraModules(t5));

    /// <summary>
    /// text_decoder_feature_key: '+'-joined git_visual_features / sam_visual_features (default both, EVA02 first). The
    /// box decoder reads the same fused map, so a different box_decoder_feature_key is refused, and so is a prompt_fuse_fn
    /// other than sparse (the dense path is not built).
    /// </summary>
    private static IReadOnlyList<VisualFeature> FeatureKeys(JsonElement c)
    {
        const string Both = "git_visual_features+sam_visual_features";
        var text = c.TryGetProperty("text_decoder_feature_key", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString()! : Both;
        var keys = new List<VisualFeature>();
        foreach (var part in text.Split('+'))
        {
            var key = part switch
            {
                "git_visual_features" => VisualFeature.Eva,
                "sam_visual_features" => VisualFeature.Sam,
                _ => throw new ModelFileException($"pixelllm config: text_decoder_feature_key '{text}': '{part}' is not git_visual_features or sam_visual_features"),
            };
            if (keys.Contains(key)) throw new ModelFileException($"pixelllm config: text_decoder_feature_key '{text}' names '{part}' twice");
            keys.Add(key);
        }
        bool hasBoxDecoder = c.TryGetProperty("box_decoder", out var decoder) && decoder.ValueKind == JsonValueKind.Object;
        if (hasBoxDecoder && c.TryGetProperty("box_decoder_feature_key", out var box) && box.ValueKind == JsonValueKind.String && box.GetString() != text)
            throw new ModelFileException($"pixelllm config: box_decoder_feature_key '{box.GetString()}' differs from text_decoder_feature_key '{text}' (not supported)");
        if (c.TryGetProperty("prompt_fuse_fn", out var fuse) && fuse.ValueKind == JsonValueKind.String && fuse.GetString() != "sparse")
            throw new ModelFileException($"pixelllm config: prompt_fuse_fn '{fuse.GetString()}' is not supported (expected \"sparse\")");
        return keys;
    }

    /// <summary>
    /// prompt_use_box_rate: at inference scenic replaces a box's point tokens by its box tokens whenever the rate is above
    /// 0 (the rate only drops boxes at random in training) and never at 0. Absent: 1, every PixelLLM config's value.
    /// </summary>
    private static bool PromptUseBoxes(JsonElement c)
    {
        if (!c.TryGetProperty("prompt_use_box_rate", out var rate) || rate.ValueKind != JsonValueKind.Number) return true;
        double value = rate.GetDouble();
        if (!(value >= 0 && value <= 1)) throw new ModelFileException($"pixelllm config: prompt_use_box_rate must be in [0, 1], got {value}");
        return value > 0;
    }

    /// <summary>t5.lora_modules: comma-separated of q, k, v, o (default "q,v", every PixelLLM config's), as scenic's projection names.</summary>
    private static IReadOnlyList<string> LoraModules(JsonElement t5)
    {
        var text = t5.TryGetProperty("lora_modules", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "q,v";
        var modules = new List<string>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var name = part switch
            {
                "q" => "query",
                "k" => "key",
                "v" => "value",
                "o" => "out",
                _ => throw new ModelFileException($"pixelllm config: t5.lora_modules '{text}': '{part}' is not one of q, k, v, o"),
            };
            if (!modules.Contains(name)) modules.Add(name);
        }
        return modules;
    }

    /// <summary>git_text{vocab_size, hidden, num_heads, num_layers, position_table (default 1024)}; scenic's eps constants.</summary>
    private static GitDecoderConfig GitText(JsonElement c)
    {
        if (c.TryGetProperty("visual_project_layers_name", out var projection) && projection.GetString() is { } name && name != "none")
            throw new ModelFileException($"pixelllm config: visual_project_layers_name '{name}' with the git text decoder is not supported (expected \"none\")");
        var text = Required(c, "git_text", "");
        var config = new GitDecoderConfig(
            VocabSize: Required(text, "vocab_size", "git_text.").GetInt32(),
            Hidden: Required(text, "hidden", "git_text.").GetInt32(),
            NumHeads: Required(text, "num_heads", "git_text.").GetInt32(),
            NumLayers: Required(text, "num_layers", "git_text.").GetInt32(),
            PositionTable: Int(text, "position_table", 1024));
        if (c.TryGetProperty("vocab_size", out var top) && top.ValueKind == JsonValueKind.Number && top.GetInt32() != config.VocabSize)
            throw new ModelFileException($"pixelllm config: vocab_size {top.GetInt32()} differs from git_text.vocab_size {config.VocabSize}");
        try { config.Validate(); }
        catch (GraphBuildException e) { throw new ModelFileException($"pixelllm config: git_text: {e.Message}", e); }
        return config;
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
        // Checked here, not only in SamImageEncoderConfig.Validate: the global block list below is built from it first.
        if (depth < 0) throw new ModelFileException($"pixelllm config: sam.depth must be 0 or more, got {depth}");
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
            // img_size only shapes the stored tables (pos_embed, global rel-pos); scenic's default is SAM's 1024 (spec §3.4).
            PretrainImageSize = Int(sam, "img_size", 1024),
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

    private static JsonElement Required(JsonElement e, string name, string path) =>
        e.TryGetProperty(name, out var v) ? v : throw new ModelFileException($"pixelllm config: missing key '{path}{name}'");

    private static int Int(JsonElement e, string name, int fallback) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;
}
