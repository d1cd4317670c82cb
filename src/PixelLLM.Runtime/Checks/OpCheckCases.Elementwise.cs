using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Runtime.Checks;

public static partial class OpCheckCases
{
    /// <summary>
    /// The fast paths of the memory-bound kernels and their fallbacks: same-shape and scalar broadcasts (one flat run,
    /// 16-byte vectors with and without a ragged tail), bias-like and per-row broadcasts (rows of vectors, rows of
    /// scalars when the row length breaks alignment), misaligned views (element by element), layouts that stay strided
    /// after coalescing, integer types, and the same for Unary, Scale and the Linear bias epilogue.
    /// </summary>
    private static IEnumerable<OpCheckCase> ElementwiseCases()
    {
        yield return C("same shape n%8=0", new BinaryOp(BinaryKind.Add), F(2, 3, 4, 8), F(2, 3, 4, 8));
        yield return C("same shape n%8!=0", new BinaryOp(BinaryKind.Add), F(2, 3, 5, 7), F(2, 3, 5, 7));
        yield return C("same shape misaligned", new BinaryOp(BinaryKind.Mul), F(2, 3, 4, 8), F(2, 3, 4, 8)) with { Misaligned = [1] };
        yield return C("bias-like", new BinaryOp(BinaryKind.Add), F(5, 96), F(96));
        yield return C("bias-like ragged rows", new BinaryOp(BinaryKind.Sub), F(3, 67), F(67));
        yield return C("bias-like misaligned", new BinaryOp(BinaryKind.Add), F(5, 96), F(96)) with { Misaligned = [0] };
        yield return C("per-row", new BinaryOp(BinaryKind.Div), F(6, 80), F(6, 1)) with { Positive = [1] };
        yield return C("scalar b", new BinaryOp(BinaryKind.Mul), F(3, 5, 7), F(1));
        yield return C("scalar a", new BinaryOp(BinaryKind.Sub), F(1, 1), F(4, 33));
        yield return C("one element", new BinaryOp(BinaryKind.Max), F(1, 1), F(1));
        yield return C("rank 3 after coalescing", new BinaryOp(BinaryKind.Min), F(2, 3, 70), F(2, 1, 70));
        yield return C("Add i32 bias-like", new BinaryOp(BinaryKind.Add), T(DType.I32, 4, 72), T(DType.I32, 72))
            with { Integers = new() { [0] = 1000, [1] = 1000 }, SignedIntegers = [0, 1] };
        yield return C("Div i32 same shape", new BinaryOp(BinaryKind.Div), T(DType.I32, 3, 67), T(DType.I32, 3, 67))
            with { Integers = new() { [0] = 1000, [1] = 9 }, SignedIntegers = [0], Positive = [1] };
        yield return C("Max u8 same shape", new BinaryOp(BinaryKind.Max), T(DType.U8, 2, 50), T(DType.U8, 2, 50))
            with { Integers = new() { [0] = 256, [1] = 256 } };
        yield return C("Mul i64 bias-like", new BinaryOp(BinaryKind.Mul), T(DType.I64, 3, 70), T(DType.I64, 70))
            with { Integers = new() { [0] = 1000, [1] = 1000 }, SignedIntegers = [0, 1] };
        yield return C("Add f16 same shape", new BinaryOp(BinaryKind.Add), T(DType.F16, 3, 41), T(DType.F16, 3, 41));
        yield return C("Gelu n%8!=0", new UnaryOp(UnaryKind.Gelu), F(5, 67));
        yield return C("Silu misaligned", new UnaryOp(UnaryKind.Silu), F(4, 64)) with { Misaligned = [0] };
        yield return C("vectors and tail", new ScaleOp(-0.75f, 0.25f), F(3, 45));
        yield return C("bias vectors", new LinearOp(true), F(3, 5, 7), F(24, 7), F(24));
        yield return C("bias ragged", new LinearOp(true), F(12, 9), F(13, 9), F(13));
        yield return C("warp rows", new LayerNormOp(1e-5f), F(13, 64), F(64), F(64));
        yield return C("warp rows 2048", new LayerNormOp(1e-6f, false, false), F(9, 2048));
        yield return C("over warp max", new LayerNormOp(1e-6f), F(2, 2056), F(2056), F(2056));
        yield return C("warp rows misaligned weight", new LayerNormOp(1e-5f), F(5, 64), F(64), F(64)) with { Misaligned = [1] };
        // Padded rows (EVA02's 2730 of 2736): statistics over the first Width elements, zeros written past them.
        yield return C("padded rows 2730 of 2736", new LayerNormOp(1e-5f, Width: 2730), F(3, 2736), F(2730), F(2730));
        yield return C("padded rows 61 of 64 no affine", new LayerNormOp(1e-6f, false, false, Width: 61), F(2, 3, 64));
        yield return C("warp rows", new RmsNormOp(1e-6f), F(11, 40), F(40));
        yield return C("single row 2048", new RmsNormOp(1e-6f), F(1, 2048), F(2048));
        yield return C("warp rows misaligned x", new RmsNormOp(1e-6f), F(4, 48), F(48)) with { Misaligned = [0] };
        yield return C("bias misaligned", new LinearOp(true), F(12, 9), F(16, 9), F(16)) with { Misaligned = [2] };
    }

    /// <summary>Slice, Concat and the SAM window ops as row copies: 16-byte units, narrower units when an offset, a run or a
    /// pointer breaks alignment, strided slices copying one run per kept index, and short runs left to the per-element kernels.</summary>
    private static IEnumerable<OpCheckCase> CopyRowCases()
    {
        yield return C("last axis long run", new SliceOp(2, 16, 80), F(4, 7, 96));
        yield return C("last axis odd start", new SliceOp(-1, 1, 70), F(3, 5, 96));
        yield return C("long run misaligned", new SliceOp(1, 2, 5), F(3, 6, 40)) with { Misaligned = [0] };
        yield return C("step 2 long inner", new SliceOp(1, 1, 9, 2), F(3, 9, 40));
        yield return C("last axis long runs", new ConcatOp(-1), F(3, 40), F(3, 72));
        yield return C("i32 last axis odd runs", new ConcatOp(1), T(DType.I32, 2, 37), T(DType.I32, 2, 45)) with { Integers = new() { [0] = 1000, [1] = 1000 } };
        yield return C("one short part", new ConcatOp(1), F(2, 64), F(2, 3));
        yield return C("short runs u32", new SliceOp(2, 1, 4), F(3, 4, 6, 5));
        yield return C("short runs u32", new ConcatOp(0), F(1, 3), F(2, 3));
        yield return C("merged dims", new PermuteOp([2, 3, 0, 1]), F(2, 3, 5, 7));
        yield return C("size-1 dims", new PermuteOp([1, 0, 3, 2]), F(3, 1, 4, 5));
        yield return C("16-byte pixels", new WindowPartitionOp(3), F(2, 5, 7, 8));
        yield return C("8-byte pixels", new WindowPartitionOp(4), F(1, 6, 9, 6));
        yield return C("16-byte pad row", new WindowPartitionOp(3, HasPadRow: true), F(2, 5, 7, 24), F(24));
        yield return C("odd pad row misaligned", new WindowPartitionOp(4, HasPadRow: true), F(1, 6, 9, 5), F(5)) with { Misaligned = [1] };
        yield return C("16-byte pixels", new WindowUnpartitionOp(3, 5, 7), F(12, 3, 3, 8));
        yield return C("misaligned", new WindowUnpartitionOp(2, 3, 3), F(4, 2, 2, 8)) with { Misaligned = [0] };
    }
}
