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
    /// projects inside textual/), otherwise t5{…}. Every number is read through <see cref="ConfigReader"/> with its bounds
    /// (and the divisibility the graphs rely on), so a bad config fails here, before anything is allocated or built, with
    /// one <see cref="ModelFileException"/> line naming the key: missing, mistyped, out of range or unsupported.
    /// </summary>
    public static PixelLlmConfig FromScenic(JsonElement c)
    {
        try
        {
            if (c.ValueKind != JsonValueKind.Object) throw new ModelFileException($"pixelllm config: expected a JSON object, got {c.ValueKind}");
            // Read in dependency order: the canvas bounds the patch sizes, the vocabulary bounds the token ids.
            int canvas = ConfigReader.Int(c, "canvas", 1, MaxCanvas);
            bool git = ConfigReader.String(c, "text_decoder_name", null) == "git";
            var (language, loraRank, loraScale, loraModules) = git
                ? (PixelLlmLanguageModel.OfGit(GitText(c)), 0, 1f, [])
                : T5Text(ConfigReader.Object(c, "t5"));
            int vocab = language.VocabSize;
            var gitBackbone = ConfigReader.Object(c, "git");
            var samBackbone = ConfigReader.Object(c, "sam");
            var eva = Eva(gitBackbone, canvas);
            var sam = Sam(samBackbone, canvas);
            int promptDim = ConfigReader.Int(ConfigReader.Object(c, "prompt_encoder"), "prompt_encoder.embed_dim", 1, ConfigReader.MaxWidth);
            return new PixelLlmConfig
            {
                Canvas = canvas,
                Eva = eva,
                Sam = sam,
                PromptEmbedDim = promptDim,
                Adapter = Adapter(ConfigReader.Object(c, "prompt_adapter")) with { DenseFuse = DenseFuse(c) },
                LanguageModel = language,
                LoraRank = loraRank,
                LoraScale = loraScale,
                LoraModules = loraModules,
                BoxDecoder = DenseCaptioning.BoxDecoderConfigJson.Read(c),
                PointHead = ConfigReader.OptionalObject(c, "point_predictor") is { } ph ? PointHead(ph) : null,
                BeginTokenId = TokenId(c, "begin_token_id", vocab, 0),
                EndTokenId = TokenId(c, "end_token_id", vocab, 1),
                PadTokenId = TokenId(c, "pad_token_id", vocab, 0),
                UnkTokenId = ConfigReader.OptionalInt(c, "unk_token_id", 0, vocab - 1),
                SpecialNonEosIds = ConfigReader.Ints(c, "special_non_eos_ids", 0, ConfigReader.MaxCount, 0, vocab - 1) ?? [],
                MaxCaptionLength = MaxCaptionLength(c, language),
                BoxPointsPerSide = ConfigReader.Int(c, "box_points_per_side", MinBoxPointsPerSide, MaxBoxPointsPerSide, 2),
                EvaTableGrid = TableGrid(gitBackbone, "git.pretrain_img_size", eva.PatchSize),
                SamTableGrid = TableGrid(samBackbone, "sam.img_size", sam.PatchSize),
                MaskBranch = MaskBranchConfigJson.FromScenic(c, canvas),
                FeatureKeys = FeatureKeys(c),
                PromptUseBoxes = PromptUseBoxes(c),
            };
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            // A safety net only: every key is read through ConfigReader, which names it.
            throw new ModelFileException($"pixelllm config: {e.Message}");
        }
    }

    /// <summary>Largest canvas side: 4× scenic's 384; beyond it one image's global attention would not fit any device.</summary>
    public const int MaxCanvas = 4096;
    /// <summary>Most patches per side of a backbone's grid (SAM's own table is 64; 384 / 14 = 27 on PixelLLM's canvas).</summary>
    public const int MaxGrid = 256;
    /// <summary>
    /// max_caption_length L: greedy and beam decoding write positions 1 … L − 2 of a [BOS, …, EOS] buffer, so L ≥ 3 generates
    /// at least one token (<see cref="Decoding.GreedyDecoder"/>); the cap is 32× scenic's 128.
    /// </summary>
    public const int MinCaptionLength = 3, MaxCaptionLengthCap = 4096;
    /// <summary>
    /// box_points_per_side P: the point prompt samples a P² grid over the box (P ≥ 1), or its two corners (P &lt; 1, as scenic's
    /// build_solid_grid); the bounds only catch typos.
    /// </summary>
    public const int MinBoxPointsPerSide = -64, MaxBoxPointsPerSide = 64;

    /// <summary>A special id: it indexes the embedding and the logits, so it must be one of the vocabulary's.</summary>
    private static int TokenId(JsonElement c, string path, int vocab, int fallback)
    {
        int id = ConfigReader.Int(c, path, int.MinValue, int.MaxValue, fallback);
        ConfigReader.Expect(id >= 0 && id < vocab, path, $"an id in [0, {vocab - 1}] (vocab_size {vocab})", id);
        return id;
    }

    /// <summary>The GIT decoder's caption buffer takes position-table rows from 0 (GitDecoderStep), so it must fit the table.</summary>
    private static int MaxCaptionLength(JsonElement c, PixelLlmLanguageModel language)
    {
        int max = language.Git is { } git ? Math.Min(MaxCaptionLengthCap, git.PositionTable) : MaxCaptionLengthCap;
        string why = language.Git is { } g && g.PositionTable < MaxCaptionLengthCap ? $" (git_text.position_table has {g.PositionTable} rows)" : "";
        if (max < MinCaptionLength)
            throw ConfigReader.Error($"git_text.position_table must be an integer in [{MinCaptionLength}, {ConfigReader.MaxWidth}] (it holds the caption buffer), got {max}");
        var length = ConfigReader.OptionalInt(c, "max_caption_length", MinCaptionLength, MaxCaptionLengthCap)
            ?? throw ConfigReader.Error($"missing key 'max_caption_length' ({ConfigReader.IntExpectation(MinCaptionLength, max)})");
        ConfigReader.Expect(length <= max, "max_caption_length", ConfigReader.IntExpectation(MinCaptionLength, max) + why, length);
        return length;
    }

    private static (PixelLlmLanguageModel, int LoraRank, float LoraScale, IReadOnlyList<string> LoraModules) T5Text(JsonElement t5)
    {
        int buckets = ConfigReader.Int(t5, "t5.relpos_num_buckets", 4, MaxRelativeBuckets, 32);
        int heads = ConfigReader.Int(t5, "t5.num_heads", 1, ConfigReader.MaxHeads), headDim = ConfigReader.Int(t5, "t5.head_dim", 1, ConfigReader.MaxWidth);
        ConfigReader.Expect((long)heads * headDim <= ConfigReader.MaxWidth, "t5.head_dim",
            $"at most {ConfigReader.MaxWidth / heads} (num_heads {heads} × head_dim is the attention width, at most {ConfigReader.MaxWidth})", headDim);
        var t5Config = new T5Config(
            VocabSize: ConfigReader.Int(t5, "t5.vocab_size", 1, ConfigReader.MaxVocab),
            DModel: ConfigReader.Int(t5, "t5.emb_dim", 1, ConfigReader.MaxWidth),
            DKv: headDim,
            DFf: ConfigReader.Int(t5, "t5.mlp_dim", 1, ConfigReader.MaxWidth),
            NumHeads: heads,
            NumLayers: ConfigReader.Int(t5, "t5.num_encoder_layers", 1, ConfigReader.MaxDepth),
            NumDecoderLayers: ConfigReader.Int(t5, "t5.num_decoder_layers", 1, ConfigReader.MaxDepth),
            RelativeBuckets: buckets,
            // T5's log-spaced buckets start after the exact ones (buckets / 2 in the decoder, / 4 in the encoder); a
            // max distance at or below them divides by log(≤ 1) (T5PositionBiasOp).
            RelativeMaxDistance: ConfigReader.Int(t5, "t5.relpos_max_distance", buckets / 2 + 1, MaxRelativeDistance, 128),
            Eps: 1e-6f, MaskBias: -1e10f, TieWordEmbeddings: false);
        return (PixelLlmLanguageModel.OfT5(t5Config),
            ConfigReader.Int(t5, "t5.lora_rank", 0, ConfigReader.MaxCount, 0),
            (float)ConfigReader.Number(t5, "t5.lora_scale", 0, 1e4, 1),
            LoraModules(t5));
    }

    /// <summary>T5 relative-position buckets (32 in every T5) and the distance they reach (128).</summary>
    private const int MaxRelativeBuckets = 1024, MaxRelativeDistance = 1 << 20;

    /// <summary>
    /// text_decoder_feature_key: '+'-joined git_visual_features / sam_visual_features (default both, EVA02 first). The
    /// box decoder reads the same fused map, so a different box_decoder_feature_key is refused.
    /// </summary>
    private static IReadOnlyList<VisualFeature> FeatureKeys(JsonElement c)
    {
        const string Both = "git_visual_features+sam_visual_features";
        var text = ConfigReader.String(c, "text_decoder_feature_key", Both)!;
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
        bool hasBoxDecoder = ConfigReader.OptionalObject(c, "box_decoder") is not null;
        if (hasBoxDecoder && ConfigReader.String(c, "box_decoder_feature_key", null) is { } box && box != text)
            throw new ModelFileException($"pixelllm config: box_decoder_feature_key '{box}' differs from text_decoder_feature_key '{text}' (not supported)");
        return keys;
    }

    /// <summary>prompt_fuse_fn: 'sparse' (default, every PixelLLM config) hands the LM the adapter's K output tokens, 'dense'
    /// its updated image map (scenic raises on anything else).</summary>
    private static bool DenseFuse(JsonElement c) => ConfigReader.String(c, "prompt_fuse_fn", null) switch
    {
        null or "sparse" => false,
        "dense" => true,
        var other => throw new ModelFileException($"pixelllm config: prompt_fuse_fn '{other}' is not a prompt fuse function (expected \"sparse\" or \"dense\")"),
    };

    /// <summary>
    /// prompt_use_box_rate: at inference scenic replaces a box's point tokens by its box tokens whenever the rate is above
    /// 0 (the rate only drops boxes at random in training) and never at 0. Absent: 1, every PixelLLM config's value.
    /// </summary>
    private static bool PromptUseBoxes(JsonElement c) => ConfigReader.Number(c, "prompt_use_box_rate", 0, 1, 1) > 0;

    /// <summary>t5.lora_modules: comma-separated of q, k, v, o (default "q,v", every PixelLLM config's), as scenic's projection names.</summary>
    private static IReadOnlyList<string> LoraModules(JsonElement t5)
    {
        var text = ConfigReader.String(t5, "t5.lora_modules", "q,v")!;
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
        if (ConfigReader.String(c, "visual_project_layers_name", null) is { } name && name != "none")
            throw new ModelFileException($"pixelllm config: visual_project_layers_name '{name}' with the git text decoder is not supported (expected \"none\")");
        var text = ConfigReader.Object(c, "git_text");
        int hidden = ConfigReader.Int(text, "git_text.hidden", 1, ConfigReader.MaxWidth);
        var config = new GitDecoderConfig(
            VocabSize: ConfigReader.Int(text, "git_text.vocab_size", 1, ConfigReader.MaxVocab),
            Hidden: hidden,
            NumHeads: Heads(text, "git_text.num_heads", hidden, "git_text.hidden"),
            NumLayers: ConfigReader.Int(text, "git_text.num_layers", 1, ConfigReader.MaxDepth),
            PositionTable: ConfigReader.Int(text, "git_text.position_table", 1, ConfigReader.MaxWidth, 1024));
        if (ConfigReader.OptionalInt(c, "vocab_size", int.MinValue, int.MaxValue) is { } top && top != config.VocabSize)
            throw new ModelFileException($"pixelllm config: vocab_size {top} differs from git_text.vocab_size {config.VocabSize}");
        try { config.Validate(); }
        catch (GraphBuildException e) { throw new ModelFileException($"pixelllm config: git_text: {e.Message}", e); }
        return config;
    }

    /// <summary>
    /// Attention heads splitting <paramref name="width"/> evenly (each head takes width / heads channels), optionally into
    /// head widths that are multiples of <paramref name="headMultiple"/>.
    /// </summary>
    internal static int Heads(JsonElement obj, string path, int width, string widthPath, int? fallback = null, int headMultiple = 1)
    {
        int heads = fallback is int f ? ConfigReader.Int(obj, path, 1, ConfigReader.MaxHeads, f) : ConfigReader.Int(obj, path, 1, ConfigReader.MaxHeads);
        bool ok = width % heads == 0 && width / heads % headMultiple == 0;
        ConfigReader.Expect(ok, path, headMultiple == 1 ? $"a divisor of {widthPath} {width}"
            : $"a divisor of {widthPath} {width} leaving head widths that are multiples of {headMultiple}", heads);
        return heads;
    }

    /// <summary>
    /// A backbone's patch size on the canvas: at least one patch a side, and at most <see cref="MaxGrid"/> (the global
    /// attention's tokens grow with the grid's square). The canvas need not be a multiple (384 / 14: the grid rounds down).
    /// </summary>
    private static int PatchSize(JsonElement backbone, string path, int canvas) =>
        ConfigReader.Int(backbone, path, Math.Max(1, (canvas + MaxGrid - 1) / MaxGrid), canvas);

    private static Eva02Config Eva(JsonElement git, int canvas)
    {
        // scenic's ViT has no ln_post parameters at all without it (every PixelLLM config sets it).
        bool lnPost = ConfigReader.Bool(git, "git.use_ln_post", true);
        int embed = ConfigReader.Int(git, "git.embed_dim", 1, ConfigReader.MaxWidth);
        // EVA02's 2-D RoPE rotates interleaved pairs on two axes, so every head is a multiple of 4 wide (Eva02Rope).
        int heads = Heads(git, "git.num_heads", embed, "git.embed_dim", headMultiple: 4);
        int depth = ConfigReader.Int(git, "git.depth", 1, ConfigReader.MaxDepth);
        int patch = PatchSize(git, "git.patch_size", canvas);
        double ratio = MlpRatio(git, "git.mlp_ratio", embed, 8.0 / 3.0);
        return Eva02Config.PixelLlm(embed, depth, heads, patch, ratio) with { FinalNorm = lnPost };
    }

    /// <summary>The MLP width is (int)(embed_dim · ratio), as timm and scenic truncate it: at least 1, at most MaxWidth.</summary>
    private static double MlpRatio(JsonElement backbone, string path, int embed, double fallback)
    {
        double ratio = ConfigReader.Number(backbone, path, 0, 64, fallback, minExclusive: true);
        double hidden = Math.Floor(embed * ratio);
        ConfigReader.Expect(hidden >= 1 && hidden <= ConfigReader.MaxWidth, path,
            $"a ratio making the MLP width int(embed_dim {embed} · ratio) 1 to {ConfigReader.MaxWidth}", ratio);
        return ratio;
    }

    /// <summary>scenic's sam_backbone arguments: window_block_indexes lists the WINDOWED blocks (the rest are global).</summary>
    private static SamImageEncoderConfig Sam(JsonElement sam, int canvas)
    {
        // 0 blocks is a valid (if useless) encoder: patch embedding and neck only (SamImageEncoderConfig.Validate).
        int depth = ConfigReader.Int(sam, "sam.depth", 0, ConfigReader.MaxDepth);
        int embed = ConfigReader.Int(sam, "sam.embed_dim", 1, ConfigReader.MaxWidth);
        int patch = PatchSize(sam, "sam.patch_size", canvas);
        var windowed = (ConfigReader.Ints(sam, "sam.window_block_indexes", 0, ConfigReader.MaxDepth, 0, Math.Max(depth - 1, 0))
            ?? throw ConfigReader.Error("missing key 'sam.window_block_indexes' (an array of block indexes)")).ToHashSet();
        return SamImageEncoderConfig.PixelLlmVitH with
        {
            EmbedDim = embed,
            Depth = depth,
            NumHeads = Heads(sam, "sam.num_heads", embed, "sam.embed_dim"),
            PatchSize = patch,
            OutChans = ConfigReader.Int(sam, "sam.out_chans", 1, ConfigReader.MaxWidth),
            // 0 makes every block global; a window wider than the grid is padded, so it is bounded like a grid.
            WindowSize = ConfigReader.Int(sam, "sam.window_size", 0, MaxGrid),
            MlpRatio = MlpRatio(sam, "sam.mlp_ratio", embed, 4.0),
            GlobalAttnIndexes = [.. Enumerable.Range(0, depth).Where(i => !windowed.Contains(i))],
            // img_size only shapes the stored tables (pos_embed, global rel-pos); scenic's default is SAM's 1024 (spec §3.4).
            PretrainImageSize = ConfigReader.Int(sam, "sam.img_size", patch, patch * MaxGrid, 1024),
        };
    }

    private static PromptAdapterConfig Adapter(JsonElement a)
    {
        var t = TwoWay(a, "prompt_adapter", "depth", "transformer_dim", "num_heads", "mlp_dim", "attention_downsample_rate", depthFallback: null);
        return new(
            Depth: t.Depth,
            TransformerDim: t.EmbeddingDim,
            InputEmbeddingDim: ConfigReader.Int(a, "prompt_adapter.input_embedding_dim", 1, ConfigReader.MaxWidth),
            NumOutputs: ConfigReader.Int(a, "prompt_adapter.num_outputs", 1, ConfigReader.MaxCount),
            OutputDim: ConfigReader.Int(a, "prompt_adapter.output_dim", 1, ConfigReader.MaxWidth),
            NumHeads: t.NumHeads,
            MlpDim: t.MlpDim,
            AttentionDownsampleRate: t.AttentionDownsampleRate);
    }

    /// <summary>
    /// A SAM two-way transformer's sizes under <paramref name="section"/> (prompt adapter, mask adapter, mask decoder). Its
    /// self attentions split the width into heads and its cross attentions width / rate (segment-anything asserts both).
    /// Absent optional keys take scenic's hard-coded 8 heads, MLP 2048 and rate 2 (and depth <paramref name="depthFallback"/>).
    /// </summary>
    internal static TwoWayTransformerConfig TwoWay(JsonElement obj, string section, string depthKey, string dimKey, string headsKey,
        string mlpKey, string rateKey, int? depthFallback)
    {
        string depthPath = $"{section}.{depthKey}";
        int depth = depthFallback is int d ? ConfigReader.Int(obj, depthPath, 1, ConfigReader.MaxDepth, d) : ConfigReader.Int(obj, depthPath, 1, ConfigReader.MaxDepth);
        int dim = ConfigReader.Int(obj, $"{section}.{dimKey}", 1, ConfigReader.MaxWidth);
        int heads = Heads(obj, $"{section}.{headsKey}", dim, $"{section}.{dimKey}", fallback: 8);
        int rate = ConfigReader.Int(obj, $"{section}.{rateKey}", 1, dim, 2);
        int cross = dim / rate;
        ConfigReader.Expect(cross % heads == 0, $"{section}.{rateKey}",
            $"a rate leaving the cross-attention width {section}.{dimKey} {dim} / rate divisible by {heads} heads", rate);
        int mlp = ConfigReader.Int(obj, $"{section}.{mlpKey}", 1, ConfigReader.MaxWidth, 2048);
        return new TwoWayTransformerConfig(depth, dim, heads, mlp, rate);
    }

    private static PointHeadConfig PointHead(JsonElement p)
    {
        var activation = ConfigReader.String(p, "point_predictor.mlp_activation", "relu");
        return new PointHeadConfig(
            // The last layer is the output projection, so there is at least one.
            Depth: ConfigReader.Int(p, "point_predictor.depth", 1, ConfigReader.MaxDepth),
            HiddenDim: ConfigReader.Int(p, "point_predictor.hidden_dim", 1, ConfigReader.MaxWidth),
            NumOutputPoints: ConfigReader.Int(p, "point_predictor.num_output_points", 1, ConfigReader.MaxCount, 4),
            // 0 classes leaves (x, y, background) per point.
            NumClasses: ConfigReader.Int(p, "point_predictor.num_classes", 0, ConfigReader.MaxCount, 1),
            PreNorm: ConfigReader.Bool(p, "point_predictor.pre_norm", false),
            Activation: activation switch
            {
                "gelu" => Runtime.Ops.UnaryKind.Gelu,
                "relu" => Runtime.Ops.UnaryKind.Relu,
                _ => throw new ModelFileException($"pixelllm config: point_predictor.mlp_activation '{activation}' is not supported"),
            });
    }

    /// <summary>The stored pos_embed grid: pretrain size / patch, 1 to <see cref="MaxGrid"/> patches a side.</summary>
    private static int? TableGrid(JsonElement backbone, string path, int patch) =>
        ConfigReader.OptionalInt(backbone, path, patch, patch * MaxGrid) is { } size ? size / patch : null;
}
