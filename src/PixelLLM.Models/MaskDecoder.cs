using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>Sizes of SAM's MaskDecoder.</summary>
/// <param name="TransformerDim">Token / image-embedding width C.</param>
/// <param name="Transformer">The two-way transformer inside (its EmbeddingDim must equal C).</param>
/// <param name="NumMultimaskOutputs">Masks in multimask mode; the decoder has one more mask token.</param>
/// <param name="IouHeadDepth">Layers of the IoU head MLP.</param>
/// <param name="HypernetworkDepth">Layers of each per-token hypernetwork MLP.</param>
/// <param name="UpscaleNormEps">Epsilon of the LayerNorm2d between the two transposed convolutions.</param>
/// <param name="IouHeadHiddenDim">Hidden width of the IoU head (256 in SAM). <see cref="MaskDecoder.Build"/> reads widths from
/// the weights; this sizes <see cref="MaskDecoder.ParameterShapes"/>.</param>
public sealed record MaskDecoderConfig(int TransformerDim, TwoWayTransformerConfig Transformer, int NumMultimaskOutputs = 3,
    int IouHeadDepth = 3, int HypernetworkDepth = 3, float UpscaleNormEps = 1e-6f, int IouHeadHiddenDim = 256)
{
    /// <summary>SAM's MaskDecoder (spec §7.2): C 256, the <see cref="TwoWayTransformerConfig.SamMaskDecoder"/>, 3 + 1 mask tokens, IoU head 3 × 256.</summary>
    public static MaskDecoderConfig Sam { get; } = new(256, TwoWayTransformerConfig.SamMaskDecoder);

    public int NumMaskTokens => NumMultimaskOutputs + 1;
}

/// <summary>Which masks <see cref="MaskDecoder.Select"/> returns (segment-anything's multimask_output, or all of predict_masks).</summary>
public enum MaskSelection { Multimask, Single, All }

/// <summary>All mask-token outputs of the decoder: masks (P, T, 4H, 4W) logits and IoU predictions (P, T), T = mask tokens.</summary>
public sealed record MaskDecoderOutput(Tensor Masks, Tensor IouPredictions)
{
    /// <summary>The upscaled image side the masks are projected from, (P, 4H, 4W, C/8) (PixelLLM's mask_upscaled_embedding).</summary>
    public Tensor? UpscaledEmbedding { get; init; }
}

/// <summary>
/// SAM's MaskDecoder on channels-last tensors; parameter names as segment-anything (iou_token, mask_tokens, transformer.*,
/// output_upscaling.{0,1,3}, output_hypernetworks_mlps.i.layers.*, iou_prediction_head.layers.*).
/// </summary>
public static partial class MaskDecoder
{
    /// <param name="imageEmbedding">(1 or P, H, W, C) image embedding; batch 1 is shared by all prompts.</param>
    /// <param name="imagePe">Dense positional encoding (1 or P, H, W, C).</param>
    /// <param name="sparse">Sparse prompt tokens (P, N, C), or null for none.</param>
    /// <param name="dense">Dense prompt embedding broadcastable to (P, H, W, C) (e.g. no_mask_embed as (1, 1, 1, C)).</param>
    /// <param name="numPrompts">P; needed when neither prompt tensor carries it.</param>
    public static MaskDecoderOutput Build(ParamScope p, MaskDecoderConfig cfg, Tensor imageEmbedding, Tensor imagePe, Tensor? sparse, Tensor dense, int numPrompts)
    {
        var g = p.Graph;
        int c = cfg.TransformerDim, h = imageEmbedding.Shape[1], w = imageEmbedding.Shape[2], prompts = numPrompts;
        CheckInputs(cfg, imageEmbedding, imagePe, sparse, dense, prompts);

        // Output tokens [iou_token; mask_tokens] for every prompt, followed by its sparse prompt tokens.
        var outputTokens = g.Reshape(g.Concat(0, p["iou_token.weight"], p["mask_tokens.weight"]), 1, 1 + cfg.NumMaskTokens, c);
        var tokens = RepeatBatch(g, outputTokens, prompts);
        if (sparse is not null) tokens = g.Concat(1, tokens, sparse);

        // The image embedding plus the dense prompt, per prompt.
        var src = g.Add(imageEmbedding, dense);
        src = RepeatBatch(g, src, prompts);
        var keys = g.Reshape(src, prompts, h * w, c);
        var pe = g.Reshape(imagePe, imagePe.Shape[0], h * w, c);

        var (hs, updatedKeys) = TwoWayTransformer.Build(p.Sub("transformer"), cfg.Transformer, tokens, keys, pe);
        var iouTokenOut = g.Slice(hs, 1, 0, 1);                                    // (P, 1, C)

        // Upscale the image side 4× and project it onto each mask token's hypernetwork output.
        var up = p.Sub("output_upscaling");
        var x = g.Reshape(updatedKeys, prompts, h, w, c);
        x = g.ConvTranspose2d(x, up["0.weight"], up["0.bias"], stride: 2);
        x = g.Gelu(g.LayerNorm(x, up["1.weight"], up["1.bias"], cfg.UpscaleNormEps));
        x = g.Gelu(g.ConvTranspose2d(x, up["3.weight"], up["3.bias"], stride: 2));
        int uh = x.Shape[1], uw = x.Shape[2], uc = x.Shape[3];
        if (uh != 4 * h || uw != 4 * w)
            throw new ModelFileException($"mask decoder: output_upscaling gives a {uh}×{uw} map from {h}×{w}, expected 4× (2×2 stride-2 kernels)");
        var upscaled = g.Reshape(x, prompts, uh * uw, uc);

        var hyper = new Tensor[cfg.NumMaskTokens];
        for (int i = 0; i < cfg.NumMaskTokens; i++)
            hyper[i] = LayeredMlp.Build(p.Sub($"output_hypernetworks_mlps.{i}"), g.Slice(hs, 1, 1 + i, 2 + i), cfg.HypernetworkDepth);
        var hyperIn = g.Concat(1, hyper);                                          // (P, T, C/8)
        var masks = g.Reshape(g.MatMul(hyperIn, upscaled, transB: true), prompts, cfg.NumMaskTokens, uh, uw);

        var iou = LayeredMlp.Build(p.Sub("iou_prediction_head"), iouTokenOut, cfg.IouHeadDepth);
        if (iou.Shape[2] != cfg.NumMaskTokens)
            throw new ModelFileException($"{p.Prefix}: IoU head predicts {iou.Shape[2]} values, expected {cfg.NumMaskTokens}");
        return new MaskDecoderOutput(masks, g.Reshape(iou, prompts, cfg.NumMaskTokens)) { UpscaledEmbedding = x };
    }

    /// <summary>Multimask: tokens 1.. ; Single: token 0; All: every token (segment-anything's forward / predict_masks).</summary>
    public static (Tensor Masks, Tensor IouPredictions) Select(Graph g, MaskDecoderOutput all, MaskSelection selection)
    {
        int tokens = all.Masks.Shape[1];
        var (start, end) = selection switch
        {
            MaskSelection.Multimask => (1, tokens),
            MaskSelection.Single => (0, 1),
            _ => (0, tokens),
        };
        if (start == 0 && end == tokens) return (all.Masks, all.IouPredictions);
        return (g.Slice(all.Masks, 1, start, end), g.Slice(all.IouPredictions, 1, start, end));
    }

    /// <summary>x with batch 1 repeated to <paramref name="count"/> (a no-op when it already has that batch).</summary>
    internal static Tensor RepeatBatch(Graph g, Tensor x, int count)
    {
        if (x.Shape[0] == count) return x;
        if (x.Shape[0] != 1) throw new GraphBuildException($"cannot repeat batch {x.Shape[0]} of {x.Desc} to {count}");
        return count == 1 ? x : g.Concat(0, Enumerable.Repeat(x, count).ToArray());
    }

    private static void CheckInputs(MaskDecoderConfig cfg, Tensor image, Tensor pe, Tensor? sparse, Tensor dense, int prompts)
    {
        int c = cfg.TransformerDim;
        if (cfg.Transformer.EmbeddingDim != c) throw new GraphBuildException($"mask decoder: transformer width {cfg.Transformer.EmbeddingDim} != {c}");
        if (prompts < 1) throw new GraphBuildException($"mask decoder: {prompts} prompts");
        if (image.Shape.Rank != 4 || image.Shape[3] != c || (image.Shape[0] != 1 && image.Shape[0] != prompts))
            throw new GraphBuildException($"mask decoder: image embedding must be (1 or {prompts}, H, W, {c}), got {image.Desc}");
        var grid = new Shape(image.Shape[1], image.Shape[2], c);
        if (pe.Shape.Rank != 4 || new Shape(pe.Shape[1], pe.Shape[2], pe.Shape[3]) != grid || (pe.Shape[0] != 1 && pe.Shape[0] != prompts))
            throw new GraphBuildException($"mask decoder: image PE must be (1, {grid[0]}, {grid[1]}, {c}), got {pe.Desc}");
        if (sparse is not null && (sparse.Shape.Rank != 3 || sparse.Shape[0] != prompts || sparse.Shape[2] != c))
            throw new GraphBuildException($"mask decoder: sparse prompts must be ({prompts}, N, {c}), got {sparse.Desc}");
        var target = new Shape(prompts, grid[0], grid[1], c);
        if (dense.Shape.Rank != 4 || Broadcast.TryShape(dense.Shape, target) != target)
            throw new GraphBuildException($"mask decoder: dense prompt {dense.Desc} does not broadcast to {target}");
    }
}
