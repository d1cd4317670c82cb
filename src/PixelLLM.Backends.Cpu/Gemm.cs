using System.Numerics.Tensors;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

/// <summary>MatMul, Linear and its grouped and pre-norm forms: operand layout and batching; the arithmetic is in <see cref="GemmDriver"/>.</summary>
internal static unsafe class Gemm
{
    public static void MatMul(MatMulOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64 = false)
    {
        CpuTensor a = x[0], b = x[1];
        int m = y.Shape[-2], n = y.Shape[-1], k = op.TransA ? a.Shape[-2] : a.Shape[-1];
        long aSize = (long)a.Shape[-2] * a.Shape[-1], bSize = (long)b.Shape[-2] * b.Shape[-1], cSize = (long)m * n;
        var batch = new Shape(y.Shape.Dims[..^2].ToArray());
        var aBatch = new Shape(a.Shape.Dims[..^2].ToArray());
        var bBatch = new Shape(b.Shape.Dims[..^2].ToArray());
        long count = batch.ElementCount;
        float* aPtr = a.F32Ptr, bPtr = b.F32Ptr, cPtr = y.F32Ptr;
        MatrixView AView(long offset) => op.TransA ? MatrixView.Transposed(aPtr + offset, a.Shape[-1]) : MatrixView.RowMajor(aPtr + offset, a.Shape[-1]);
        MatrixView BView(long offset) => op.TransB ? MatrixView.Transposed(bPtr + offset, b.Shape[-1]) : MatrixView.RowMajor(bPtr + offset, b.Shape[-1]);

        // One B shared by a full batch of row-major A: the batch is just more rows of one bigger GEMM.
        if (bBatch.ElementCount == 1 && aBatch.ElementCount == count && !op.TransA)
        {
            GemmDriver.Run(new GemmProblem(checked((int)(count * m)), n, k, AView(0), BView(0), cPtr, n, op.Alpha) { Float64 = float64, ItemRows = m });
            return;
        }

        var aStrides = Broadcast.Strides(aBatch, batch);
        var bStrides = Broadcast.Strides(bBatch, batch);
        var dims = batch.ToArray();
        GemmProblem At(long index)
        {
            long aOffset = 0, bOffset = 0, rest = index;
            for (int d = dims.Length - 1; d >= 0; d--)
            {
                long i = rest % dims[d];
                rest /= dims[d];
                aOffset += i * aStrides[d];
                bOffset += i * bStrides[d];
            }
            return new GemmProblem(m, n, k, AView(aOffset * aSize), BView(bOffset * bSize), cPtr + index * cSize, n, op.Alpha) { Float64 = float64 };
        }

        // Many small products (e.g. per-head attention maths): one whole product per thread beats splitting each.
        long each = (long)m * n * k;
        if (count > 1 && each < 8 * GemmDriver.ParallelThreshold && each * count >= GemmDriver.ParallelThreshold)
            Parallel.For(0, count, i => GemmDriver.Run(At(i), allowParallel: false));
        else
            for (long i = 0; i < count; i++) GemmDriver.Run(At(i));
    }

    public static void Linear(LinearOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64 = false)
    {
        CpuTensor input = x[0], weight = x[1];
        int rows = checked((int)input.Shape.Product(0, input.Shape.Rank - 1));
        RowsTimesWeight(input.F32Ptr, rows, ItemRows(input, rows), weight, op.HasBias ? x[2].F32Ptr : null, y.F32Ptr, float64);
        // After the product, not folded into C's start: the same roundings as a separate Add, so fusing changes no bit.
        if (op.HasResidual)
        {
            var output = new Span<float>(y.F32Ptr, checked((int)y.Desc.ElementCount));
            TensorPrimitives.Add(output, new ReadOnlySpan<float>(x[^1].F32Ptr, output.Length), output);
        }
    }

    /// <summary>
    /// Each group's rows through its own weight block, as <see cref="Linear"/> would run them: one row in place, several
    /// gathered into scratch and the products scattered back.
    /// </summary>
    public static void GroupedLinear(GroupedLinearOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64 = false)
    {
        CpuTensor input = x[0], weight = x[1];
        int groups = input.Shape[-2], inFeatures = weight.Shape[1], outFeatures = weight.Shape[0] / groups;
        int rows = checked((int)(input.Desc.ElementCount / ((long)groups * inFeatures)));
        long blockBytes = (long)outFeatures * inFeatures * weight.Desc.DType.SizeOf();
        var blockDesc = new TensorDesc(weight.Desc.DType, new Shape(outFeatures, inFeatures));
        float* gathered = rows > 1 ? GemmScratch.Get(ScratchSlot.NormedRows, (long)rows * inFeatures) : null;
        float* products = rows > 1 ? GemmScratch.Get(ScratchSlot.ProjectedRows, (long)rows * outFeatures) : null;
        for (int g = 0; g < groups; g++)
        {
            var block = new CpuTensor(weight.Pointer + g * blockBytes, blockDesc);
            float* bias = op.HasBias ? x[2].F32Ptr + (long)g * outFeatures : null;
            if (rows == 1)
            {
                RowsTimesWeight(input.F32Ptr + (long)g * inFeatures, 1, 1, block, bias, y.F32Ptr + (long)g * outFeatures, float64);
                continue;
            }
            for (int r = 0; r < rows; r++)
                new ReadOnlySpan<float>(input.F32Ptr + ((long)r * groups + g) * inFeatures, inFeatures)
                    .CopyTo(new Span<float>(gathered + (long)r * inFeatures, inFeatures));
            // Each gathered row is its own item (one per leading index), as a single item would run it.
            RowsTimesWeight(gathered, rows, 1, block, bias, products, float64);
            for (int r = 0; r < rows; r++)
                new ReadOnlySpan<float>(products + (long)r * outFeatures, outFeatures)
                    .CopyTo(new Span<float>(y.F32Ptr + ((long)r * groups + g) * outFeatures, outFeatures));
        }
    }

    /// <summary>RmsNorm into scratch with RmsNormOp's own code, then the Linear: the same bits as the two ops apart.</summary>
    public static void RmsNormLinear(RmsNormLinearOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64 = false)
    {
        CpuTensor input = x[0], weight = x[2];
        int rows = checked((int)input.Shape.Product(0, input.Shape.Rank - 1));
        RowsTimesWeight(Normalized(input, x[1], rows, op.Eps), rows, ItemRows(input, rows), weight, null, y.F32Ptr, float64);
    }

    /// <summary>RmsNorm into scratch, both products, then GeGLU with its own functor: the same bits as the four ops apart.</summary>
    public static void RmsNormGeGlu(RmsNormGeGluOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64 = false)
    {
        CpuTensor input = x[0];
        int hidden = x[2].Shape[0];
        int rows = checked((int)input.Shape.Product(0, input.Shape.Rank - 1));
        float* normed = Normalized(input, x[1], rows, op.Eps);
        float* up = GemmScratch.Get(ScratchSlot.ProjectedRows, (long)rows * hidden);
        int itemRows = ItemRows(input, rows);
        RowsTimesWeight(normed, rows, itemRows, x[2], null, y.F32Ptr, float64);
        RowsTimesWeight(normed, rows, itemRows, x[3], null, up, float64);
        int count = rows * hidden;
        Elementwise.GeGluSpans(new ReadOnlySpan<float>(y.F32Ptr, count), new ReadOnlySpan<float>(up, count), new Span<float>(y.F32Ptr, count));
    }

    /// <summary>
    /// The norm (if any) once into scratch, q into y, then k and v each through scratch into its cache slot: the same bits
    /// as the Linears (or RmsNormLinears) and WriteAts apart. The position is checked before anything is written.
    /// </summary>
    public static void QkvProjection(QkvProjectionOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64 = false)
    {
        CpuTensor input = x[0], keys = x[4], values = x[5];
        int rows = keys.Shape[0], size = keys.Shape[1], outFeatures = keys.Shape[2];
        int position = x[6].I32[0];
        if (position < 0 || position >= size)
            throw new InvalidInputException($"QkvProjection: position {position} does not fit axis 1 of size {size} of the caches {keys.Desc}");
        float* source = op.HasNorm ? Normalized(input, x[op.NormInput], rows, op.Eps) : input.F32Ptr;
        int itemRows = ItemRows(input, rows);
        RowsTimesWeight(source, rows, itemRows, x[1], op.HasBias ? x[op.BiasInput(0)].F32Ptr : null, y.F32Ptr, float64);
        float* projected = GemmScratch.Get(ScratchSlot.ProjectedRows, (long)rows * outFeatures);
        for (int p = 1; p <= 2; p++)
        {
            var cache = p == 1 ? keys : values;
            RowsTimesWeight(source, rows, itemRows, x[1 + p], op.HasBias ? x[op.BiasInput(p)].F32Ptr : null, projected, float64);
            for (int r = 0; r < rows; r++)
                new ReadOnlySpan<float>(projected + (long)r * outFeatures, outFeatures).CopyTo(
                    new Span<float>(cache.F32Ptr + ((long)r * size + position) * outFeatures, outFeatures));
        }
    }

    /// <summary>The rows of <paramref name="input"/> RMS-normalised into this thread's scratch by RmsNormOp's own code.</summary>
    private static float* Normalized(CpuTensor input, CpuTensor normWeight, int rows, float eps)
    {
        int width = input.Shape[-1];
        float* normed = GemmScratch.Get(ScratchSlot.NormedRows, (long)rows * width);
        Norms.RmsNormRowsInto(input.F32Ptr, normWeight.F32Ptr, normed, rows, width, eps);
        return normed;
    }

    /// <summary>Rows of one item of a Linear input (…, rows, In): its second-to-last dim; a matrix is one item.</summary>
    private static int ItemRows(CpuTensor input, int rows) => input.Shape.Rank >= 3 ? input.Shape[-2] : rows;

    /// <summary>
    /// output (rows, Out) = input (rows, In) · weightᵀ [+ bias], weight f32 or bf16 (Out, In); the algorithm is chosen by
    /// <paramref name="itemRows"/> (<see cref="GemmProblem.ItemRows"/>).
    /// </summary>
    private static void RowsTimesWeight(float* input, int rows, int itemRows, CpuTensor weight, float* bias, float* output, bool float64)
    {
        int outFeatures = weight.Shape[0], inFeatures = weight.Shape[1];
        if (weight.Desc.DType == DType.BF16)
            LinearBf16.Run(input, rows, (ushort*)weight.Pointer, outFeatures, inFeatures, bias, output, float64, itemRows);
        else
            // w is (Out, In) row-major, so B = wᵀ is its transposed view: no copy, packing reads it column by column.
            GemmDriver.Run(new GemmProblem(rows, outFeatures, inFeatures,
                MatrixView.RowMajor(input, inFeatures), MatrixView.Transposed(weight.F32Ptr, inFeatures), output, outFeatures, 1f, bias)
                { Float64 = float64, ItemRows = itemRows });
    }
}
