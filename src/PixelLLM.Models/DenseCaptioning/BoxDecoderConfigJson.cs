using System.Text.Json;
using PixelLLM.Runtime;

namespace PixelLLM.Models.DenseCaptioning;

/// <summary>Reads the model config's optional <c>box_decoder</c> object (the densecap configs) into a <see cref="BoxDecoderConfig"/>.</summary>
public static class BoxDecoderConfigJson
{
    /// <summary>
    /// Null when <paramref name="config"/> has no <c>box_decoder</c> object. Keys (all optional, scenic defaults otherwise):
    /// fpn_in_dim, fpn_out_channels, head_dim, strides, pre_nms_topk_test, post_nms_topk_test, iou_thresh, roi_fc_dims,
    /// roi_score_threshold, roi_nms_threshold, roi_post_nms_num_detections.
    /// </summary>
    public static BoxDecoderConfig? Read(JsonElement config)
    {
        if (ConfigReader.OptionalObject(config, "box_decoder") is not { } b) return null;
        var d = new BoxDecoderConfig();
        const int W = ConfigReader.MaxWidth;
        // The tower's GroupNorm splits head_dim into 32 groups.
        int headDim = ConfigReader.Int(b, "box_decoder.head_dim", d.GroupNormGroups, W, d.HeadDim);
        ConfigReader.Expect(headDim % d.GroupNormGroups == 0, "box_decoder.head_dim", $"a multiple of {d.GroupNormGroups} (the tower's GroupNorm groups)", headDim);
        var strides = ConfigReader.Ints(b, "box_decoder.strides", 5, 5, 1, MaxStride) ?? d.Strides;
        // The pyramid builds P3..P7 from one map; the strides name their levels (log2) and scale their boxes.
        ConfigReader.Expect(strides.All(s => (s & (s - 1)) == 0) && strides.Zip(strides.Skip(1)).All(p => p.Second == 2 * p.First),
            "box_decoder.strides", "5 consecutive powers of two (P3..P7: [8, 16, 32, 64, 128])", $"[{string.Join(", ", strides)}]");
        return new BoxDecoderConfig
        {
            // The ConvTranspose is in_dim / 2 wide.
            FpnInDim = ConfigReader.Int(b, "box_decoder.fpn_in_dim", 2, W, d.FpnInDim),
            FpnOutChannels = ConfigReader.Int(b, "box_decoder.fpn_out_channels", 1, W, d.FpnOutChannels),
            HeadDim = headDim,
            Strides = strides,
            PreNmsTopK = ConfigReader.Int(b, "box_decoder.pre_nms_topk_test", 1, MaxCandidates, d.PreNmsTopK),
            PostNmsTopK = ConfigReader.Int(b, "box_decoder.post_nms_topk_test", 1, MaxCandidates, d.PostNmsTopK),
            // The padded NMS's within-tile fixed point equals greedy NMS only above 0.5 (errata E4).
            ProposalNmsThreshold = (float)ConfigReader.Number(b, "box_decoder.iou_thresh", 0.5, 1, d.ProposalNmsThreshold),
            RoiFcDims = ConfigReader.Ints(b, "box_decoder.roi_fc_dims", 1, 16, 1, W) ?? d.RoiFcDims,
            // Scores are sigmoid probabilities.
            RoiScoreThreshold = (float)ConfigReader.Number(b, "box_decoder.roi_score_threshold", 0, 1, d.RoiScoreThreshold),
            RoiNmsThreshold = (float)ConfigReader.Number(b, "box_decoder.roi_nms_threshold", 0.5, 1, d.RoiNmsThreshold),
            // Every detection slot is captioned: K × max_caption_length decode positions (RequestLimits bounds the product).
            NumDetections = ConfigReader.Int(b, "box_decoder.roi_post_nms_num_detections", 1, ConfigReader.MaxCount, d.NumDetections),
        };
    }

    /// <summary>Heatmap candidates and proposals kept (scenic: 1000 and 256).</summary>
    private const int MaxCandidates = 1 << 20;
    /// <summary>Largest P3 stride; the doubling to P7 stays far inside int.</summary>
    private const int MaxStride = 1 << 16;
}
