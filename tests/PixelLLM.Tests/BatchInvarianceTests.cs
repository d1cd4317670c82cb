using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// The CPU backend's products give an item the same bits in a batch as alone: the GEMM algorithm is chosen by the rows of
/// one item (a Linear input's second-to-last dim), not by the rows of the whole batch. Before, 4 prompts of 5 rows (20
/// rows) took the packed GEMM while 1 prompt took dot products, and N boxes captioned together differed from N single
/// calls in the last bits. Each case batches enough items to cross the 8-row threshold the algorithms switch at.
/// </summary>
public class BatchInvarianceTests
{
    [Theory]
    [InlineData(5, 3, 37, 19, false)]   // 15 rows of 3-row items: dot products per item
    [InlineData(4, 5, 64, 40, false)]   // the tiny T5 encoder's shape: 20 rows of 5
    [InlineData(3, 1, 129, 33, false)]  // decode steps of three prompts, K tail
    [InlineData(3, 11, 23, 17, false)]  // items over the threshold: packed either way
    [InlineData(6, 2, 70, 45, true)]    // bf16-stored weights: bf16 dot products per item
    [InlineData(5, 1, 97, 21, true)]    // bf16 decode steps: a lone row and a paired row sum alike
    [InlineData(3, 3, 64, 9, true)]     // bf16, odd rows per item: pairs straddle the items
    [InlineData(4, 9, 40, 130, true)]   // bf16, items over the threshold: widened GEMM either way
    public void LinearOfABatchEqualsEachItemAlone(int items, int rows, int inFeatures, int outFeatures, bool bf16)
    {
        var rng = new Random(items * 100 + rows);
        var x = OpHarness.Random(rng, [items, rows, inFeatures]);
        var w = OpHarness.Random(rng, [outFeatures, inFeatures]);
        if (bf16) w = Bf16(w);
        var bias = OpHarness.Random(rng, [outFeatures]);
        var batch = OpHarness.Run(new LinearOp(true), x, w, bias).ToFloatArray();
        for (int i = 0; i < items; i++)
        {
            var alone = OpHarness.Run(new LinearOp(true), Item(x, i), w, bias).ToFloatArray();
            Assert.Equal(alone, batch.AsSpan(i * alone.Length, alone.Length).ToArray());
        }
    }

    [Fact]
    public void RmsNormLinearOfABatchEqualsEachItemAlone()
    {
        var rng = new Random(11);
        var x = OpHarness.Random(rng, [4, 3, 48]);
        var gain = OpHarness.Random(rng, [48]);
        var w = OpHarness.Random(rng, [29, 48]);
        var batch = OpHarness.Run(new RmsNormLinearOp(1e-6f), x, gain, w).ToFloatArray();
        for (int i = 0; i < 4; i++)
        {
            var alone = OpHarness.Run(new RmsNormLinearOp(1e-6f), Item(x, i), gain, w).ToFloatArray();
            Assert.Equal(alone, batch.AsSpan(i * alone.Length, alone.Length).ToArray());
        }
    }

    [Fact]
    public void MatMulWithASharedRightOperandEqualsEachItemAlone()
    {
        var rng = new Random(12);
        var a = OpHarness.Random(rng, [5, 4, 33]);
        var b = OpHarness.Random(rng, [21, 33]);
        var batch = OpHarness.Run(new MatMulOp(TransB: true), a, b).ToFloatArray();
        for (int i = 0; i < 5; i++)
        {
            var alone = OpHarness.Run(new MatMulOp(TransB: true), Item(a, i), b).ToFloatArray();
            Assert.Equal(alone, batch.AsSpan(i * alone.Length, alone.Length).ToArray());
        }
    }

    /// <summary>Item i of a rank-3 tensor as a (1, rows, width) tensor.</summary>
    private static HostTensor Item(HostTensor t, int i)
    {
        int rows = t.Shape[1], width = t.Shape[2], size = rows * width;
        return HostTensor.FromArray(t.ToFloatArray().AsSpan(i * size, size).ToArray(), 1, rows, width);
    }

    private static HostTensor Bf16(HostTensor f32)
    {
        var bits = f32.ToFloatArray().Select(BFloat16.FromSingle).ToArray();
        var bytes = new byte[bits.Length * 2];
        Buffer.BlockCopy(bits, 0, bytes, 0, bytes.Length);
        return new HostTensor(new TensorDesc(DType.BF16, f32.Shape), bytes);
    }
}
