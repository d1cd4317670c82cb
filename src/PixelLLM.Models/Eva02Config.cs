namespace PixelLLM.Models;

/// <summary>How <see cref="Eva02Encoder"/> pools the token features for the head.</summary>
public enum Eva02Pool
{
    /// <summary>No pooled output (PixelLLM uses the patch tokens).</summary>
    None,
    /// <summary>Mean over the patch tokens, cls excluded (timm global_pool 'avg').</summary>
    Avg,
    /// <summary>The cls token (timm global_pool 'token').</summary>
    Token,
    /// <summary>Maximum over the patch tokens, cls excluded (timm global_pool 'max').</summary>
    Max,
    /// <summary>Half the sum of the maximum and the mean over the patch tokens (timm global_pool 'avgmax').</summary>
    AvgMax,
}

/// <summary>The MLP of an <see cref="Eva02Block"/>, as timm's <c>EvaBlock</c> chooses it.</summary>
public enum Eva02Mlp
{
    /// <summary>SwiGLU with separate fc1_g / fc1_x (timm swiglu_mlp with scale_mlp; EVA02, scenic).</summary>
    SwiGlu,
    /// <summary>SwiGLU with one packed fc1, gate first (timm swiglu_mlp without scale_mlp: GluMlp, gate_last=False).</summary>
    SwiGluPacked,
    /// <summary>fc1 → exact GELU → [norm] → fc2 (timm swiglu_mlp=False: Mlp).</summary>
    Gelu,
}

/// <summary>
/// EVA02 vision transformer configuration. Covers timm's <c>Eva</c> with the EVA02 options (separate q/k/v projections,
/// k without bias, SwiGLU MLP with sub-LayerNorm, 2-D RoPE, absolute pos-embed incl. cls) and scenic's PixelLLM
/// <c>git_backbone</c> (spec §3.3): see <see cref="Timm"/> and <see cref="PixelLlm"/>.
/// </summary>
public sealed record Eva02Config
{
    public required int EmbedDim { get; init; }
    public required int Depth { get; init; }
    public required int NumHeads { get; init; }
    public required int PatchSize { get; init; }
    /// <summary>SwiGLU hidden width = (int)(EmbedDim · MlpRatio), as timm and scenic truncate it.</summary>
    public double MlpRatio { get; init; } = 8.0 / 3.0;

    /// <summary>Eps of norm1, norm2, attn.norm, the final norm and fc_norm.</summary>
    public float NormEps { get; init; } = 1e-6f;
    /// <summary>The MLP's form: split or packed SwiGLU, or a GELU MLP.</summary>
    public Eva02Mlp Mlp { get; init; } = Eva02Mlp.SwiGlu;
    /// <summary>LayerNorm mlp.norm on the MLP's hidden width before fc2 (timm scale_mlp; scenic ffn_ln).</summary>
    public bool ScaleMlp { get; init; } = true;
    /// <summary>q, k, v as one attn.qkv weight with attn.q_bias / attn.v_bias (timm qkv_fused) instead of q/k/v_proj.</summary>
    public bool QkvFused { get; init; }
    /// <summary>Eps of the SwiGLU sub-LayerNorm mlp.norm (timm 1e-6, PixelLLM's ffn_ln 1e-5).</summary>
    public float MlpNormEps { get; init; } = 1e-6f;
    /// <summary>LayerNorm on the attention output before proj (timm scale_attn_inner, weights attn.norm).</summary>
    public bool ScaleAttnInner { get; init; }

    /// <summary>Apply 2-D RoPE to q and k of the patch tokens.</summary>
    public bool UseRope { get; init; } = true;
    /// <summary>
    /// timm ref_feat_shape (rows, cols): RoPE positions are i / grid · reference. Null means reference = grid, i.e. the
    /// integer positions scenic uses (computed as i / S · S in float32, spec §3.3 and errata B8).
    /// </summary>
    public int[]? RopeReferenceGrid { get; init; }
    public float RopeTemperature { get; init; } = 10000f;

    /// <summary>
    /// Grid (rows, cols) of the learned pos_embed table's patch part. Null: the table's own grid when it already has
    /// one row per patch, otherwise the square root of its patch rows. A table whose grid differs from the image's is
    /// resized with jax.image.resize bicubic (spec §3.3 step 3, §12.1); the cls row is used as is.
    /// </summary>
    public int[]? PosEmbedGrid { get; init; }

    /// <summary>
    /// timm init_values (LayerScale): each block multiplies its attention and MLP outputs by the learned per-channel
    /// gamma_1 / gamma_2 before adding them to the stream.
    /// </summary>
    public bool LayerScale { get; init; }
    /// <summary>timm use_post_norm (<c>EvaBlockPostNorm</c>): x += norm1(attn(x)); x += norm2(mlp(x)); no LayerScale.</summary>
    public bool PostNorm { get; init; }
    /// <summary>
    /// A learned pos_embed is added (timm use_abs_pos_emb). Off, tokens carry only RoPE positions and there is no table.
    /// </summary>
    public bool AbsPosEmbed { get; init; } = true;
    /// <summary>A learned cls token leads the sequence (timm class_token).</summary>
    public bool ClassToken { get; init; } = true;
    /// <summary>Learned register tokens after cls (timm num_reg_tokens, weights reg_token (1, R, C)).</summary>
    public int RegisterTokens { get; init; }
    /// <summary>Tokens before the patches (cls and registers): RoPE skips them and the pools other than 'token' exclude them.</summary>
    public int PrefixTokens => (ClassToken ? 1 : 0) + RegisterTokens;
    /// <summary>timm no_embed_class: pos_embed holds only the patch positions; the prefix tokens get none.</summary>
    public bool NoEmbedClass { get; init; }
    /// <summary>timm use_pre_transformer_norm: LayerNorm norm_pre after the positions, and a patch conv without bias.</summary>
    public bool PreNorm { get; init; }

    /// <summary>LayerNorm 'norm' over all tokens at the end of forward_features (timm: pool ≠ avg; PixelLLM ln_post).</summary>
    public bool FinalNorm { get; init; }
    public Eva02Pool Pool { get; init; } = Eva02Pool.Avg;
    /// <summary>LayerNorm 'fc_norm' on the pooled vector, or on every token without pooling (timm: pool = avg).</summary>
    public bool FcNorm { get; init; }
    /// <summary>Classifier width of the 'head' Linear; 0 = no head.</summary>
    public int NumClasses { get; init; }

    public int HeadDim => EmbedDim / NumHeads;
    public int MlpHidden => (int)(EmbedDim * MlpRatio);

    /// <summary>
    /// timm <c>Eva</c> semantics for a global_pool ('avg', 'token', 'max', 'avgmax' or ''), as in the golden references.
    /// <paramref name="fcNorm"/> and <paramref name="finalNorm"/> are timm's use_fc_norm and use_post_transformer_norm
    /// (null: timm's defaults, fc_norm for 'avg' and the final norm otherwise).
    /// </summary>
    public static Eva02Config Timm(int embedDim, int depth, int numHeads, int patchSize, double mlpRatio, string globalPool,
        int numClasses, bool scaleAttnInner, int[]? ropeReferenceGrid, bool useRope = true, bool scaleMlp = true, bool swiGluMlp = true,
        bool qkvFused = false, bool layerScale = false, bool postNorm = false, bool absPosEmbed = true, bool noEmbedClass = false,
        bool preNorm = false, bool? fcNorm = null, bool? finalNorm = null, float ropeTemperature = 10000f, bool classToken = true,
        int registerTokens = 0)
    {
        var pool = globalPool switch
        {
            "avg" => Eva02Pool.Avg,
            "token" => Eva02Pool.Token,
            "max" => Eva02Pool.Max,
            "avgmax" => Eva02Pool.AvgMax,
            "" => Eva02Pool.None,
            _ => throw new ArgumentException($"Eva02Config: unsupported timm global_pool '{globalPool}'", nameof(globalPool)),
        };
        return new Eva02Config
        {
            EmbedDim = embedDim, Depth = depth, NumHeads = numHeads, PatchSize = patchSize, MlpRatio = mlpRatio,
            NormEps = 1e-6f, MlpNormEps = 1e-6f, ScaleAttnInner = scaleAttnInner, ScaleMlp = scaleMlp,
            // timm's EvaBlock: SwiGLU with a norm has split fc1_g/fc1_x, without one the packed GluMlp.
            Mlp = !swiGluMlp ? Eva02Mlp.Gelu : scaleMlp ? Eva02Mlp.SwiGlu : Eva02Mlp.SwiGluPacked, QkvFused = qkvFused,
            UseRope = useRope, RopeReferenceGrid = ropeReferenceGrid, RopeTemperature = ropeTemperature,
            LayerScale = layerScale && !postNorm, PostNorm = postNorm, AbsPosEmbed = absPosEmbed, NoEmbedClass = noEmbedClass, PreNorm = preNorm,
            ClassToken = classToken, RegisterTokens = registerTokens,
            Pool = pool, FcNorm = fcNorm ?? pool == Eva02Pool.Avg, FinalNorm = finalNorm ?? !(fcNorm ?? pool == Eva02Pool.Avg),
            NumClasses = numClasses,
        };
    }

    /// <summary>
    /// PixelLLM's EVA02-L <c>git_backbone</c> (spec §3.3): embed 1024, depth 24, 16 heads of 64, patch 14, SwiGLU hidden
    /// int(1024·8/3) = 2730, pos table 16×16 + cls (pretrain 224²) resized to the image grid (27×27 on the 384² canvas),
    /// integer scenic RoPE positions, ln_post; no pooling or head.
    /// </summary>
    public static Eva02Config PixelLlmLarge { get; } = PixelLlm(1024, 24, 16, 14) with { PosEmbedGrid = [16, 16] };

    /// <summary>
    /// PixelLLM's scenic EVA02 (spec §3.3, §11): integer RoPE positions, SwiGLU LN eps 1e-5, ln_post on all tokens,
    /// no pooling or head; pos_embed resized to the image grid with JAX bicubic. The real model is
    /// <c>PixelLlm(1024, 24, 16, 14)</c> with a 16×16 table on a 27×27 grid.
    /// </summary>
    public static Eva02Config PixelLlm(int embedDim, int depth, int numHeads, int patchSize, double mlpRatio = 8.0 / 3.0) => new()
    {
        EmbedDim = embedDim, Depth = depth, NumHeads = numHeads, PatchSize = patchSize, MlpRatio = mlpRatio,
        NormEps = 1e-6f, MlpNormEps = 1e-5f, ScaleAttnInner = false,
        UseRope = true, RopeReferenceGrid = null,
        Pool = Eva02Pool.None, FinalNorm = true, FcNorm = false, NumClasses = 0,
    };
}
