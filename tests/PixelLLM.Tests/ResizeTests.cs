using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

public class ResizeTests
{
    public static TheoryData<int[], int[], int[], ResizeKernel, bool> Cases => new()
    {
        { [2, 3, 7, 9], [2, 3], [11, 5], ResizeKernel.Linear, true },    // NCHW, up then down
        { [2, 3, 7, 9], [2, 3], [11, 5], ResizeKernel.Linear, false },
        { [2, 3, 7, 9], [2, 3], [11, 5], ResizeKernel.Cubic, true },
        { [2, 3, 7, 9], [2, 3], [4, 20], ResizeKernel.Cubic, false },
        { [2, 7, 9, 3], [1, 2], [5, 13], ResizeKernel.Cubic, true },     // NHWC
        { [2, 7, 9, 3], [-3, -2], [12, 4], ResizeKernel.Linear, true },  // negative axes
        { [127, 6], [0], [47], ResizeKernel.Linear, true },              // SAM rel-pos table
        { [127, 6], [0], [47], ResizeKernel.Linear, false },
        { [64, 5], [0], [24], ResizeKernel.Cubic, true },                // SAM pos-embed 64 → 24 (ks = 8/3)
        { [16, 3], [0], [27], ResizeKernel.Cubic, true },                // EVA pos-embed 16 → 27
        { [5, 6, 7], [0, 1, 2], [3, 9, 4], ResizeKernel.Cubic, true },   // three passes: both scratch buffers
        { [1, 4, 6, 7], [2, 3], [6, 10], ResizeKernel.Linear, true },    // an unchanged axis is skipped
        { [1, 4, 6, 7], [2, 3], [6, 7], ResizeKernel.Cubic, true },      // nothing changes: a copy
        { [1, 64, 24, 24], [2, 3], [27, 27], ResizeKernel.Cubic, true }, // SAM → fusion grid, parallel passes
        { [1, 1, 3, 40], [3], [1], ResizeKernel.Linear, true },          // a single output sample
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesNaiveReference(int[] shape, int[] axes, int[] sizes, ResizeKernel kernel, bool antialias)
    {
        var x = OpHarness.Random(new Random(shape.Sum() + sizes.Sum()), shape);
        var expected = OpHarness.AsDoubles(x);
        var dims = (int[])shape.Clone();
        for (int i = 0; i < axes.Length; i++)
        {
            int axis = axes[i] < 0 ? axes[i] + shape.Length : axes[i];
            expected = ResizeAxis(expected, dims, axis, sizes[i], kernel, antialias);
            dims[axis] = sizes[i];
        }
        var got = OpHarness.Run(new ResizeOp(axes, sizes, kernel, antialias), x);
        Assert.Equal(new Shape(dims), got.Shape);
        OpHarness.AssertClose(expected, got);
    }

    // Fixtures from PyTorch 1.13 on the input Fixture(shape) below; e.g. for the first:
    //   x = torch.tensor([((i*37+11)%101)/50.0-1.0 for i in range(12)], dtype=torch.float64).float().reshape(1,1,3,4)
    //   F.interpolate(x, size=(5,7), mode="bilinear", align_corners=False).flatten()
    // the others add antialias=True (mode "bicubic" for the cubic one), which is the same algorithm as jax's resize.

    [Fact]
    public void LinearWithoutAntialiasEqualsTorchBilinearUpsampling()
    {
        float[] torch = [-0.779999971f, -0.515714228f, -0.092857115f, 0.330000073f, 0.608571291f, -0.122857355f, -0.579999983f,
            -0.403999954f, -0.139714226f, 0.283142895f, 0.301999986f, 0.234285638f, -0.0354286246f, -0.203999951f, 0.159999937f,
            0.42428565f, 0.847142816f, 0.259999841f, -0.327142715f, 0.0957143977f, 0.359999955f, -0.488000095f, -0.223714337f,
            0.199142784f, 0.21799998f, 0.150285721f, -0.119428687f, -0.288000107f, -0.920000017f, -0.655714214f, -0.232857138f,
            0.190000087f, 0.468571305f, -0.262857378f, -0.720000029f];
        AssertMatchesTorch(torch, [1, 1, 3, 4], [5, 7], ResizeKernel.Linear, antialias: false);
    }

    [Fact]
    public void AntialiasedLinearDownsamplingEqualsTorch()
    {
        float[] torch = [-0.0977959186f, 0.00898954831f, 0.167700335f, 0.0653469265f, -0.23408404f, -0.137388811f, 0.0260832198f,
            0.165008411f, 0.185673445f, 0.0747734755f, -0.11139372f, -0.0222040601f];
        AssertMatchesTorch(torch, [1, 1, 7, 9], [3, 4], ResizeKernel.Linear, antialias: true);
    }

    [Fact]
    public void AntialiasedCubicEqualsTorchBicubic()
    {
        float[] torch = [-0.51132375f, 0.304522574f, -0.141631648f, -0.0366154052f, 0.0725472346f, -0.357013583f, 0.378684461f,
            -0.144794375f, -0.451465815f, 0.00843085721f, -0.0129588135f, 0.00901282113f, 0.259499997f, 0.134796485f, -0.161326796f,
            0.539487958f, 0.141056225f, -0.263038248f, 0.271097481f, -0.165732011f, 0.409799218f, 0.00399998948f, -0.441630721f,
            0.365465999f, -0.158368483f, -0.599577785f, 0.133631483f];
        AssertMatchesTorch(torch, [1, 1, 6, 5], [9, 3], ResizeKernel.Cubic, antialias: true);
    }

    [Fact]
    public void RelPosTable127To47EqualsTorch()
    {
        // torch ran it as a (1, 1, 127, 1) → (47, 1) image; here it is the 1-D resize of axis 0 it amounts to.
        float[] torch = [-0.119738594f, 0.131091446f, 0.0368914828f, -0.18227917f, -5.90068958e-05f, 0.175162226f, 0.127828628f,
            -0.132865548f, 0.0440118797f, -0.0291596055f, -0.266916394f, -0.0871385932f, 0.0866471082f, 0.0636925995f, -0.218289077f,
            -0.0430677123f, 0.118624553f, 0.178366974f, -0.174218342f, -0.00598822534f, 0.170172334f, 0.28454271f, -0.130147308f,
            0.0266288854f, 0.123599231f, -0.261297673f, -0.0983331352f, 0.0930813998f, 0.221297026f, -0.222856745f, -0.0505444333f,
            0.149734363f, 0.31899631f, -0.190397456f, 0.0160588324f, 0.158053577f, -0.315273315f, -0.127652183f, 0.0626547858f,
            0.245438442f, -0.271257222f, -0.0684955791f, 0.106725499f, 0.311965674f, -0.204692155f, -0.0244248342f, 0.153790548f];
        var got = OpHarness.Run(new ResizeOp([0], [47], ResizeKernel.Linear), Fixture([127]));
        OpHarness.AssertClose(torch.Select(v => (double)v).ToArray(), got);
    }

    private static void AssertMatchesTorch(float[] torch, int[] shape, int[] hw, ResizeKernel kernel, bool antialias)
    {
        var got = OpHarness.Run(new ResizeOp([2, 3], hw, kernel, antialias), Fixture(shape));
        Assert.Equal(new Shape(1, 1, hw[0], hw[1]), got.Shape);
        OpHarness.AssertClose(torch.Select(v => (double)v).ToArray(), got);
    }

    /// <summary>Inputs exactly reproducible in Python: ((i·37 + 11) mod 101)/50 − 1 rounded to float32.</summary>
    private static HostTensor Fixture(int[] shape)
    {
        var v = new float[shape.Aggregate(1, (a, d) => a * d)];
        for (int i = 0; i < v.Length; i++) v[i] = (float)((i * 37 + 11) % 101 / 50.0 - 1.0);
        return HostTensor.FromArray(v, shape);
    }

    /// <summary>One axis of jax.image.resize in float64, from the spec's formulas: a dense weight per (output, input).</summary>
    private static double[] ResizeAxis(double[] x, int[] dims, int axis, int outSize, ResizeKernel kernel, bool antialias)
    {
        int inSize = dims[axis];
        int outer = dims[..axis].Aggregate(1, (a, d) => a * d), inner = dims[(axis + 1)..].Aggregate(1, (a, d) => a * d);
        double scale = (double)inSize / outSize, widen = antialias ? Math.Max(scale, 1) : 1;
        var weights = new double[outSize, inSize];
        for (int j = 0; j < outSize; j++)
        {
            double sample = (j + 0.5) * scale - 0.5, sum = 0;
            if (sample < -0.5 || sample > inSize - 0.5) continue;
            for (int i = 0; i < inSize; i++) sum += weights[j, i] = Kernel(kernel, Math.Abs(sample - i) / widen);
            for (int i = 0; i < inSize; i++) weights[j, i] = Math.Abs(sum) > 1e-4 ? weights[j, i] / sum : 0;
        }
        var y = new double[outer * outSize * inner];
        for (int o = 0; o < outer; o++)
        for (int j = 0; j < outSize; j++)
        for (int e = 0; e < inner; e++)
        {
            double acc = 0;
            for (int i = 0; i < inSize; i++) acc += weights[j, i] * x[(o * inSize + i) * inner + e];
            y[(o * outSize + j) * inner + e] = acc;
        }
        return y;
    }

    private static double Kernel(ResizeKernel kernel, double d) => kernel == ResizeKernel.Linear
        ? Math.Max(0, 1 - d)
        : d < 1 ? 1.5 * d * d * d - 2.5 * d * d + 1 : d < 2 ? -0.5 * d * d * d + 2.5 * d * d - 4 * d + 2 : 0;
}
