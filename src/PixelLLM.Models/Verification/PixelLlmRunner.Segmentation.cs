using PixelLLM.Runtime;

namespace PixelLLM.Models.Verification;

public sealed partial class PixelLlmRunner
{
    /// <summary>
    /// Referring segmentation (pixelllm_refseg): the mask branch on the variant's point boxes (use_points_as_det), writing
    /// out.&lt;v&gt;.detection_boxes, detection_masks (1, N, 4Hs, 4Ws) logits, binary_masks (logits &gt; 0 on the same grid — the
    /// evaluator's crop and resize are not part of the case), iou_predictions, and the mid.&lt;v&gt;.mask_* intermediates.
    /// </summary>
    private static void Segment(PixelLlm model, ImageFeatures image, PromptEncoding encoding, TextFeatures text, PointOutputs points,
        string prefix, Dictionary<string, HostTensor> results)
    {
        using var segmentation = new ReferringSegmentation(model);
        var masks = segmentation.PredictMasks(image, encoding, text.Features, points.Boxes, results, prefix);
        int n = points.Boxes.Length;
        var logits = masks.Logits.ToFloatArray();
        Put(results, $"out.{prefix}detection_boxes", points.Boxes.SelectMany(b => b).ToArray(), 1, n, 4);
        Put(results, $"out.{prefix}detection_masks", logits, [1, .. masks.Logits.Shape.ToArray()]);
        Put(results, $"out.{prefix}binary_masks", logits.Select(v => (byte)(v > 0 ? 1 : 0)).ToArray(), [1, .. masks.Logits.Shape.ToArray()]);
        Put(results, $"out.{prefix}iou_predictions", masks.IouPredictions, 1, n);
    }
}
