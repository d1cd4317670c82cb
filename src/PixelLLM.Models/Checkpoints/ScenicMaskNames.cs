namespace PixelLLM.Models.Checkpoints;

/// <summary>
/// scenic → engine names of the referring-segmentation branch (spec §7.2–7.3), called first by <see cref="ScenicNameMap.Map"/>:
/// <list type="table">
/// <item><term><c>mask_adapter.output_tokens.weight</c>, <c>mask_adapter.alpha_output.weight</c></term><description>
///   <c>mask_adapter/output_tokens.weight</c> (queries), <c>mask_adapter/alpha_output.weight</c> (gate) as is.</description></item>
/// <item><term><c>mask_adapter.{visual,textual}_projection.norm.{weight,bias}</c>, <c>….layers.j.{weight,bias}</c></term><description>
///   <c>mask_adapter/{visual,textual}_projection_mlp/LayerNorm_0</c> (scale → weight) and <c>…/layers.j</c> (Dense, transposed).</description></item>
/// <item><term><c>mask_adapter.transformer.&lt;segment-anything TwoWayTransformer name&gt;</c></term><description>
///   <c>mask_adapter/transformer/…</c>: '/' → '.', kernel/scale → weight, Dense kernels transposed.</description></item>
/// <item><term><c>sam.mask_decoder.&lt;segment-anything MaskDecoder name&gt;</c></term><description><c>mask_decoder/…</c> the same
///   way; <c>output_upscaling/{0,3}/kernel</c> are Flax ConvTranspose kernels with transpose_kernel=True, stored (kh, kw, out, in):
///   the (kh, kw, a, b) → (b, a, kh, kw) conv permutation turns them into PyTorch's ConvTranspose2d (in, out, kh, kw).</description></item>
/// </list>
/// </summary>
internal static class ScenicMaskNames
{
    public const string Adapter = "mask_adapter.";
    public const string Decoder = "sam.mask_decoder.";

    /// <summary>The mapping of a mask-branch path; null for any other path (or an unknown mask-branch leaf).</summary>
    public static ScenicMapping? Map(string path)
    {
        var parts = path.Split('/');
        if (parts.Length < 2) return null;
        string? engine = parts[0] switch
        {
            "mask_adapter" => AdapterName(parts[1..]),
            "mask_decoder" => Decoder + Join(parts[1..]),
            _ => null,
        };
        if (engine is null) return null;
        var layout = parts[^1] switch
        {
            "kernel" when parts[0] == "mask_decoder" && parts[1] == "output_upscaling" => ScenicLayout.ConvKernel,
            "kernel" => ScenicLayout.DenseKernel,
            _ => ScenicLayout.AsIs,
        };
        return new ScenicMapping(engine, layout, [path]);
    }

    private static string? AdapterName(string[] parts) => parts switch
    {
        [var table and ("output_tokens.weight" or "alpha_output.weight")] => Adapter + table,
        ["transformer", ..] => Adapter + Join(parts),
        [var mlp and ("visual_projection_mlp" or "textual_projection_mlp"), "LayerNorm_0", var leaf] =>
            $"{Adapter}{mlp[..^"_mlp".Length]}.norm.{Leaf(leaf)}",
        [var mlp and ("visual_projection_mlp" or "textual_projection_mlp"), var layer, var leaf] when layer.StartsWith("layers.", StringComparison.Ordinal) =>
            $"{Adapter}{mlp[..^"_mlp".Length]}.{layer}.{Leaf(leaf)}",
        _ => null,
    };

    private static string Join(string[] parts) => string.Join('.', parts[..^1].Append(Leaf(parts[^1])));

    private static string Leaf(string leaf) => leaf is "kernel" or "scale" ? "weight" : leaf;
}
