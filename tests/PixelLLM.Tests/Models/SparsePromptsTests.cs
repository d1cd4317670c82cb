using PixelLLM.Models;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Models;

/// <summary>Host half of SAM's prompt encoder against a float64 evaluation of the reference formulas.</summary>
public class SparsePromptsTests
{
    // G is (2, 5): an odd feature count; input 37×53 so height and width are not swapped silently.
    private const int F = 5, InputH = 37, InputW = 53;

    private static HostTensor Gaussian(Random rng) => OpHarness.Random(rng, [2, F], 1.5f);

    /// <summary>[sin(2π((2u−1)g₀ + (2v−1)g₁)), cos(…)] in float64.</summary>
    private static double[] ReferencePe(float[] g, double x, double y)
    {
        double u = 2 * (x / InputW) - 1, v = 2 * (y / InputH) - 1;
        var pe = new double[2 * F];
        for (int j = 0; j < F; j++)
        {
            double a = 2 * Math.PI * (u * g[j] + v * g[F + j]);
            pe[j] = Math.Sin(a);
            pe[F + j] = Math.Cos(a);
        }
        return pe;
    }

    [Fact]
    public void PointsGetPixelCentreEncodingAndAPaddingToken()
    {
        var rng = new Random(7);
        var gauss = Gaussian(rng);
        var coords = OpHarness.Random(rng, [3, 2, 2], 40f);
        var labels = HostTensor.FromArray(new long[] { 1, 0, -1, 1, 0, -1 }, 3, 2);
        var prompts = SparsePrompts.Encode(gauss, InputH, InputW, coords, labels, boxes: null)!;

        Assert.Equal(new Shape(3, 3, 2 * F), prompts.Features.Shape);
        const int Fg = PromptEncoder.SlotForeground, Bg = PromptEncoder.SlotBackground, Na = PromptEncoder.SlotNotAPoint;
        Assert.Equal(new[] { Fg, Bg, Na, Na, Fg, Na, Bg, Na, Na }, prompts.Slots.AsSpan<int>().ToArray());
        var g = gauss.ToFloatArray();
        var xy = coords.ToFloatArray();
        var lab = labels.AsSpan<long>().ToArray();
        var got = prompts.Features.ToFloatArray();
        for (int b = 0; b < 3; b++)
            for (int t = 0; t < 3; t++)
            {
                bool zero = t == 2 || lab[b * 2 + t] == -1;
                var expected = zero ? new double[2 * F] : ReferencePe(g, xy[(b * 2 + t) * 2] + 0.5, xy[(b * 2 + t) * 2 + 1] + 0.5);
                OpHarness.AssertClose(expected, got.AsSpan((b * 3 + t) * 2 * F, 2 * F), 2e-5, 2e-5, $"token ({b},{t})");
            }
    }

    [Fact]
    public void BoxesFollowPointsWithoutPadding()
    {
        var rng = new Random(11);
        var gauss = Gaussian(rng);
        var coords = OpHarness.Random(rng, [2, 1, 2], 30f);
        var labels = HostTensor.FromArray(new int[] { 1, 0 }, 2, 1);
        var boxes = OpHarness.Random(rng, [2, 4], 50f);
        var prompts = SparsePrompts.Encode(gauss, InputH, InputW, coords, labels, boxes)!;

        Assert.Equal(new Shape(2, 3, 2 * F), prompts.Features.Shape);
        Assert.Equal(new[] { PromptEncoder.SlotForeground, PromptEncoder.SlotBoxTopLeft, PromptEncoder.SlotBoxBottomRight,
            PromptEncoder.SlotBackground, PromptEncoder.SlotBoxTopLeft, PromptEncoder.SlotBoxBottomRight }, prompts.Slots.AsSpan<int>().ToArray());
        var g = gauss.ToFloatArray();
        var box = boxes.ToFloatArray();
        var got = prompts.Features.ToFloatArray();
        for (int b = 0; b < 2; b++)
            for (int corner = 0; corner < 2; corner++)
                OpHarness.AssertClose(ReferencePe(g, box[b * 4 + 2 * corner] + 0.5, box[b * 4 + 2 * corner + 1] + 0.5),
                    got.AsSpan((b * 3 + 1 + corner) * 2 * F, 2 * F), 2e-5, 2e-5, $"box {b} corner {corner}");
    }

    [Fact]
    public void DenseGridUsesCellCentresRowMajor()
    {
        var rng = new Random(3);
        var gauss = Gaussian(rng);
        var grid = RandomFourierEncoding.Grid(gauss, 3, 7);
        Assert.Equal(new Shape(1, 3, 7, 2 * F), grid.Shape);
        var g = gauss.ToFloatArray();
        var got = grid.ToFloatArray();
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 7; j++)
            {
                // ReferencePe normalises by the input size; scale the cell centre so that it lands on ((j+.5)/7, (i+.5)/3).
                var expected = ReferencePe(g, (j + 0.5) / 7 * InputW, (i + 0.5) / 3 * InputH);
                OpHarness.AssertClose(expected, got.AsSpan((i * 7 + j) * 2 * F, 2 * F), 2e-5, 2e-5, $"cell ({i},{j})");
            }
    }

    [Fact]
    public void NoPromptsGiveNull() =>
        Assert.Null(SparsePrompts.Encode(Gaussian(new Random(1)), InputH, InputW, null, null, null));

    [Fact]
    public void BadPromptsAreRejected()
    {
        var gauss = Gaussian(new Random(1));
        var coords = HostTensor.Zeros(DType.F32, 1, 2, 2);
        Assert.Throws<InvalidInputException>(() => SparsePrompts.Encode(gauss, InputH, InputW, coords, null, null));
        Assert.Throws<InvalidInputException>(() => SparsePrompts.Encode(gauss, InputH, InputW, coords, HostTensor.FromArray(new long[] { 1, 2 }, 1, 2), null));
        Assert.Throws<InvalidInputException>(() => SparsePrompts.Encode(gauss, InputH, InputW, coords, HostTensor.Zeros(DType.I64, 1, 3), null));
        Assert.Throws<InvalidInputException>(() => SparsePrompts.Encode(gauss, InputH, InputW, coords, HostTensor.Zeros(DType.I64, 1, 2), HostTensor.Zeros(DType.F32, 2, 4)));
        Assert.Throws<InvalidInputException>(() => SparsePrompts.Encode(gauss, InputH, InputW, null, null, HostTensor.Zeros(DType.F32, 2, 5)));
    }
}
