using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// PixelLLM's prompt feature extractor (scenic <c>PromptAdaptor</c>, spec §4.2, errata A4/A5), engine names under
/// <c>prompt_adapter.</c> (see <see cref="Checkpoints.ScenicWeights"/>). Per prompt: queries = [K learned output tokens ;
/// projected sparse prompt tokens], keys = projected fused map + projected no_mask embedding, key PE = projected dense PE;
/// a SAM two-way transformer (first layer without PE or residual in its self-attention); the first K queries each go
/// through their own Dense → (N, K, output dim). With <see cref="PromptAdapterConfig.DenseFuse"/> the updated keys go through
/// dense_output_mlp instead → (N, G·G, output dim); otherwise that path feeds nothing and is skipped.
/// </summary>
public static class PromptAdapter
{
    /// <param name="p">Scope <c>prompt_adapter</c>.</param>
    /// <param name="fused">Fused image map (1, G, G, Cf), or a batch of maps (B, G, G, Cf) with <paramref name="promptImages"/>.</param>
    /// <param name="densePe">Dense positional encoding of the G×G grid (1, G, G, E).</param>
    /// <param name="sparse">Sparse prompt tokens (N, T, E).</param>
    /// <param name="noMask">The prompt encoder's no_mask_embed (1, E), the dense prompt.</param>
    /// <param name="promptImages">I32 (N): the map each prompt reads, for a batch of maps; null for one map.</param>
    /// <returns>(N, K, OutputDim) visual tokens; (N, H·W, OutputDim) with <see cref="PromptAdapterConfig.DenseFuse"/>.</returns>
    public static Tensor Build(ParamScope p, PromptAdapterConfig cfg, Tensor fused, Tensor densePe, Tensor sparse, Tensor noMask,
        Tensor? promptImages = null)
    {
        var g = p.Graph;
        int images = fused.Shape.Rank == 4 ? fused.Shape[0] : 0;
        if (images < 1 || (images > 1 && promptImages is null))
            throw new GraphBuildException($"prompt adapter: fused features must be (1, H, W, C), or (B, H, W, C) with each prompt's image, got {fused.Desc}");
        if (sparse.Shape.Rank != 3 || sparse.Shape[2] != cfg.InputEmbeddingDim)
            throw new GraphBuildException($"prompt adapter: sparse prompts must be (N, T, {cfg.InputEmbeddingDim}), got {sparse.Desc}");
        int prompts = sparse.Shape[0], h = fused.Shape[1], w = fused.Shape[2], d = cfg.TransformerDim;
        if (densePe.Shape != new Shape(1, h, w, cfg.InputEmbeddingDim))
            throw new GraphBuildException($"prompt adapter: dense PE must be (1, {h}, {w}, {cfg.InputEmbeddingDim}), got {densePe.Desc}");

        // scenic projects prompts and PE only when their width differs from the transformer's.
        bool project = cfg.InputEmbeddingDim != d;
        var promptTokens = project ? LayeredMlp.Build(p.Sub("prompt_projection"), sparse) : sparse;
        var densePrompt = project ? LayeredMlp.Build(p.Sub("prompt_projection"), noMask) : noMask;        // (1, D)
        var pe = project ? LayeredMlp.Build(p.Sub("image_pe_projection"), densePe) : densePe;

        var queries = g.Concat(1, OutputTokens(p, cfg, prompts), promptTokens);                          // (N, K + T, D)
        var keys = g.Add(LayeredMlp.Build(p.Sub("image_projection"), g.Reshape(fused, images, h * w, fused.Shape[3])), densePrompt);
        // Every prompt updates its own copy of its image's keys.
        if (promptImages is not null) keys = g.Reshape(g.Embedding(g.Reshape(keys, images, h * w * d), promptImages), prompts, h * w, d);
        else if (prompts > 1) keys = g.Concat(0, Enumerable.Repeat(keys, prompts).ToArray());
        var (updated, updatedKeys) = TwoWayTransformer.Build(p.Sub("transformer"), cfg.Transformer, queries, keys, g.Reshape(pe, 1, h * w, d));

        return cfg.DenseFuse ? LayeredMlp.Build(p.Sub("dense_output"), updatedKeys) : OutputProjections(p, cfg, updated);
    }

    /// <summary>
    /// The first K queries, each through its own projection → (N, K, OutputDim). When every projection is one Dense of
    /// the same shape (the reference's), the K Denses are one <see cref="GroupedLinearOp"/> over their stacked weights;
    /// deeper ones run as K MLPs on K slices.
    /// </summary>
    private static Tensor OutputProjections(ParamScope p, PromptAdapterConfig cfg, Tensor updated)
    {
        var g = p.Graph;
        int k = cfg.NumOutputs;
        string Layer(int i, int layer, string what) => $"output_projections.{i}.layers.{layer}.{what}";
        var shape = p.Has(Layer(0, 0, "weight")) ? p.Host(Layer(0, 0, "weight")).Shape : null;
        bool oneDenseEach = k > 1 && shape is { Rank: 2 } && Enumerable.Range(0, k).All(i =>
            p.Has(Layer(i, 0, "weight")) && !p.Has(Layer(i, 1, "weight")) && p.Host(Layer(i, 0, "weight")).Shape == shape);
        var queries = g.Slice(updated, 1, 0, k);                                                        // (N, K, D)
        if (oneDenseEach)
        {
            int[] dims = [shape![0], shape[1]];
            var weight = p.Stacked(Enumerable.Range(0, k).Select(i => (string?)Layer(i, 0, "weight")).ToArray(), dims);
            string?[] biases = Enumerable.Range(0, k).Select(i => p.Has(Layer(i, 0, "bias")) ? Layer(i, 0, "bias") : null).ToArray();
            return g.GroupedLinear(queries, weight, biases.Any(b => b is not null) ? p.Stacked(biases, [dims[0]]) : null);
        }
        var outputs = new Tensor[k];
        for (int i = 0; i < k; i++)
            outputs[i] = LayeredMlp.Build(p.Sub($"output_projections.{i}"), g.Slice(updated, 1, i, i + 1));
        return k == 1 ? outputs[0] : g.Concat(1, outputs);
    }

    /// <summary>The learned (K, D) queries repeated for N prompts, tiled on the host at build time.</summary>
    private static Tensor OutputTokens(ParamScope p, PromptAdapterConfig cfg, int prompts)
    {
        var table = p.Host("output_tokens.weight");
        if (table.Shape != new Shape(cfg.NumOutputs, cfg.TransformerDim))
            throw new ModelFileException($"prompt adapter: {p.Prefix}.output_tokens.weight is {table.Shape}, expected ({cfg.NumOutputs}, {cfg.TransformerDim})");
        var name = $"aux.{p.Prefix}.output_tokens.x{prompts}";
        if (p.Graph.TryGet(name, out var existing)) return existing;
        var values = table.ToFloatArray();
        var tiled = new float[prompts * values.Length];
        for (int i = 0; i < prompts; i++) values.CopyTo(tiled, i * values.Length);
        return p.Graph.Weight(name, HostTensor.FromArray(tiled, prompts, cfg.NumOutputs, cfg.TransformerDim));
    }
}
