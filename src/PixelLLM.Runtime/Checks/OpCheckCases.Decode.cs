using PixelLLM.Runtime.Ops;

namespace PixelLLM.Runtime.Checks;

public static partial class OpCheckCases
{
    /// <summary>
    /// The decode-step shapes the CUDA backend serves with its own kernels instead of the general ones: Linear and the
    /// 1×1 convolution on at most 8 rows (gemv.cu: 16-byte loads when K is a multiple of 8, scalar when K is odd, a
    /// K long enough to take several unrolled passes; 9 rows falls back to cuBLAS).
    /// </summary>
    private static IEnumerable<OpCheckCase> DecodeCases()
    {
        yield return C("gemv 1 row k40 bias", new LinearOp(true), F(1, 1, 40), F(37, 40), F(37));
        yield return C("gemv 3 rows batch dims", new LinearOp(false), F(3, 1, 40), F(33, 40));
        yield return C("gemv 1 row k odd", new LinearOp(false), F(1, 13), F(70, 13));
        yield return C("gemv 8 rows k odd bias", new LinearOp(true), F(2, 4, 27), F(19, 27), F(19));
        yield return C("gemv 2 rows k1032 bias", new LinearOp(true), F(2, 1032), F(5, 1032), F(5));
        yield return C("gemv 5 rows k12", new LinearOp(false), F(5, 1, 12), F(3, 12));
        yield return C("9 rows cublas bias", new LinearOp(true), F(9, 24), F(11, 24), F(11));
        yield return C("pointwise 3 pixels gemv", new Conv2dOp(1, 1, 0, 0, true), F(1, 1, 3, 6), F(4, 6, 1, 1), F(4));
    }
}
