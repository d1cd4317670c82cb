using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// Everything segment-anything's Sam needs: the three modules plus the pre/post-processing constants.
/// </summary>
/// <param name="ImageSize">Square encoder input side (img_size) that images are padded to.</param>
/// <param name="PixelMean">Per-channel mean subtracted from [0, 255] RGB pixels.</param>
/// <param name="PixelStd">Per-channel std the centred pixels are divided by.</param>
/// <param name="MaskThreshold">Logits above this are mask pixels.</param>
public sealed record SamConfig(SamImageEncoderConfig Encoder, int ImageSize, PromptEncoderConfig Prompt, MaskDecoderConfig Decoder,
    IReadOnlyList<float> PixelMean, IReadOnlyList<float> PixelStd, float MaskThreshold = 0f)
{
    /// <summary>segment-anything's defaults (ImageNet statistics in 0..255 units).</summary>
    public static IReadOnlyList<float> DefaultPixelMean { get; } = [123.675f, 116.28f, 103.53f];
    public static IReadOnlyList<float> DefaultPixelStd { get; } = [58.395f, 57.12f, 57.375f];
}

/// <summary>One image's graph-side inputs to <see cref="SamPipeline.Build"/>.</summary>
/// <param name="Image">(H, W, 3) RGB in [0, 255], already resized so that H, W ≤ ImageSize.</param>
/// <param name="OriginalHeight">Height the masks are resized back to.</param>
/// <param name="OriginalWidth">Width the masks are resized back to.</param>
/// <param name="NumPrompts">P, the prompts (mask predictions) for this image.</param>
/// <param name="SparseFeatures">Host Fourier features (P, N, C) fed from <see cref="SparsePrompts"/>, or null without points/boxes.</param>
/// <param name="SparseSlots">Their learned-embedding slots (P, N) I32.</param>
/// <param name="MaskInput">(P, 4He, 4We, 1) mask logits of a previous round, or null.</param>
public sealed record SamImageInputs(Tensor Image, int OriginalHeight, int OriginalWidth, int NumPrompts,
    Tensor? SparseFeatures = null, Tensor? SparseSlots = null, Tensor? MaskInput = null);

/// <summary>Per-image results: mask logits at the original size (P, M, Ho, Wo), IoU predictions (P, M), decoder logits (P, M, 4He, 4We).</summary>
public sealed record SamImageOutputs(Tensor MaskLogits, Tensor IouPredictions, Tensor LowResLogits);

/// <summary>
/// segment-anything's Sam.forward end to end: normalise and pad every image, encode the batch, then per image the prompt
/// encoder, mask decoder and postprocess_masks (bilinear to ImageSize, crop to the input size, bilinear to the original size).
/// Parameters are the official checkpoint's names (image_encoder.*, prompt_encoder.*, mask_decoder.*).
/// Thresholding (logits &gt; MaskThreshold) is <see cref="Threshold"/>, on the fetched logits.
/// </summary>
public static class SamPipeline
{
    public static (Tensor Preprocessed, Tensor ImageEmbeddings, SamImageOutputs[] Images) Build(
        ParamScope p, SamConfig cfg, IReadOnlyList<SamImageInputs> images, bool multimaskOutput)
    {
        var g = p.Graph;
        if (images.Count == 0) throw new InvalidInputException("SAM pipeline: no images");
        var batch = g.Concat(0, images.Select((im, i) => Preprocess(g, cfg, im.Image, i)).ToArray());
        Tensor embeddings;
        using (g.Scope("image_encoder")) embeddings = SamImageEncoder.Build(p.Sub("image_encoder"), cfg.Encoder, batch);

        var prompt = p.Sub("prompt_encoder");
        var densePe = PromptEncoder.DensePositionalEncoding(prompt, cfg.Prompt);
        var outputs = new SamImageOutputs[images.Count];
        for (int i = 0; i < images.Count; i++)
        {
            var im = images[i];
            Tensor? sparse = null;
            if (im.SparseFeatures is not null)
                sparse = PromptEncoder.SparseEmbeddings(prompt, cfg.Prompt, im.SparseFeatures,
                    im.SparseSlots ?? throw new InvalidInputException($"SAM pipeline: image {i} has sparse features without slots"));
            var dense = im.MaskInput is null ? PromptEncoder.NoMaskEmbedding(prompt, cfg.Prompt) : PromptEncoder.MaskEmbeddings(prompt, cfg.Prompt, im.MaskInput);
            var decoded = MaskDecoder.Build(p.Sub("mask_decoder"), cfg.Decoder, g.Slice(embeddings, 0, i, i + 1), densePe, sparse, dense, im.NumPrompts);
            var (lowRes, iou) = MaskDecoder.Select(g, decoded, multimaskOutput ? MaskSelection.Multimask : MaskSelection.Single);
            var logits = Postprocess(g, cfg, lowRes, im.Image.Shape[0], im.Image.Shape[1], im.OriginalHeight, im.OriginalWidth);
            outputs[i] = new SamImageOutputs(logits, iou, lowRes);
        }
        return (batch, embeddings, outputs);
    }

    /// <summary>(x − mean) / std, then zero padding at the bottom and right to ImageSize² → (1, S, S, 3).</summary>
    public static Tensor Preprocess(Graph g, SamConfig cfg, Tensor image, int index = 0)
    {
        int s = cfg.ImageSize;
        if (image.DType != DType.F32 || image.Shape.Rank != 3 || image.Shape[2] != 3 || image.Shape[0] > s || image.Shape[1] > s
            || image.Shape[0] < 1 || image.Shape[1] < 1)
            throw new InvalidInputException($"SAM pipeline: image {index} must be F32 (H, W, 3) with H, W in [1, {s}], got {image.Desc}");
        var x = g.Div(g.Sub(image, Constant(g, "aux.sam.pixel_mean", cfg.PixelMean)), Constant(g, "aux.sam.pixel_std", cfg.PixelStd));
        int h = image.Shape[0], w = image.Shape[1];
        if (w < s) x = g.Concat(1, x, Zeros(g, h, s - w, 3));
        if (h < s) x = g.Concat(0, x, Zeros(g, s - h, s, 3));
        return g.Reshape(x, 1, s, s, 3);
    }

    /// <summary>postprocess_masks: bilinear (align_corners=False) to S×S, crop to the input size, bilinear to the original size.</summary>
    public static Tensor Postprocess(Graph g, SamConfig cfg, Tensor lowRes, int inputHeight, int inputWidth, int originalHeight, int originalWidth)
    {
        if (originalHeight < 1 || originalWidth < 1)
            throw new InvalidInputException($"SAM pipeline: original size ({originalHeight}, {originalWidth}) must be positive");
        var x = ResizeBilinear(g, lowRes, cfg.ImageSize, cfg.ImageSize);
        x = g.Slice(g.Slice(x, 2, 0, inputHeight), 3, 0, inputWidth);
        return ResizeBilinear(g, x, originalHeight, originalWidth);
    }

    /// <summary>Masks (logits &gt; threshold) as U8 0/1, same shape.</summary>
    public static HostTensor Threshold(HostTensor logits, float threshold = 0f)
    {
        var values = logits.ToFloatArray();
        var mask = new byte[values.Length];
        for (int i = 0; i < values.Length; i++) mask[i] = values[i] > threshold ? (byte)1 : (byte)0;
        return HostTensor.FromArray(mask, logits.Shape.ToArray());
    }

    // Without antialias the Resize op's linear kernel is PyTorch's bilinear, align_corners=False; an equal size is the identity.
    private static Tensor ResizeBilinear(Graph g, Tensor x, int height, int width) =>
        x.Shape[2] == height && x.Shape[3] == width ? x : g.Resize(x, [2, 3], [height, width], ResizeKernel.Linear, antialias: false);

    private static Tensor Constant(Graph g, string name, IReadOnlyList<float> values)
    {
        if (values.Count != 3) throw new InvalidInputException($"SAM pipeline: {name} needs 3 values, got {values.Count}");
        return g.TryGet(name, out var t) ? t : g.Weight(name, HostTensor.FromArray(values.ToArray(), 3));
    }

    private static Tensor Zeros(Graph g, int h, int w, int c)
    {
        var name = $"aux.sam.zeros.{h}x{w}x{c}";
        return g.TryGet(name, out var t) ? t : g.Weight(name, HostTensor.Zeros(DType.F32, h, w, c));
    }
}
