namespace PixelLLM;

/// <summary>A binary mask at the ORIGINAL image resolution: one byte per pixel, row-major, 1 = inside.</summary>
public sealed class BinaryMask
{
    private readonly byte[] pixels;

    internal BinaryMask(byte[] pixels, int width, int height)
    {
        if (pixels.Length != (long)width * height) throw new ArgumentException($"mask: {pixels.Length} bytes for {width}×{height}");
        this.pixels = pixels;
        Width = width;
        Height = height;
    }

    /// <summary>Width in pixels (the image's).</summary>
    public int Width { get; }

    /// <summary>Height in pixels (the image's).</summary>
    public int Height { get; }

    /// <summary>The pixels, row-major (height, width): 1 inside the mask, 0 outside.</summary>
    public ReadOnlySpan<byte> Pixels => pixels;

    /// <summary>Whether pixel (<paramref name="x"/>, <paramref name="y"/>) is inside.</summary>
    public bool this[int x, int y] => pixels[y * Width + x] != 0;

    /// <summary>Number of pixels inside.</summary>
    public int Area => pixels.Count(p => p != 0);
}

/// <summary>
/// The mask decoder's raw logits over the model's canvas grid (4Hs × 4Ws, 96 × 96 at a 384 canvas; scenic detection_masks).
/// The image occupies the top-left part of the canvas; <see cref="SegmentResult.Mask"/> is these logits cropped to that part,
/// bilinearly resized to the original image and thresholded at 0.
/// </summary>
/// <param name="Width">Grid columns.</param>
/// <param name="Height">Grid rows.</param>
/// <param name="Values">Row-major (Height, Width) logits.</param>
public sealed record MaskLogits(int Width, int Height, IReadOnlyList<float> Values);

/// <summary>A referring expression segmented (spec §7.2–7.3): its decoded text, referring box, mask and IoU prediction.</summary>
/// <param name="Expression">The expression as given.</param>
/// <param name="Text">The text the box is read from: beam-decoded, or the expression itself when it was the decoder input.</param>
/// <param name="Tokens">Decoder ids from BOS (position 0) to the first EOS.</param>
/// <param name="Score">Beam score (length-penalised log-prob) when the text was decoded; null when teacher-forced.</param>
/// <param name="Box">The referring box (point box at the position before EOS), original pixels, not clipped to the image;
/// null when no position is valid (no EOS was decoded). The mask branch is prompted with it either way.</param>
/// <param name="Mask">Binary mask at the original image resolution.</param>
/// <param name="Logits">The mask logits over the canvas grid.</param>
/// <param name="Iou">The mask decoder's IoU prediction.</param>
public sealed record SegmentResult(string Expression, string Text, IReadOnlyList<int> Tokens, float? Score, Box? Box, BinaryMask Mask,
    MaskLogits Logits, float Iou)
{
    /// <summary>This result as UTF-8 JSON (schema in the README); identical input gives identical bytes.</summary>
    public byte[] ToJson() => ResultJson.Segment([this], null);
}

/// <summary>One detection of dense captioning (spec §7.1) with its location-conditioned caption.</summary>
/// <param name="Slot">The detection slot (0 = highest score).</param>
/// <param name="Box">XYXY in original pixels, clipped to the model's square canvas (so it may reach past the bottom or right
/// edge of a non-square image, as scenic's output does).</param>
/// <param name="Score">Detection score (the final score: the densecap configs do not rescore by the caption).</param>
/// <param name="Text">The caption.</param>
/// <param name="Tokens">Decoder ids from BOS (position 0) to the first EOS.</param>
/// <param name="LogProb">The greedy decode's mean log-prob.</param>
public sealed record DenseCaptionResult(int Slot, Box Box, float Score, string Text, IReadOnlyList<int> Tokens, float LogProb);

/// <summary>
/// Dense captioning of one image: the detections scenic's evaluation counts (score &gt; 0, i.e. the first
/// <c>num_detections</c> slots; the −1 slots below the score threshold and 0-score padding slots are dropped), by descending score.
/// </summary>
/// <param name="Detections">The counted detections.</param>
/// <param name="Slots">How many slots the model produced (K), counted or not.</param>
public sealed record DenseCaptionResults(IReadOnlyList<DenseCaptionResult> Detections, int Slots)
{
    /// <summary>These results as UTF-8 JSON (schema in the README); identical input gives identical bytes.</summary>
    public byte[] ToJson() => ResultJson.DenseCaption(this, null);
}

/// <summary>A segmentation result is complete.</summary>
/// <param name="Result">The full result, as the non-streaming call returns it.</param>
public sealed record SegmentReady(SegmentResult Result) : PixelLlmEvent;

/// <summary>Dense captioning is complete.</summary>
/// <param name="Result">The full result, as the non-streaming call returns it.</param>
public sealed record DenseCaptionReady(DenseCaptionResults Result) : PixelLlmEvent;
