using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// PixelLLM's sparse prompt tokens (scenic <c>forward_prompt_encoder_adapter</c>, spec §4.1). Every prompt box yields
/// K + 1 tokens, K the sampled points (<see cref="PointCount"/>: P² for P box points per side ≥ 1, the two corners for
/// P &lt; 1): a box with any coordinate > 0 gives [TL corner PE + point_embeddings.2, BR corner PE + point_embeddings.3,
/// no_mask_embed × (K − 1)]; an all-zero (padding) box takes the point path: its K sampled points (label 1: PE +
/// point_embeddings.1) and a padding point (not_a_point_embed). Corners and points
/// are shifted by +0.5 and normalised by the canvas. The Fourier features are computed on the host
/// (<see cref="Encode"/>); the learned rows are added in the graph (<see cref="Embeddings"/>).
/// </summary>
public static class PixelLlmPrompts
{
    /// <summary>Rows of the learned table a token's slot selects.</summary>
    public const int SlotNotAPoint = 0, SlotBackground = 1, SlotForeground = 2, SlotBoxTopLeft = 3, SlotBoxBottomRight = 4, SlotNoMask = 5;

    /// <summary>Host half: Fourier features F32 (N, T, E), slots I32 (N, T), box-valid mask U8 (N).</summary>
    public sealed record Tokens(HostTensor Features, HostTensor Slots, HostTensor BoxValid);

    /// <param name="boxes">F32 (N, 4) XYXY in pixels of the valid image.</param>
    /// <param name="gaussian">The prompt encoder's pe_layer.positional_encoding_gaussian_matrix (2, E/2).</param>
    /// <param name="useBoxes">false: every box takes the point path (scenic's <c>prompt_use_box_rate</c> 0).</param>
    public static Tokens Encode(HostTensor boxes, HostTensor gaussian, int canvas, int pointsPerSide, bool withOffset, bool useBoxes = true)
    {
        if (boxes.DType != DType.F32 || boxes.Shape.Rank != 2 || boxes.Shape[1] != 4)
            throw new InvalidInputException($"prompt boxes must be F32 (N, 4) XYXY, got {boxes.Desc}");
        if (gaussian.Shape.Rank != 2 || gaussian.Shape[0] != 2)
            throw new ModelFileException($"sam.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix must be (2, F), got {gaussian.Shape}");
        var g = gaussian.ToFloatArray();
        int n = boxes.Shape[0], e = 2 * gaussian.Shape[1], points = PointCount(pointsPerSide), tokens = points + 1;
        var grid = SolidGrid(pointsPerSide, withOffset);
        var box = boxes.ToFloatArray();
        var features = new float[n * tokens * e];
        var slots = new int[n * tokens];
        var valid = new byte[n];
        for (int i = 0; i < n; i++)
        {
            var b = box.AsSpan(i * 4, 4);
            var f = features.AsSpan(i * tokens * e, tokens * e);
            var s = slots.AsSpan(i * tokens, tokens);
            valid[i] = (byte)(useBoxes && MathF.Max(MathF.Max(b[0], b[1]), MathF.Max(b[2], b[3])) > 0 ? 1 : 0);
            if (valid[i] == 1)
            {
                Fourier(g, b[0] + 0.5f, b[1] + 0.5f, canvas, f[..e]);
                Fourier(g, b[2] + 0.5f, b[3] + 0.5f, canvas, f.Slice(e, e));
                s[0] = SlotBoxTopLeft;
                s[1] = SlotBoxBottomRight;
                s[2..].Fill(SlotNoMask);
                continue;
            }
            // scenic boxes_to_points: xy + grid · wh, with w = x1 − x0 and h = y1 − y0.
            float w = b[2] - b[0], h = b[3] - b[1];
            for (int p = 0; p < points; p++)
            {
                float x = b[0] + grid[2 * p] * w, y = b[1] + grid[2 * p + 1] * h;
                Fourier(g, x + 0.5f, y + 0.5f, canvas, f.Slice(p * e, e));
                s[p] = SlotForeground;
            }
            s[points] = SlotNotAPoint;                         // the padding point: no Fourier term
        }
        return new Tokens(HostTensor.FromArray(features, n, tokens, e), HostTensor.FromArray(slots, n, tokens), HostTensor.FromArray(valid, n));
    }

    /// <summary>
    /// Graph half: features + [not_a_point, pe0, pe1, pe2, pe3, no_mask][slot] → (N, T, E). The six (1, E) embeddings are
    /// stacked once when the weights load, not concatenated by every run.
    /// </summary>
    public static Tensor Embeddings(ParamScope promptEncoder, Tensor features, Tensor slots)
    {
        var g = promptEncoder.Graph;
        var table = promptEncoder.Stacked(["not_a_point_embed.weight", "point_embeddings.0.weight", "point_embeddings.1.weight",
            "point_embeddings.2.weight", "point_embeddings.3.weight", "no_mask_embed.weight"], [1, features.Shape[-1]]);
        return g.Add(features, g.Embedding(table, slots));
    }

    /// <summary>The points <see cref="SolidGrid"/> samples on a box: P², or the two corners for P &lt; 1.</summary>
    public static int PointCount(int pointsPerSide) => pointsPerSide < 1 ? 2 : pointsPerSide * pointsPerSide;

    /// <summary>
    /// scenic build_solid_grid: P² points (x, y), x fastest, in [0, 1] (or cell centres with offset); for P &lt; 1 the two
    /// corners (0, 0), (1, 1); for P = 1 the one point linspace gives, its start (the offset: the centre, or the top-left).
    /// </summary>
    public static float[] SolidGrid(int pointsPerSide, bool withOffset)
    {
        if (pointsPerSide < 1) return [0f, 0f, 1f, 1f];
        float offset = withOffset ? 1f / (2 * pointsPerSide) : 0f;
        var side = new float[pointsPerSide];
        // jnp.linspace(offset, 1 − offset, P) in float32 (one point: its start).
        for (int i = 0; i < pointsPerSide; i++)
            side[i] = pointsPerSide == 1 ? offset : (float)(offset + (1.0 - 2 * offset) * i / (pointsPerSide - 1));
        var grid = new float[2 * pointsPerSide * pointsPerSide];
        for (int r = 0; r < pointsPerSide; r++)
            for (int c = 0; c < pointsPerSide; c++)
            {
                grid[2 * (r * pointsPerSide + c)] = side[c];
                grid[2 * (r * pointsPerSide + c) + 1] = side[r];
            }
        return grid;
    }

    /// <summary>[sin(2π·q), cos(2π·q)], q = (2x/C − 1, 2y/C − 1)·G for a pixel position (x, y) on a C×C canvas.</summary>
    private static void Fourier(float[] gaussian, float x, float y, int canvas, Span<float> destination) =>
        RandomFourierEncoding.EncodePixel(gaussian, x, y, canvas, canvas, destination);
}
