using PixelLLM.Runtime;

namespace PixelLLM.Models;

/// <summary>
/// Host-side sin/cos tables of EVA02's 2-D rotary embedding, in the layout the Rope op reads: one row per patch token
/// (row-major over the grid), one column per head dim. Dims [0, D/2) rotate by the token's row position, dims [D/2, D)
/// by its column position; within each half, pair (2j, 2j+1) shares frequency temperature^(−j/(D/4)).
/// Positions are i / grid · reference, evaluated in float32 like timm's RotaryEmbeddingCat (ref_feat_shape) and scenic
/// (reference = grid, so i / S · S: integers up to one float32 ulp, spec errata B8).
/// </summary>
public static class Eva02Rope
{
    /// <summary>The (sin, cos) tables, each (gridH·gridW, headDim).</summary>
    public static (HostTensor Sin, HostTensor Cos) Tables(int headDim, int gridH, int gridW, int refH, int refW, float temperature = 10000f)
    {
        if (headDim < 4 || headDim % 4 != 0)
            throw new GraphBuildException($"Eva02Rope: head dim {headDim} must be a positive multiple of 4 (two axes × interleaved pairs)");
        if (gridH < 1 || gridW < 1 || refH < 1 || refW < 1)
            throw new GraphBuildException($"Eva02Rope: grid {gridH}×{gridW} and reference {refH}×{refW} must be positive");

        int bands = headDim / 4;
        var freq = Frequencies(bands, temperature);
        var rowPos = Positions(gridH, refH);
        var colPos = Positions(gridW, refW);

        int tokens = gridH * gridW;
        var sin = new float[tokens * headDim];
        var cos = new float[tokens * headDim];
        for (int r = 0; r < gridH; r++)
            for (int c = 0; c < gridW; c++)
            {
                int row = (r * gridW + c) * headDim;
                for (int j = 0; j < bands; j++)
                {
                    Fill(sin, cos, row + 2 * j, rowPos[r] * freq[j]);
                    Fill(sin, cos, row + headDim / 2 + 2 * j, colPos[c] * freq[j]);
                }
            }
        return (HostTensor.FromArray(sin, tokens, headDim), HostTensor.FromArray(cos, tokens, headDim));
    }

    // The angle is a float32 product (as in the references); sin/cos of that float32 value are then exact to rounding.
    private static void Fill(float[] sin, float[] cos, int at, float angle)
    {
        float s = (float)Math.Sin(angle), c = (float)Math.Cos(angle);
        sin[at] = sin[at + 1] = s;
        cos[at] = cos[at + 1] = c;
    }

    private static float[] Frequencies(int bands, float temperature)
    {
        var f = new float[bands];
        for (int j = 0; j < bands; j++)
        {
            float exponent = (float)j / bands;
            f[j] = 1f / (float)Math.Pow(temperature, exponent);
        }
        return f;
    }

    private static float[] Positions(int grid, int reference)
    {
        var t = new float[grid];
        for (int i = 0; i < grid; i++) t[i] = (float)i / grid * reference;
        return t;
    }
}
