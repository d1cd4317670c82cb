using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>Sizes of a SAM TwoWayTransformer (also PixelLLM's prompt adapter: depth 6, dim 512; mask adapter: depth 2, dim 256).</summary>
/// <param name="Depth">Number of TwoWayAttentionBlocks.</param>
/// <param name="EmbeddingDim">Token width C of queries and keys.</param>
/// <param name="NumHeads">Heads of every attention (self and cross).</param>
/// <param name="MlpDim">Hidden width of the token MLP.</param>
/// <param name="AttentionDownsampleRate">Cross attentions project to C / rate.</param>
/// <param name="LayerNormEps">Epsilon of norm1..norm4 and norm_final_attn.</param>
/// <param name="MlpActivation">Activation between lin1 and lin2 (ReLU in SAM).</param>
public sealed record TwoWayTransformerConfig(int Depth, int EmbeddingDim, int NumHeads, int MlpDim, int AttentionDownsampleRate = 2,
    float LayerNormEps = 1e-5f, UnaryKind MlpActivation = UnaryKind.Relu)
{
    /// <summary>The transformer of SAM's mask decoder (spec §7.2): depth 2, C 256, 8 heads, MLP 2048, downsample 2.</summary>
    public static TwoWayTransformerConfig SamMaskDecoder { get; } = new(2, 256, 8, 2048);

    public int CrossAttentionDim => EmbeddingDim / AttentionDownsampleRate;
}

/// <summary>
/// SAM's TwoWayTransformer on token-major tensors. Queries (B, N, C) attend to keys (B, L, C) (an image flattened to
/// L = H·W tokens) and back, block by block; the initial queries double as their positional encoding. Every residual
/// Add of the reference is its branch's last projection's epilogue here (<c>Linear</c> with a residual).
/// Parameter names follow segment-anything (layers.i.{self_attn, norm1, cross_attn_token_to_image, norm2, mlp.lin1/lin2,
/// norm3, norm4, cross_attn_image_to_token}, final_attn_token_to_image, norm_final_attn).
/// </summary>
public static partial class TwoWayTransformer
{
    /// <param name="pointEmbedding">Queries (B, N, C); also the query positional encoding.</param>
    /// <param name="imageEmbedding">Keys (B, L, C).</param>
    /// <param name="imagePe">Key positional encoding (B or 1, L, C), or null for none (PixelLLM's mask adapter).</param>
    /// <returns>Updated queries (B, N, C) and keys (B, L, C).</returns>
    public static (Tensor Queries, Tensor Keys) Build(ParamScope p, TwoWayTransformerConfig cfg, Tensor pointEmbedding, Tensor imageEmbedding, Tensor? imagePe)
    {
        var g = p.Graph;
        CheckInputs(cfg, pointEmbedding, imageEmbedding, imagePe);
        var queries = pointEmbedding;
        var keys = imageEmbedding;
        for (int i = 0; i < cfg.Depth; i++)
            (queries, keys) = Block(p.Sub($"layers.{i}"), cfg, queries, keys, pointEmbedding, imagePe, skipFirstLayerPe: i == 0);

        var final = TwoWayAttention.Build(p.Sub("final_attn_token_to_image"), g.Add(queries, pointEmbedding), WithPe(g, keys, imagePe), keys,
            cfg.NumHeads, cfg.CrossAttentionDim, residual: queries);
        queries = Norm(p, "norm_final_attn", cfg, final);
        return (queries, keys);
    }

    /// <summary>One TwoWayAttentionBlock: self-attention, token→image, MLP, image→token, each followed by a LayerNorm.</summary>
    private static (Tensor Queries, Tensor Keys) Block(ParamScope p, TwoWayTransformerConfig cfg, Tensor queries, Tensor keys,
        Tensor queryPe, Tensor? keyPe, bool skipFirstLayerPe)
    {
        var g = p.Graph;
        if (skipFirstLayerPe)
        {
            // The reference replaces the queries here (no residual) and adds no PE.
            queries = TwoWayAttention.Build(p.Sub("self_attn"), queries, queries, queries, cfg.NumHeads, cfg.EmbeddingDim);
        }
        else
        {
            var q = g.Add(queries, queryPe);
            queries = TwoWayAttention.Build(p.Sub("self_attn"), q, q, queries, cfg.NumHeads, cfg.EmbeddingDim, residual: queries);
        }
        queries = Norm(p, "norm1", cfg, queries);

        var keysWithPe = WithPe(g, keys, keyPe);
        var toImage = TwoWayAttention.Build(p.Sub("cross_attn_token_to_image"), g.Add(queries, queryPe), keysWithPe, keys,
            cfg.NumHeads, cfg.CrossAttentionDim, residual: queries);
        queries = Norm(p, "norm2", cfg, toImage);

        var mlp = p.Sub("mlp");
        var hidden = g.Unary(cfg.MlpActivation, g.Linear(queries, mlp["lin1.weight"], mlp["lin1.bias"]));
        queries = Norm(p, "norm3", cfg, g.Linear(hidden, mlp["lin2.weight"], mlp["lin2.bias"], residual: queries));

        var toTokens = TwoWayAttention.Build(p.Sub("cross_attn_image_to_token"), keysWithPe, g.Add(queries, queryPe), queries,
            cfg.NumHeads, cfg.CrossAttentionDim, residual: keys);
        keys = Norm(p, "norm4", cfg, toTokens);
        return (queries, keys);
    }

    private static Tensor WithPe(Graph g, Tensor x, Tensor? pe) => pe is null ? x : g.Add(x, pe);

    private static Tensor Norm(ParamScope p, string name, TwoWayTransformerConfig cfg, Tensor x) =>
        p.Graph.LayerNorm(x, p[name + ".weight"], p[name + ".bias"], cfg.LayerNormEps);

    private static void CheckInputs(TwoWayTransformerConfig cfg, Tensor points, Tensor image, Tensor? pe)
    {
        int c = cfg.EmbeddingDim;
        if (cfg.Depth < 1 || cfg.AttentionDownsampleRate < 1 || c % cfg.AttentionDownsampleRate != 0)
            throw new GraphBuildException($"two-way transformer: invalid config {cfg}");
        if (points.Shape.Rank != 3 || points.Shape[2] != c)
            throw new GraphBuildException($"two-way transformer: point embedding must be (B, N, {c}), got {points.Desc}");
        if (image.Shape.Rank != 3 || image.Shape[2] != c || image.Shape[0] != points.Shape[0])
            throw new GraphBuildException($"two-way transformer: image embedding must be ({points.Shape[0]}, L, {c}), got {image.Desc}");
        if (pe is not null && (pe.Shape.Rank != 3 || pe.Shape[1] != image.Shape[1] || pe.Shape[2] != c || (pe.Shape[0] != 1 && pe.Shape[0] != image.Shape[0])))
            throw new GraphBuildException($"two-way transformer: image PE must be (1 or {image.Shape[0]}, {image.Shape[1]}, {c}), got {pe.Desc}");
    }
}
