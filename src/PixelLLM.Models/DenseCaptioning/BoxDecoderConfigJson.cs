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
        if (!config.TryGetProperty("box_decoder", out var b) || b.ValueKind != JsonValueKind.Object) return null;
        var d = new BoxDecoderConfig();
        var c = new BoxDecoderConfig
        {
            FpnInDim = Int(b, "fpn_in_dim", d.FpnInDim),
            FpnOutChannels = Int(b, "fpn_out_channels", d.FpnOutChannels),
            HeadDim = Int(b, "head_dim", d.HeadDim),
            Strides = Ints(b, "strides") ?? d.Strides,
            PreNmsTopK = Int(b, "pre_nms_topk_test", d.PreNmsTopK),
            PostNmsTopK = Int(b, "post_nms_topk_test", d.PostNmsTopK),
            ProposalNmsThreshold = Float(b, "iou_thresh", d.ProposalNmsThreshold),
            RoiFcDims = Ints(b, "roi_fc_dims") ?? d.RoiFcDims,
            RoiScoreThreshold = Float(b, "roi_score_threshold", d.RoiScoreThreshold),
            RoiNmsThreshold = Float(b, "roi_nms_threshold", d.RoiNmsThreshold),
            NumDetections = Int(b, "roi_post_nms_num_detections", d.NumDetections),
        };
        Validate(c);
        return c;
    }

    private static void Validate(BoxDecoderConfig c)
    {
        static void Expect(bool ok, string what)
        {
            if (!ok) throw new ModelFileException($"pixelllm config: box_decoder.{what}");
        }
        Expect(c.Strides.Count > 0 && c.Strides.All(s => s > 0 && (s & (s - 1)) == 0)
            && c.Strides.Zip(c.Strides.Skip(1)).All(p => p.Second == 2 * p.First), "strides must be consecutive powers of two");
        Expect(c.FpnInDim >= 2 && c.FpnOutChannels > 0 && c.HeadDim % c.GroupNormGroups == 0, "fpn_in_dim/fpn_out_channels/head_dim must be positive (head_dim a multiple of 32)");
        Expect(c.PreNmsTopK > 0 && c.PostNmsTopK > 0 && c.NumDetections > 0, "pre_nms_topk_test, post_nms_topk_test and roi_post_nms_num_detections must be positive");
        // The padded NMS's within-tile fixed point equals greedy NMS only above 0.5 (errata E4).
        Expect(c.ProposalNmsThreshold >= 0.5f && c.ProposalNmsThreshold <= 1f, "iou_thresh must be in [0.5, 1]");
        Expect(c.RoiNmsThreshold >= 0.5f && c.RoiNmsThreshold <= 1f, "roi_nms_threshold must be in [0.5, 1]");
        Expect(c.RoiFcDims.Count > 0 && c.RoiFcDims.All(f => f > 0), "roi_fc_dims must be a non-empty list of positive widths");
    }

    private static int Int(JsonElement e, string name, int fallback) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;

    private static float Float(JsonElement e, string name, float fallback) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetSingle() : fallback;

    private static int[]? Ints(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(x => x.GetInt32()).ToArray() : null;
}
