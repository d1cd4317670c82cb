using PixelLLM.Runtime;

namespace PixelLLM.Models;

/// <summary>The mask branch's outputs for N prompts: logits (N, 4Hs, 4Ws) over the SAM canvas grid and one IoU prediction each.</summary>
public sealed record MaskPrediction(HostTensor Logits, float[] IouPredictions);

/// <summary>
/// One segmented referring expression (<see cref="ReferringSegmentation.Segment"/>).
/// </summary>
/// <param name="Tokens">Decoded ids (L, zeros after the first EOS).</param>
/// <param name="Score">The decoder's score of those tokens (beam: length-penalised log-prob); NaN for teacher rows (not decoded).</param>
/// <param name="Box">XYXY in pixels of the image given to <see cref="PixelLlm.EncodeImage"/> (the point box; may be inverted when no
/// position is valid).</param>
/// <param name="MaskLogits">F32 (4Hs, 4Ws) mask logits over the canvas grid (scenic detection_masks).</param>
/// <param name="Mask">U8 (height, width) binary mask at image resolution: the logits cropped to the image's part of the canvas,
/// bilinearly resized and thresholded at 0 (<see cref="MaskPostprocess.ToImageMask"/>).</param>
/// <param name="Iou">The decoder's IoU prediction for the mask.</param>
public sealed record SegmentedExpression(int[] Tokens, float Score, float[] Box, HostTensor MaskLogits, HostTensor Mask, float Iou);
