using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>The mask adapter's output tokens before the gate (golden mask_adapter_tokens) and after it.</summary>
/// <param name="Tokens">(N, NumOutputs, D) transformer outputs.</param>
/// <param name="Gated">(N, NumOutputs, D) tokens × tanh(alpha_output), or the tokens themselves without gating.</param>
public sealed record MaskAdapterOutput(Tensor Tokens, Tensor Gated);

/// <summary>
/// scenic's <c>SamMaskAdaptor</c> (spec §7.3, errata D2/D3) on N prompts at once: the K visual tokens (after the LM's visual
/// projection) and ALL L text states of the teacher-forced rerun — positions after EOS and padding slots included, whose
/// values come from t5x's uniform fully-masked attention rows — are each LayerNorm'd + projected to D, concatenated as the
/// "image" of a SAM two-way transformer with zero positional encoding, and queried by the learned output tokens (which
/// double as their own PE). Parameters (engine names, <see cref="Checkpoints.ScenicMaskNames"/>): output_tokens.weight,
/// alpha_output.weight, {visual,textual}_projection.{norm,layers.0}.*, transformer.*.
/// </summary>
public static class MaskAdapter
{
    /// <param name="visual">(N, K, d) visual tokens.</param>
    /// <param name="text">(N, L, d) decoder_norm states.</param>
    public static MaskAdapterOutput Build(ParamScope p, MaskAdapterConfig cfg, Tensor visual, Tensor text)
    {
        var g = p.Graph;
        if (visual.Shape.Rank != 3 || text.Shape.Rank != 3 || visual.Shape[0] != text.Shape[0])
            throw new GraphBuildException($"mask adapter: visual (N, K, d) and text (N, L, d) tokens expected, got {visual.Desc} and {text.Desc}");
        if (cfg.OutputDim != cfg.TransformerDim)
            throw new GraphBuildException($"mask adapter: output_dim {cfg.OutputDim} must equal transformer_dim {cfg.TransformerDim} (errata D3)");
        int n = visual.Shape[0], d = cfg.TransformerDim;
        if (cfg.InputProjection)
        {
            visual = Project(p.Sub("visual_projection"), cfg, visual);
            text = Project(p.Sub("textual_projection"), cfg, text);
        }
        if (visual.Shape[2] != d || text.Shape[2] != d)
            throw new GraphBuildException($"mask adapter: tokens of width {visual.Shape[2]} / {text.Shape[2]} reach a {d}-wide transformer");
        var image = g.Concat(1, visual, text);

        var queries = p["output_tokens.weight"];
        if (queries.Shape != new Shape(cfg.NumOutputs, d))
            throw new ModelFileException($"{p.Prefix}.output_tokens.weight is {queries.Shape}, expected ({cfg.NumOutputs}, {d})");
        var batchQueries = MaskDecoder.RepeatBatch(g, g.Reshape(queries, 1, cfg.NumOutputs, d), n);
        var (tokens, _) = TwoWayTransformer.Build(p.Sub("transformer"), cfg.Transformer, batchQueries, image, imagePe: null);
        // The gate broadcasts the (NumOutputs, D) table over the prompts.
        var gated = cfg.Gating ? g.Mul(tokens, g.Tanh(p["alpha_output.weight"])) : tokens;
        return new MaskAdapterOutput(tokens, gated);
    }

    /// <summary>scenic MLP with num_layers=1 and a pre-norm: LayerNorm_0 then layers.0 (no activation).</summary>
    private static Tensor Project(ParamScope p, MaskAdapterConfig cfg, Tensor x) =>
        LayeredMlp.Build(p, p.Graph.LayerNorm(x, p["norm.weight"], p["norm.bias"], cfg.ProjectionEps), expectedLayers: 1);
}
