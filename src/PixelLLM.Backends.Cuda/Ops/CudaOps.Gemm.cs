using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Backends.Cuda.Interop;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>GEMM-shaped ops: cuBLAS for the products, linear.cu for bias epilogues, conv2d.cu's im2col in front of convolutions.</summary>
internal sealed partial class CudaOps
{
    private static CudaDataType GemmType(DeviceTensor a, DeviceTensor b, string op)
    {
        if (a.Type != b.Type) throw new BackendException($"CUDA {op}: operands are stored as {a.Type} and {b.Type}; cuBLAS needs one type");
        return a.Type switch
        {
            DType.F32 => CudaDataType.R32F,
            DType.BF16 => CudaDataType.R16BF,
            DType.F16 => CudaDataType.R16F,
            _ => throw new BackendException($"CUDA {op}: no GEMM for {a.Desc}"),
        };
    }

    private void MatMul(MatMulOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var (a, b) = (x[0], x[1]);
        var type = GemmType(a, b, "MatMul");
        int m = y.Shape[-2], n = y.Shape[-1], k = op.TransA ? a.Shape[-2] : a.Shape[-1];
        var outBatch = new Shape(y.Shape.Dims[..^2].ToArray());
        var aBatch = new Shape(a.Shape.Dims[..^2].ToArray());
        var bBatch = new Shape(b.Shape.Dims[..^2].ToArray());
        long batches = outBatch.ElementCount, es = y.ElementSize;
        if (batches == 0 || m == 0 || n == 0) return;
        long aMatrix = (long)m * k, bMatrix = (long)k * n, cMatrix = (long)m * n;

        // One strided call when each operand is either the full batch or a single matrix; otherwise one call per matrix.
        bool aSimple = aBatch.ElementCount == batches || aBatch.ElementCount == 1;
        bool bSimple = bBatch.ElementCount == batches || bBatch.ElementCount == 1;
        if (aSimple && bSimple && batches <= int.MaxValue)
        {
            queue.Gemm(new GemmCall(type, op.TransA, op.TransB, m, n, k, op.Alpha, 0f,
                a.Ptr, aBatch.ElementCount == 1 ? 0 : aMatrix, b.Ptr, bBatch.ElementCount == 1 ? 0 : bMatrix, y.Ptr, cMatrix, (int)batches));
            return;
        }
        var aStrides = Broadcast.Strides(aBatch, outBatch);
        var bStrides = Broadcast.Strides(bBatch, outBatch);
        var outStrides = outBatch.Strides();
        for (long i = 0; i < batches; i++)
        {
            long ai = 0, bi = 0, rest = i;
            for (int d = 0; d < outBatch.Rank; d++)
            {
                long c = rest / outStrides[d];
                rest %= outStrides[d];
                ai += c * aStrides[d];
                bi += c * bStrides[d];
            }
            queue.Gemm(new GemmCall(type, op.TransA, op.TransB, m, n, k, op.Alpha, 0f,
                a.Ptr + (ulong)(ai * aMatrix * es), 0, b.Ptr + (ulong)(bi * bMatrix * es), 0, y.Ptr + (ulong)(i * cMatrix * es), 0, 1));
        }
    }

    private void Linear(LinearOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var (input, weight) = (x[0], x[1]);
        int inFeatures = weight.Shape[1];
        long rows = input.Count / Math.Max(1, inFeatures);
        RowsTimesWeight(input.Ptr, rows, inFeatures, weight, op.HasBias ? x[2] : null, y, "Linear", op.HasResidual ? x[^1] : null);
    }

    /// <summary>
    /// One strided-batched GEMM over the groups: group g reads its rows every G·In elements from x + g·In, its weight
    /// block g, and writes every G·Out elements from y + g·Out; then linear.cu adds the (G·Out) bias to each whole row.
    /// </summary>
    private void GroupedLinear(GroupedLinearOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var (input, weight) = (x[0], x[1]);
        var type = GemmType(input, weight, "GroupedLinear");
        int groups = input.Shape[-2], inFeatures = weight.Shape[1], outFeatures = weight.Shape[0] / groups;
        long rows = y.Count / Math.Max(1L, (long)groups * outFeatures);
        if (rows == 0 || outFeatures == 0) return;
        if (rows > int.MaxValue / Math.Max(groups, 1)) throw new BackendException($"CUDA GroupedLinear: {rows} rows of {groups} groups exceed one GEMM");
        queue.Gemm(new GemmCall(type, false, true, (int)rows, outFeatures, inFeatures, 1f, 0f, input.Ptr, inFeatures,
            weight.Ptr, (long)outFeatures * inFeatures, y.Ptr, outFeatures, groups, Lda: groups * inFeatures, Ldc: groups * outFeatures));
        if (op.HasBias) AddBias(y, x[2], rows, groups * outFeatures);
    }

    /// <summary>
    /// RmsNorm(x) · weightᵀ: the norm in gemv.cu's prologue for a few rows; else RmsNorm into scratch slot 3, then the GEMM.
    /// </summary>
    private void RmsNormLinear(RmsNormLinearOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var (input, normWeight, weight) = (x[0], x[1], x[2]);
        int inFeatures = weight.Shape[1];
        long rows = input.Count / Math.Max(1, inFeatures);
        if (rows == 0 || weight.Shape[0] == 0) return;
        if (rows <= GemvMaxRows)
        {
            Gemv(input.Ptr, (int)rows, inFeatures, weight, null, null, y, "RmsNormLinear", (normWeight, op.Eps));
            return;
        }
        RowsTimesWeight(Normalized(input, normWeight, op.Eps), rows, inFeatures, weight, null, y, "RmsNormLinear");
    }

    /// <summary>RmsNorm of <paramref name="input"/> into scratch slot 3 (the many-row paths of the norm-prologue ops).</summary>
    private ulong Normalized(DeviceTensor input, DeviceTensor normWeight, float eps)
    {
        var normed = input with { Ptr = queue.Scratch(3, input.Bytes) };
        RmsNorm(new RmsNormOp(eps), [input, normWeight], normed);
        return normed.Ptr;
    }

    /// <summary>
    /// gelu_tanh(n·wᵀ) ⊙ (n·upᵀ), n = RmsNorm(x): one gemv_rmsnorm_geglu launch for a few rows; else the norm into scratch
    /// slot 3, the two GEMMs into slots 2 and 1, and swiglu.cu's GeGLU into y.
    /// </summary>
    private void RmsNormGeGlu(RmsNormGeGluOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var (input, normWeight, weight, up) = (x[0], x[1], x[2], x[3]);
        int inFeatures = weight.Shape[1];
        long rows = input.Count / Math.Max(1, inFeatures);
        if (rows == 0 || weight.Shape[0] == 0) return;
        if (rows <= GemvMaxRows)
        {
            Gemv(input.Ptr, (int)rows, inFeatures, weight, null, null, y, "RmsNormGeGlu", (normWeight, op.Eps), up: up);
            return;
        }
        ulong normed = Normalized(input, normWeight, op.Eps);
        var gate = y with { Ptr = queue.Scratch(2, y.Bytes) };
        var upProduct = y with { Ptr = queue.Scratch(1, y.Bytes) };
        RowsTimesWeight(normed, rows, inFeatures, weight, null, gate, "RmsNormGeGlu");
        RowsTimesWeight(normed, rows, inFeatures, up, null, upProduct, "RmsNormGeGlu");
        GeGlu(new GeGluOp(), [gate, upProduct], y);
    }

    /// <summary>
    /// q into y, k and v into their cache slots: one gemv_[rmsnorm_]qkv launch for a few rows; more rows take the norm
    /// (if any) into scratch slot 3 once, a GEMM per projection (k and v into scratch slot 0), and write_at.cu for the caches.
    /// </summary>
    private void QkvProjection(QkvProjectionOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var (input, keys, values, position) = (x[0], x[4], x[5], x[6]);
        int rows = keys.Shape[0], outFeatures = keys.Shape[2], inFeatures = x[1].Shape[1];
        if (rows == 0 || outFeatures == 0) return;
        if (rows <= GemvMaxRows)
        {
            GemvQkv(op, x, y);
            return;
        }
        ulong source = op.HasNorm ? Normalized(input, x[op.NormInput], op.Eps) : input.Ptr;
        Span<DeviceTensor?> biases = [null, null, null];
        for (int p = 0; op.HasBias && p < 3; p++) biases[p] = x[op.BiasInput(p)];
        RowsTimesWeight(source, rows, inFeatures, x[1], biases[0], y, "QkvProjection");
        var projected = y with { Ptr = queue.Scratch(0, y.Bytes) };
        for (int p = 1; p <= 2; p++)
        {
            var cache = p == 1 ? keys : values;
            RowsTimesWeight(source, rows, inFeatures, x[1 + p], biases[p], projected, "QkvProjection");
            WriteAt(new WriteAtOp(1), [cache, projected, position], cache);
        }
    }

    /// <summary>
    /// y (rows, Out) = input (rows, In) · weightᵀ [+ bias] [+ residual] for a PyTorch-layout weight (Out, In…) flattened to
    /// (Out, In): gemv.cu for a few rows (decode steps, where an M = 1 cuBLAS GEMM is far from the bandwidth floor) with both
    /// epilogues fused, cuBLAS otherwise (the residual copied into C first, beta 1), then the bias kernel.
    /// </summary>
    private void RowsTimesWeight(ulong input, long rows, int inFeatures, DeviceTensor weight, DeviceTensor? bias, DeviceTensor y, string op,
        DeviceTensor? residual = null)
    {
        var type = GemmType(y, weight, op);
        int outFeatures = weight.Shape[0];
        if (rows == 0 || outFeatures == 0) return;
        if (residual is { } r && r.Type != y.Type)
            throw new BackendException($"CUDA {op}: residual stored as {r.Type} but the output as {y.Type}; expected one type");
        if (rows <= GemvMaxRows)
        {
            Gemv(input, (int)rows, inFeatures, weight, bias, residual, y, op);
            return;
        }
        if (rows > int.MaxValue) throw new BackendException($"CUDA {op}: {rows} rows exceed one GEMM");
        if (TakesSkinny(input, rows, inFeatures, weight, bias, residual, y))
        {
            SkinnyGemm(input, (int)rows, inFeatures, weight, bias, residual, y);
            return;
        }
        // cuBLASLt's bias epilogue when switched on and the bias is aligned like a vector load; else the bias kernel after.
        // A residual rides in the same epilogue (Lt's C input, beta 1): the skip connection costs no launch of its own.
        // With that switched off it is an Add after, as before session 14.
        if (bias is { } fused && queue.GemmBiasEpilogue && fused.Type == y.Type && fused.Ptr % 16 == 0)
        {
            var inEpilogue = queue.GemmResidualEpilogue ? residual : null;
            queue.Gemm(new GemmCall(type, false, true, (int)rows, outFeatures, inFeatures, 1f, inEpilogue is null ? 0f : 1f, input, 0,
                weight.Ptr, 0, y.Ptr, 0, 1, Bias: fused.Ptr, Residual: inEpilogue?.Ptr ?? 0));
            if (residual is { } after && inEpilogue is null) Binary(new BinaryOp(BinaryKind.Add), [y, after], y);
            return;
        }
        // Without a bias, a residual is still cuBLASLt's C input when that epilogue is on (T5's o and wo: no copy launch).
        if (residual is { } skip && bias is null && queue.GemmResidualEpilogue)
        {
            queue.Gemm(new GemmCall(type, false, true, (int)rows, outFeatures, inFeatures, 1f, 1f, input, 0, weight.Ptr, 0, y.Ptr, 0, 1,
                Residual: skip.Ptr));
            return;
        }
        // Otherwise a residual starts C (a device copy) and the GEMM adds onto it (beta 1): no extra kernel, nothing read
        // and written through two names.
        if (residual is { } start) queue.Copy(y.Ptr, start.Ptr, y.Bytes);
        queue.Gemm(new GemmCall(type, false, true, (int)rows, outFeatures, inFeatures, 1f, residual is null ? 0f : 1f, input, 0, weight.Ptr, 0, y.Ptr, 0, 1));
        if (bias is { } b) AddBias(y, b, rows, outFeatures);
    }

    private void AddBias(DeviceTensor y, DeviceTensor bias, long rows, int cols)
    {
        BiasRows(y, bias, rows, cols);
    }

    private void Conv2d(Conv2dOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var (input, weight) = (x[0], x[1]);
        int batch = input.Shape[0], height = input.Shape[1], width = input.Shape[2], channels = input.Shape[3];
        int kh = weight.Shape[2], kw = weight.Shape[3], outH = y.Shape[1], outW = y.Shape[2];
        long pixels = (long)batch * outH * outW;
        int patch = channels * kh * kw;
        ulong cols = input.Ptr;
        bool pointwise = kh == 1 && kw == 1 && op.StrideH == 1 && op.StrideW == 1 && op.PadH == 0 && op.PadW == 0;
        if (!pointwise)
        {
            long n = pixels * patch;
            cols = queue.Scratch(0, n * input.ElementSize);
            Elements("conv2d.cu", $"conv2d_im2col_{FloatSuffix(input, "Conv2d")}", n, Args().Ptr(input.Ptr).Ptr(cols).I64(n)
                .I32(height).I32(width).I32(channels).I32(kh).I32(kw).I32(op.StrideH).I32(op.StrideW).I32(op.PadH).I32(op.PadW).I32(outH).I32(outW));
        }
        RowsTimesWeight(cols, pixels, patch, weight, op.HasBias ? x[2] : null, y, "Conv2d");
    }

    private void ConvTranspose2d(ConvTranspose2dOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var (input, weight) = (x[0], x[1]);
        ulong bias = op.HasBias ? x[2].Ptr : 0;
        Elements("conv_transpose2d.cu", $"conv_transpose2d_{FloatSuffix(input, "ConvTranspose2d")}", y.Count,
            Args().Ptr(input.Ptr).Ptr(weight.Ptr).Ptr(bias).Ptr(y.Ptr).I64(y.Count).I32(input.Shape[1]).I32(input.Shape[2])
                .I32(input.Shape[3]).I32(weight.Shape[1]).I32(weight.Shape[2]).I32(weight.Shape[3]).I32(op.Stride).I32(y.Shape[1]).I32(y.Shape[2]));
    }
}
