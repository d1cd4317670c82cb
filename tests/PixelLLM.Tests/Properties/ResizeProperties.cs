using CsCheck;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Properties;

/// <summary>Resize on random shapes: to the same size it is the identity (bit for bit) for every kernel and antialias setting.</summary>
public class ResizeProperties
{
    [Fact]
    public void ResizeToTheSameSizeIsIdentity()
    {
        var cases = Gen.Select(Gen.Int[1, 4].Array[2, 4], Gen.Int[0, 1], Gen.Bool, Gen.Int[0, 10_000]);
        cases.Sample((shape, kernel, antialias, seed) =>
        {
            var x = OpHarness.Random(new Random(seed), shape.Select(d => d * 3).ToArray());
            var dims = x.Shape.ToArray();
            var axes = Enumerable.Range(0, dims.Length).Where(a => (seed >> a & 1) == 1 || a == dims.Length - 1).ToArray();
            var y = OpHarness.Run(new ResizeOp(axes, axes.Select(a => dims[a]).ToArray(), (ResizeKernel)kernel, antialias), x);
            Assert.Equal(x.ToFloatArray(), y.ToFloatArray());
        }, iter: 60);
    }
}
