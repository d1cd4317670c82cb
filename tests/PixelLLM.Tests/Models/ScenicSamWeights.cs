using PixelLLM.Runtime;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Tests.Models;

/// <summary>
/// Test-side view of a scenic checkpoint's <c>sam_backbone/...</c> tensors under segment-anything names and layouts
/// (spec §3.4: '/' between levels, <c>kernel</c>/<c>scale</c> for <c>weight</c>, Dense (in, out), Conv (kh, kw, in, out)).
/// The real converter is a later issue; this only lets the PixelLLM goldens drive the encoder.
/// </summary>
internal sealed class ScenicSamWeights(IWeightSource scenic, string root = "sam_backbone") : IWeightSource
{
    public IEnumerable<string> Names => throw new NotSupportedException("ScenicSamWeights maps names on demand only");

    public bool Contains(string name) => Locate(name) is not null;

    public HostTensor Get(string name)
    {
        var scenicName = Locate(name) ?? throw new ModelFileException($"scenic weights: no tensor for '{name}' under {root}/");
        var t = scenic.Get(scenicName).ToF32();
        if (!scenicName.EndsWith("/kernel", StringComparison.Ordinal)) return t;
        return t.Shape.Rank == 2 ? Permute(t, 1, 0) : Permute(t, 3, 2, 0, 1);
    }

    /// <summary>"blocks.3.attn.qkv.weight" → "sam_backbone/blocks.3/attn/qkv/kernel" (or ".../scale" for norms).</summary>
    private string? Locate(string name)
    {
        var parts = name.Split('.').ToList();
        // Components that hold a literal dot in scenic's tree.
        if (parts.Count > 2 && parts[0] is "blocks" or "patch_embed") { parts[0] += "." + parts[1]; parts.RemoveAt(1); }
        var stem = root + "/" + string.Join('/', parts.Take(parts.Count - 1));
        var candidates = parts[^1] == "weight" ? new[] { stem + "/kernel", stem + "/scale" } : [root + "/" + string.Join('/', parts)];
        return candidates.FirstOrDefault(scenic.Contains);
    }

    private static HostTensor Permute(HostTensor t, params int[] perm)
    {
        var src = t.ToFloatArray();
        var inShape = t.Shape.ToArray();
        var outShape = perm.Select(p => inShape[p]).ToArray();
        var inStrides = t.Shape.Strides();
        var dst = new float[src.Length];
        var index = new int[outShape.Length];
        for (int i = 0; i < dst.Length; i++)
        {
            long offset = 0;
            for (int d = 0; d < perm.Length; d++) offset += index[d] * inStrides[perm[d]];
            dst[i] = src[offset];
            for (int d = outShape.Length - 1; d >= 0 && ++index[d] == outShape[d]; d--) index[d] = 0;
        }
        return HostTensor.FromArray(dst, outShape);
    }
}
