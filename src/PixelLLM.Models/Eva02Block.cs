using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// One pre-norm EVA02 block on (B, 1 + N, C) tokens, cls first:
/// x += proj([LN](Attn(RoPE(q), RoPE(k), v))) of LN1(x); x += fc2([LN](silu(fc1_g) · fc1_x)) of LN2(x) — or, as timm's
/// EvaBlock allows, the MLP fc2([LN](gelu(fc1))) (<see cref="Eva02Config.Mlp"/>), each branch scaled by gamma_1 / gamma_2
/// (<see cref="Eva02Config.LayerScale"/>), or timm's post-norm block (<see cref="Eva02Config.PostNorm"/>).
/// </summary>
public static class Eva02Block
{
    /// <param name="rope">Sin/cos tables (N, head dim) for the patch tokens, or null to skip RoPE.</param>
    public static Tensor Build(ParamScope p, Eva02Config cfg, Tensor x, (Tensor Sin, Tensor Cos)? rope)
    {
        var g = p.Graph;
        if (cfg.PostNorm)
        {
            // timm's EvaBlockPostNorm: each branch reads the stream itself and is normalised before it is added.
            x = g.Add(x, Norm(p, "norm1", cfg, Attention(p.Sub("attn"), cfg, x, rope, null)));
            return g.Add(x, Norm(p, "norm2", cfg, Mlp(p, cfg, x, null)));
        }
        if (cfg.LayerScale)
        {
            x = g.Add(x, g.Mul(Attention(p.Sub("attn"), cfg, Norm(p, "norm1", cfg, x), rope, null), Gamma(p, cfg, "gamma_1")));
            return g.Add(x, g.Mul(Mlp(p, cfg, Norm(p, "norm2", cfg, x), null), Gamma(p, cfg, "gamma_2")));
        }
        // Each branch's last projection adds the skip connection in its epilogue (no separate Add).
        x = Attention(p.Sub("attn"), cfg, Norm(p, "norm1", cfg, x), rope, x);
        return Mlp(p, cfg, Norm(p, "norm2", cfg, x), x);
    }

    private static Tensor Norm(ParamScope p, string name, Eva02Config cfg, Tensor x) =>
        p.Graph.LayerNorm(x, p[name + ".weight"], p[name + ".bias"], cfg.NormEps);

    private static Tensor Mlp(ParamScope p, Eva02Config cfg, Tensor x, Tensor? residual) =>
        cfg.Mlp == Eva02Mlp.Gelu ? GeluMlp(p.Sub("mlp"), cfg, x, residual) : SwiGlu(p.Sub("mlp"), cfg, x, residual);

    /// <summary>A LayerScale vector (C), checked: a checkpoint without one was not trained with init_values.</summary>
    private static Tensor Gamma(ParamScope p, Eva02Config cfg, string name)
    {
        if (!p.Has(name)) throw new ModelFileException($"{p.Prefix}.{name} is missing: the config sets init_values (LayerScale)");
        var gamma = p[name];
        if (gamma.Shape != new Shape(cfg.EmbedDim)) throw new ModelFileException($"{p.Prefix}.{name} is {gamma.Shape}, expected ({cfg.EmbedDim})");
        return gamma;
    }

    /// <summary>
    /// The q, k and v projections as one GEMM over their stacked weights (biases optional: timm's k_proj has none; a
    /// converter maps scenic's q_bias/v_bias onto q/v_proj.bias, and a missing one stacks as zeros) or timm's fused
    /// attn.qkv with q_bias / v_bias (k's bias a zero buffer), then RoPE over the q and k thirds of each row and attention
    /// reading the packed rows, as one op.
    /// </summary>
    private static Tensor Attention(ParamScope p, Eva02Config cfg, Tensor x, (Tensor Sin, Tensor Cos)? rope, Tensor? residual)
    {
        var g = p.Graph;
        int c = cfg.EmbedDim;
        Tensor weight;
        string?[] biases;
        if (cfg.QkvFused)
        {
            weight = p["qkv.weight"];
            if (weight.Shape != new Shape(3 * c, c)) throw new ModelFileException($"{p.Prefix}.qkv.weight is {weight.Shape}, expected ({3 * c}, {c})");
            biases = [p.Has("q_bias") ? "q_bias" : null, null, p.Has("v_bias") ? "v_bias" : null];
        }
        else
        {
            string[] projections = ["q_proj", "k_proj", "v_proj"];
            weight = p.Stacked(projections.Select(n => (string?)$"{n}.weight").ToArray(), [c, c]);
            biases = projections.Select(n => p.Has($"{n}.bias") ? $"{n}.bias" : null).ToArray();
        }
        var qkv = g.Linear(x, weight, biases.Any(b => b is not null) ? p.Stacked(biases, [c]) : null);
        // RoPE on q and k, the prefix tokens (cls, registers) unrotated as in both references, then attention: one op, which
        // a backend may run as those two steps or as one kernel that rotates q and k as it loads them.
        float scale = (float)(1.0 / Math.Sqrt(cfg.HeadDim));
        var o = rope is { } r ? g.RotaryAttention(qkv, r.Sin, r.Cos, cfg.NumHeads, scale, cfg.PrefixTokens) : g.PackedAttention(qkv, cfg.NumHeads, scale);
        if (cfg.ScaleAttnInner) o = g.LayerNorm(o, p["norm.weight"], p["norm.bias"], cfg.NormEps);
        return g.Linear(o, p["proj.weight"], p["proj.bias"], residual);
    }

    /// <summary>
    /// fc2(LN(silu(fc1_g x) · fc1_x x)), with fc1_g and fc1_x as one GEMM over their stacked weights and the gate applied to
    /// the two halves of each row. A hidden width that is not a multiple of 8 (EVA02-L's 2730) is carried padded with zero
    /// rows of fc1_g/fc1_x and zero columns of fc2 (2736): the GEMMs and the elementwise kernels then see 16-byte-aligned
    /// bf16 rows; the padding is silu(0)·0 = 0 and the sub-LN normalises only the real width.
    /// </summary>
    private static Tensor SwiGlu(ParamScope p, Eva02Config cfg, Tensor x, Tensor? residual)
    {
        var g = p.Graph;
        int hidden = cfg.MlpHidden, width = (hidden + AlignedWidth - 1) / AlignedWidth * AlignedWidth, c = cfg.EmbedDim;
        Tensor weight;
        Tensor? bias;
        if (cfg.Mlp == Eva02Mlp.SwiGluPacked)
        {
            // timm's GluMlp: one fc1 of 2·hidden rows, the gate first; its halves carried padded like the split weights.
            weight = p.Repacked("fc1.weight", 2, [hidden, c], [width, c]);
            bias = p.Has("fc1.bias") ? p.Repacked("fc1.bias", 2, [hidden], [width]) : null;
        }
        else
        {
            weight = p.Stacked(["fc1_g.weight", "fc1_x.weight"], [hidden, c], [width, c]);
            string?[] biases = [p.Has("fc1_g.bias") ? "fc1_g.bias" : null, p.Has("fc1_x.bias") ? "fc1_x.bias" : null];
            bias = biases.Any(b => b is not null) ? p.Stacked(biases, [hidden], [width]) : null;
        }
        var gateAndX = g.Linear(x, weight, bias);
        // With the sub-LN, the gate and the norm are one op (a backend may keep h on chip); without it, the gate alone.
        var h = cfg.ScaleMlp ? g.SwiGluNorm(gateAndX, p["norm.weight"], p["norm.bias"], cfg.MlpNormEps, width == hidden ? 0 : hidden)
            : g.PackedSwiGlu(gateAndX);
        var down = width == hidden ? p["fc2.weight"] : p.Stacked(["fc2.weight"], [c, hidden], [c, width]);
        return g.Linear(h, down, p.Optional("fc2.bias"), residual);
    }

    /// <summary>timm's Mlp: fc2([LN](gelu(fc1 x))), exact GELU.</summary>
    private static Tensor GeluMlp(ParamScope p, Eva02Config cfg, Tensor x, Tensor? residual)
    {
        var g = p.Graph;
        var h = g.Unary(UnaryKind.Gelu, g.Linear(x, p["fc1.weight"], p.Optional("fc1.bias")));
        if (cfg.ScaleMlp) h = g.LayerNorm(h, p["norm.weight"], p["norm.bias"], cfg.MlpNormEps);
        return g.Linear(h, p["fc2.weight"], p.Optional("fc2.bias"), residual);
    }

    /// <summary>The hidden width is padded to a multiple of this: 8 bf16 elements are one 16-byte vector.</summary>
    private const int AlignedWidth = 8;
}
