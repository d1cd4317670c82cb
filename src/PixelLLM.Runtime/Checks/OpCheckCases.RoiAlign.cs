using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Runtime.Checks;

public static partial class OpCheckCases
{
    /// <summary>
    /// RoIAlign on given boxes (random ones would rarely touch a border): inside, across each border, past every border,
    /// zero width, zero height, a point, and map ids outside the maps (zeros). Coordinates are quarters, exact in bf16, so
    /// both storage modes pool the same boxes.
    /// </summary>
    private static IEnumerable<OpCheckCase> RoiAlignCases()
    {
        float[] twoMapBoxes =
        [
            1.25f, 0.75f, 6.5f, 5.25f,    // map 0, inside
            -1.5f, -0.75f, 3.25f, 2.5f,   // map 0, across the left and top borders
            2.5f, 1.75f, 6.25f, 5.5f,     // map 1, across the right and bottom borders
            2.5f, 1f, 2.5f, 3.75f,        // map 0, zero width
            -2.25f, -1.5f, 7.5f, 6.25f,   // map 1, past every border
            0.5f, 0.5f, 3f, 2f,           // id −1: zeros
            0.5f, 0.5f, 3f, 2f,           // id 2 (two maps): zeros
            1.5f, 2.25f, 4.75f, 2.25f,    // map 1, zero height
        ];
        yield return new OpCheckCase("2 maps s3 r2 borders", new RoiAlignOp(3, 2),
            [F(8, 4), T(DType.I32, 8), F(1, 7, 9, 5), F(1, 4, 5, 5)])
        { Values = new() { [0] = twoMapBoxes, [1] = [0, 0, 1, 0, 1, -1, 2, 1] } };

        float[] oneMapBoxes =
        [
            -0.75f, 0.25f, 5.75f, 6.5f,   // wider and taller than the map
            3f, 3f, 3f, 3f,               // a point
            0.25f, -1.25f, 2.75f, 1.5f,   // across the top border
        ];
        yield return new OpCheckCase("1 map s5 r3", new RoiAlignOp(5, 3), [F(3, 4), T(DType.I32, 3), F(1, 6, 5, 3)])
        { Values = new() { [0] = oneMapBoxes, [1] = [0, 0, 0] } };
    }
}
