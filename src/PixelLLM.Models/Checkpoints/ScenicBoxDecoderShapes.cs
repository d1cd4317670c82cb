using PixelLLM.Models.DenseCaptioning;

namespace PixelLLM.Models.Checkpoints;

/// <summary>The box decoder's scenic parameters and Flax shapes (spec §7.1) for <see cref="ScenicParameterShapes"/>.</summary>
internal static class ScenicBoxDecoderShapes
{
    /// <param name="inputChannels">Channels of the fused map the pyramid reads (EVA02 + SAM widths).</param>
    public static void Add(Dictionary<string, int[]> s, BoxDecoderConfig b, int inputChannels)
    {
        const string fpn = "box_decoder/fpn/";
        int c = b.FpnOutChannels, up = b.FpnInDim / 2;
        s[fpn + "simfp_3.0/kernel"] = [2, 2, inputChannels, up];
        s[fpn + "simfp_3.0/bias"] = [up];
        ConvNorm(s, fpn + "simfp_3.1", 1, up, c);
        ConvNorm(s, fpn + "simfp_3.2", 3, c, c);
        ConvNorm(s, fpn + "simfp_4.0", 1, inputChannels, c);
        ConvNorm(s, fpn + "simfp_4.1", 3, c, c);
        ConvNorm(s, fpn + "simfp_5.1", 1, inputChannels, c);
        ConvNorm(s, fpn + "simfp_5.2", 3, c, c);
        foreach (var top in new[] { "p6", "p7" })
        {
            s[$"{fpn}top_block/{top}/kernel"] = [3, 3, c, c];
            s[$"{fpn}top_block/{top}/bias"] = [c];
        }

        const string head = "box_decoder/proposal_generator/";
        int h = b.HeadDim;
        for (int i = 0; i < b.TowerDepth; i++)
        {
            s[$"{head}bbox_tower/{3 * i}/kernel"] = [3, 3, i == 0 ? c : h, h];
            s[$"{head}bbox_tower/{3 * i}/bias"] = [h];
            s[$"{head}bbox_tower/{3 * i + 1}/scale"] = [h];
            s[$"{head}bbox_tower/{3 * i + 1}/bias"] = [h];
        }
        foreach (var (name, outputs) in new[] { ("bbox_pred", 4), ("agn_hm", 1) })
        {
            s[$"{head}{name}/kernel"] = [3, 3, h, outputs];
            s[$"{head}{name}/bias"] = [outputs];
        }
        for (int l = 0; l < b.Strides.Count; l++) s[$"{head}scales.{l}/scale"] = [1];

        const string box = "box_decoder/roi_heads/box_head.0/";
        int width = b.RoiOutputSize * b.RoiOutputSize * c;
        for (int i = 0; i < b.RoiFcDims.Count; i++)
        {
            Dense(s, $"{box}fc{i + 1}", width, b.RoiFcDims[i]);
            width = b.RoiFcDims[i];
        }
        Dense(s, box + "cls_score", width, 2);
        Dense(s, box + "bbox_pred", width, 4);
    }

    private static void ConvNorm(Dictionary<string, int[]> s, string prefix, int k, int cin, int cout)
    {
        s[prefix + "/kernel"] = [k, k, cin, cout];
        s[prefix + ".norm/scale"] = [cout];
        s[prefix + ".norm/bias"] = [cout];
    }

    private static void Dense(Dictionary<string, int[]> s, string prefix, int fanIn, int fanOut)
    {
        s[prefix + "/kernel"] = [fanIn, fanOut];
        s[prefix + "/bias"] = [fanOut];
    }
}
