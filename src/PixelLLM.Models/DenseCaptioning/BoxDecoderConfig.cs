namespace PixelLLM.Models.DenseCaptioning;

/// <summary>
/// scenic's <c>FpnCenterNet2</c> box decoder (spec §7.1, errata E): simple feature pyramid, class-agnostic CenterNet
/// proposals and one cascade stage of the RoI box head. Sizes and thresholds come from the model config's
/// <c>box_decoder</c> object (<see cref="BoxDecoderConfigJson"/>); the defaults are scenic's.
/// </summary>
public sealed record BoxDecoderConfig
{
    /// <summary>SimpleFeaturePyramid <c>in_dim</c>: only fixes the ConvTranspose width <c>in_dim / 2</c> (768 → 384).</summary>
    public int FpnInDim { get; init; } = 768;
    /// <summary>Channels of every pyramid level (256).</summary>
    public int FpnOutChannels { get; init; } = 256;
    /// <summary>Width of the CenterNet tower (scenic hard-codes 256; the tiny goldens use another, errata E8).</summary>
    public int HeadDim { get; init; } = 256;
    /// <summary>Nominal strides of P3..P7 used for decoding and pooling (never the true feature stride).</summary>
    public IReadOnlyList<int> Strides { get; init; } = [8, 16, 32, 64, 128];
    /// <summary>Proposal candidates kept by the heatmap top-k (<c>pre_nms_topk_test</c>, 1000).</summary>
    public int PreNmsTopK { get; init; } = 1000;
    /// <summary>Proposals kept after the proposal NMS (<c>post_nms_topk_test</c>, 256).</summary>
    public int PostNmsTopK { get; init; } = 256;
    /// <summary>Proposal NMS IoU (<c>iou_thresh</c>, 0.9).</summary>
    public float ProposalNmsThreshold { get; init; } = 0.9f;
    /// <summary>Widths of the box head's fully connected layers (<c>roi_fc_dims</c>).</summary>
    public IReadOnlyList<int> RoiFcDims { get; init; } = [1024, 1024];
    /// <summary>Detection scores at or below this become −1 (<c>roi_score_threshold</c>, errata E2).</summary>
    public float RoiScoreThreshold { get; init; } = 0.05f;
    /// <summary>Final NMS IoU (<c>roi_nms_threshold</c>, 0.5).</summary>
    public float RoiNmsThreshold { get; init; } = 0.5f;
    /// <summary>K detection slots, all captioned (<c>roi_post_nms_num_detections</c>).</summary>
    public int NumDetections { get; init; } = 100;

    /// <summary>[conv, GroupNorm, ReLU] blocks in the CenterNet tower.</summary>
    public int TowerDepth { get; init; } = 4;
    public int GroupNormGroups { get; init; } = 32;
    /// <summary>Eps of the pyramid LayerNorms and the tower GroupNorms.</summary>
    public float NormEps { get; init; } = 1e-6f;
    /// <summary>RoIAlign output side (7) and samples per bin side (2).</summary>
    public int RoiOutputSize { get; init; } = 7;
    public int RoiSamplingRatio { get; init; } = 2;
    /// <summary>Box-delta weights of the single cascade stage, in scenic's (y, x, h, w) decode order.</summary>
    public IReadOnlyList<float> BoxDeltaWeights { get; init; } = [10f, 10f, 5f, 5f];

    /// <summary>log2 of the first stride (3 for P3).</summary>
    public int MinLevel => (int)Math.Round(Math.Log2(Strides[0]));
    public int MaxLevel => MinLevel + Strides.Count - 1;
}
