namespace PixelLLM.Models.Checkpoints;

/// <summary>
/// scenic → engine names of the CenterNet2 box decoder (spec §7.1): <c>box_decoder/&lt;path&gt;</c> becomes
/// <c>box_decoder.&lt;path with '.'&gt;</c>, leaves kernel/scale → weight (so <c>scales.l/scale</c> → <c>scales.l.weight</c>).
/// Layouts: the pyramid's up-sampling <c>fpn/simfp_3.0</c> kernel is a Flax ConvTranspose (flipped into a PyTorch
/// ConvTranspose2d weight, errata E9); every other pyramid and CenterNet kernel is a Conv (kh, kw, in, out);
/// the RoI box head's kernels are Dense.
/// </summary>
internal static class ScenicBoxDecoderNames
{
    public const string Prefix = "box_decoder.";
    private const string Scenic = "box_decoder/";

    /// <summary>The mapping of a <c>box_decoder/…</c> path, or null for any other path.</summary>
    public static ScenicMapping? Map(string path)
    {
        if (!path.StartsWith(Scenic, StringComparison.Ordinal)) return null;
        var parts = path[Scenic.Length..].Split('/');
        if (parts.Length < 2 || parts.Any(p => p.Length == 0)) return null;
        var leaf = parts[^1];
        var layout = leaf != "kernel" ? ScenicLayout.AsIs
            : parts is ["fpn", "simfp_3.0", _] ? ScenicLayout.ConvTransposeKernel
            : parts[0] == "roi_heads" ? ScenicLayout.DenseKernel
            : ScenicLayout.ConvKernel;
        parts[^1] = leaf is "kernel" or "scale" ? "weight" : leaf;
        return new ScenicMapping(Prefix + string.Join('.', parts), layout, [path]);
    }
}
