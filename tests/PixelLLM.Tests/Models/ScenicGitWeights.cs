using PixelLLM.Models.Checkpoints;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Tests.Models;

/// <summary>
/// Test-side view of a scenic checkpoint's <c>textual/...</c> tensors under the GIT decoder's engine names, through
/// <see cref="ScenicGitNames"/> (Dense kernels transposed to (out, in)). The whole-model converter does the same.
/// </summary>
internal sealed class ScenicGitWeights(IWeightSource scenic) : IWeightSource
{
    public IEnumerable<string> Names => throw new NotSupportedException("ScenicGitWeights maps names on demand only");

    public bool Contains(string name) => ScenicGitNames.ToScenic(name) is { } m && scenic.Contains(m.ScenicName);

    public HostTensor Get(string name)
    {
        var (scenicName, transpose) = ScenicGitNames.ToScenic(name)
            ?? throw new ModelFileException($"scenic weights: '{name}' is not a GIT decoder parameter");
        var t = scenic.Get(scenicName).ToF32();
        if (!transpose) return t;
        if (t.Shape.Rank != 2) throw new ModelFileException($"scenic weights: '{scenicName}' should be a 2-D Dense kernel, got {t.Desc}");
        int rows = t.Shape[0], cols = t.Shape[1];
        var src = t.ToFloatArray();
        var dst = new float[src.Length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) dst[j * rows + i] = src[i * cols + j];
        return HostTensor.FromArray(dst, cols, rows);
    }
}
