using PixelLLM.Runtime;

namespace PixelLLM.Models.DenseCaptioning;

/// <summary>The box decoder's host-side decisions as tensors under the golden names (mid.proposals.*, mid.roi.*, out.detection_*).</summary>
internal static class DetectionTrace
{
    public static void Write(IDictionary<string, HostTensor> trace, Proposals p, int[] roiLevels, Detections d)
    {
        int k = p.CandidateCells.Length, n = p.Count, slots = d.Slots;
        trace["mid.proposals.pre_nms_indices"] = HostTensor.FromArray(p.CandidateCells, 1, k);
        trace["mid.proposals.pre_nms_scores"] = HostTensor.FromArray(p.CandidateScores, 1, k);
        trace["mid.proposals.pre_nms_boxes"] = HostTensor.FromArray(p.CandidateBoxes, 1, k, 4);
        trace["mid.proposals.nms_selected"] = HostTensor.FromArray(Bytes(p.NmsSelected), 1, k);
        trace["mid.proposals.nms_keep_indices"] = HostTensor.FromArray(p.Keep, 1, n);
        trace["mid.proposals.boxes"] = HostTensor.FromArray(p.Boxes, 1, n, 4);
        trace["mid.proposals.scores"] = HostTensor.FromArray(p.Scores, 1, n);
        trace["mid.roi.levels"] = HostTensor.FromArray(roiLevels, 1, n);
        trace["mid.roi.scores"] = HostTensor.FromArray(d.RoiScores, 1, n, 2);
        trace["mid.roi.decoded_boxes"] = HostTensor.FromArray(d.DecodedBoxes, 1, n, 4);
        trace["mid.roi.thresholded_scores"] = HostTensor.FromArray(d.ThresholdedScores, 1, n);
        trace["mid.roi.sorted_order"] = HostTensor.FromArray(d.SortedOrder, 1, n);
        trace["mid.roi.nms_selected"] = HostTensor.FromArray(Bytes(d.NmsSelected), 1, n);
        trace["out.detection_boxes"] = HostTensor.FromArray(d.Boxes, 1, slots, 4);
        trace["out.detection_scores"] = HostTensor.FromArray(d.Scores, 1, slots);
        trace["out.detection_classes"] = HostTensor.FromArray(Enumerable.Repeat(1f, slots).ToArray(), 1, slots);
        trace["out.num_detections"] = HostTensor.FromArray([d.NumDetections], 1);
        trace["out.detection_proposal_index"] = HostTensor.FromArray(d.ProposalIndex, 1, slots);
    }

    private static byte[] Bytes(bool[] flags) => flags.Select(f => (byte)(f ? 1 : 0)).ToArray();
}
