using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Backends.Cuda.Interop;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>
/// AttentionOp. Long sequences (both lengths ≥ <see cref="GemmAttentionMinLength"/>, and more work than
/// <see cref="IDeviceQueue.FusedAttentionMaxFlops"/> or more than <see cref="FusedAttentionMaxKeys"/> keys) go through cuBLAS: a GEMM for the f32 scores, attention_softmax.cu
/// for bias/mask/causality and the softmax, and a GEMM for probabilities · values — tensor cores instead of attention.cu's
/// fp32 FMAs (measured 2 TFLOP/s on an H100 for EVA02's 730 tokens). One batch element is a strided-batched GEMM over
/// heads; several (SAM's windows) are one pointer-array GEMM over every (element, head). Short ones (T5's encoder and
/// rerun, the decode step) use attention.cu / attention_decode.cu: one fused flash-style launch, bias, mask and causality
/// read in place, instead of three launches for a few µs of work.
/// </summary>
internal sealed partial class CudaOps
{
    /// <summary>Query rows per block and the head-dim limit of attention.cu (ATT_WARPS, ATT_MAX_D).</summary>
    private const int AttentionRowsPerBlock = 4, AttentionMaxHeadDim = 128;

    private void Attention(AttentionOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var (oq, ok, ov) = op.Operands(Descriptions(x));
        var (q, k, v) = (Operand(x[oq.Input], oq), Operand(x[ok.Input], ok), Operand(x[ov.Input], ov));
        int batch = q.Shape[0], lq = q.Shape[1], lk = k.Shape[1], heads = op.NumHeads;
        int dim = q.Shape[2] / heads, vdim = v.Shape[2] / heads;
        if (y.Count == 0) return;
        if (lk == 0)
        {
            queue.Fill(y.Ptr, 0, y.Bytes); // no keys: zeros, as the CPU backend defines it
            return;
        }
        if (dim > AttentionMaxHeadDim || vdim > AttentionMaxHeadDim)
            throw new BackendException($"CUDA Attention: head dims {dim}/{vdim} exceed the kernel's {AttentionMaxHeadDim}");
        int next = op.QkvInputs;
        var (bias, biasStrides) = op.HasBias ? BiasOperand(op, x[next++], lq, lk) : default;
        var mask = op.HasMask ? x[next] : default;
        if (op.HasMask && mask.Type != DType.U8) throw new BackendException($"CUDA Attention: mask must be U8, got {mask.Desc}");
        if (queue.TensorCoreAttention && UsesMmaAttention(op, q, k, v, y, oq.RowStride, ok.RowStride, ov.RowStride, dim, vdim, lq, lk, batch) &&
            MmaAttentionLayout(op, dim, lk, y.ElementSize) is var (termPitch, shared) && shared > 0)
        {
            queue.Launch("attention_mma.cu", $"attention_mma_d{dim}_{FloatSuffix(y, "Attention")}", ((uint)((lq + MmaRowsPerBlock - 1) / MmaRowsPerBlock), (uint)heads, (uint)batch),
                MmaThreads, Args().Ptr(q.Ptr).Ptr(k.Ptr).Ptr(v.Ptr).Ptr(op.HasBias ? bias.Ptr : 0).Ptr(y.Ptr).I32(heads).I32(lq).I32(lk)
                    .I32(oq.RowStride).I32(ok.RowStride).I32(ov.RowStride).F32(op.Scale).Dims(biasStrides).I32(termPitch),
                shared);
            return;
        }
        long fusedFlops = 2L * batch * heads * lq * lk * (dim + vdim);
        if (lq >= GemmAttentionMinLength && lk >= GemmAttentionMinLength && (fusedFlops > queue.FusedAttentionMaxFlops || lk > FusedAttentionMaxKeys) &&
            k.Shape[0] == batch && v.Shape[0] == batch && GemmAttentionScratch(heads, lq, lk, q.ElementSize) is var (scoreStride, probStride, scoreBytes, probBytes) &&
            scoreBytes + probBytes <= GemmAttentionMaxScratchBytes)
        {
            AttentionByGemm(op, q, k, v, bias, biasStrides, mask, y, new(batch, lq, lk, heads, dim, vdim, oq.RowStride, ok.RowStride, ov.RowStride),
                scoreStride, probStride, scoreBytes, probBytes);
            return;
        }
        // attention.cu and attention_decode.cu read q, k and v in place, packed or not (their row strides).
        bool decode = UsesDecodeAttention(lq, lk);
        uint blocks = decode ? (uint)lq : (uint)((lq + AttentionRowsPerBlock - 1) / AttentionRowsPerBlock);
        var (file, kernel) = decode ? ("attention_decode.cu", "attention_decode_") : ("attention.cu", "attention_");
        var a = Args().Ptr(q.Ptr).Ptr(k.Ptr).Ptr(v.Ptr).Ptr(op.HasBias ? bias.Ptr : 0).Ptr(op.HasMask ? mask.Ptr : 0).Ptr(y.Ptr)
            .I32(heads).I32(lq).I32(lk).I32(dim).I32(vdim).I32(oq.RowStride).I32(ok.RowStride).I32(ov.RowStride)
            .F32(op.Scale).F32(op.MaskBias).I32(op.Causal ? 1 : 0)
            .Dims(biasStrides).Dims(op.HasMask ? BroadcastStrides4(mask.Shape) : default);
        if (decode) a.I32(queue.StagedDecodeAttention && StagesDecodeAttention(k, v, ok.RowStride, ov.RowStride, dim, vdim, lk) ? 1 : 0);
        queue.Launch(file, kernel + FloatSuffix(q, "Attention"), (blocks, (uint)heads, (uint)batch), decode ? DecodeAttentionThreads : AttentionRowsPerBlock * 32, a);
    }

    /// <summary>attention_softmax.cu's warp-per-row kernels: rows per block (SOFTMAX_WARPS); a lane holds 8, 16, 24 or 32 values.</summary>
    private const int SoftmaxWarpRows = 8, SoftmaxWarpMaxValues = 32;

    /// <summary>
    /// The scores' softmax kernel, grid and block: with <see cref="IDeviceQueue.WarpSoftmax"/> and rows of at most
    /// 32 · 32 keys, a warp per row holding the row in registers (the fewest values a lane that hold it); else a block
    /// of <paramref name="threads"/> per row.
    /// </summary>
    private (string Kernel, (uint, uint, uint) Grid, int Block) SoftmaxKernel(int lq, int lk, int heads, int count, int threads)
    {
        int values = (lk + 255) / 256 * 8;
        if (queue.WarpSoftmax && values <= SoftmaxWarpMaxValues)
            return ($"attention_softmax_w{values}", ((uint)((lq + SoftmaxWarpRows - 1) / SoftmaxWarpRows), (uint)heads, (uint)count), 32 * SoftmaxWarpRows);
        return ("attention_softmax", ((uint)lq, (uint)heads, (uint)count), threads);
    }

    /// <summary>attention_mma.cuh's block (MMA_WARPS warps of 16 query rows), its key tile (MMA_KEYS) and the head dims attention_mma.cu and grid_attention.cu have a kernel for.</summary>
    private const int MmaThreads = 128, MmaRowsPerBlock = 64, MmaKeysPerTile = 64;
    private static readonly int[] MmaHeadDims = [32, 64, 80, 96, 128];

    /// <summary>
    /// Whether attention_mma.cu serves this call: 16-bit storage, long sequences (the GEMM path's), no mask, not causal,
    /// equal head dims it has a kernel for; k and v rows and bases 16-byte aligned (cp.async), q and y 4-byte (element pairs).
    /// </summary>
    private static bool UsesMmaAttention(AttentionOp op, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor y, int qRow, int kRow, int vRow,
        int dim, int vdim, int lq, int lk, int batch)
    {
        if (y.Type is not (DType.BF16 or DType.F16) || q.Type != y.Type || k.Type != y.Type || v.Type != y.Type) return false;
        if (op.HasMask || op.Causal || dim != vdim || Array.IndexOf(MmaHeadDims, dim) < 0) return false;
        if (lq < GemmAttentionMinLength || lk < GemmAttentionMinLength || k.Shape[0] != batch || v.Shape[0] != batch) return false;
        if (batch > MaxGridZ) return false; // the batch is the grid's z (at most 65,535 blocks)
        if (qRow % 2 != 0 || kRow % 8 != 0 || vRow % 8 != 0) return false;
        return q.Ptr % 4 == 0 && k.Ptr % 16 == 0 && v.Ptr % 16 == 0 && y.Ptr % 4 == 0;
    }

    /// <summary>
    /// attention_mma.cu's dynamic shared memory: two stages of K and V tiles (rows padded by 8 elements), the stages' key
    /// cells, and with a key-grid bias the block's rows' Kh + Kw terms as f32, TermPitch apart (odd, so
    /// the rows of a warp's lanes spread over the banks). Shared 0 where a block may not have that much.
    /// </summary>
    private (int TermPitch, int Shared) MmaAttentionLayout(AttentionOp op, int dim, int lk, int elementSize)
    {
        int terms = op.HasBias && op.BiasKeyGridRows > 0 ? op.BiasKeyGridRows + op.BiasKeyGridColumns(lk) : 0;
        int termPitch = terms == 0 ? 0 : terms | 1;
        int shared = MmaSharedBytes(dim, elementSize, termPitch);
        return shared > 0 ? (termPitch, shared) : (0, 0);
    }

    /// <summary>attention_mma.cuh's dynamic shared memory for head dim <paramref name="dim"/>, or 0 where a block may not have that much.</summary>
    private int MmaSharedBytes(int dim, int elementSize, int termPitch)
    {
        long bytes = 4L * MmaKeysPerTile * (dim + 8) * elementSize + 2L * MmaKeysPerTile * sizeof(uint) + (long)MmaRowsPerBlock * termPitch * sizeof(float);
        return bytes <= queue.Limits.SharedBytesPerBlock ? (int)bytes : 0;
    }

    /// <summary>The largest grid z a launch takes.</summary>
    private const int MaxGridZ = 65535;

    /// <summary>
    /// Keys beyond which the cuBLAS path is taken whatever the work: a block of attention.cu walks every key tile in turn,
    /// so many keys with few query blocks (the prompt adapter's 37 tokens over 576 image keys) leave it latency-bound.
    /// </summary>
    private const int FusedAttentionMaxKeys = 128;

    /// <summary>Query and key lengths from which the GEMM path is taken, and its scratch limit (else the fused kernel).</summary>
    private const int GemmAttentionMinLength = 16;
    private const long GemmAttentionMaxScratchBytes = 1L << 30;

    /// <summary>Row strides (elements) and bytes of the f32 scores and the probabilities for one batch element.</summary>
    private static (int ScoreStride, int ProbStride, long ScoreBytes, long ProbBytes) GemmAttentionScratch(int heads, int lq, int lk, int elementSize)
    {
        int scoreStride = (lk + 3) / 4 * 4, probStride = (lk + 7) / 8 * 8; // 16-byte aligned rows
        return (scoreStride, probStride, (long)heads * lq * scoreStride * 4, (long)heads * lq * probStride * elementSize);
    }

    private void AttentionByGemm(AttentionOp op, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor bias, Dims8 biasStrides, DeviceTensor mask,
        DeviceTensor y, GemmAttention s, int scoreStride, int probStride, long scoreBytes, long probBytes)
    {
        var type = GemmType(q, k, "Attention");
        GemmType(q, v, "Attention");
        // Every batch element's scores at once when they fit (windowed attention: one softmax launch for all windows).
        int group = (int)Math.Clamp(GemmAttentionMaxScratchBytes / (scoreBytes + probBytes), 1, s.Batch);
        ulong scores = queue.Scratch(1, group * scoreBytes), probs = queue.Scratch(2, group * probBytes);
        long es = q.ElementSize;
        int threads = Math.Clamp((s.Lk + 31) / 32 * 32, 32, 256);
        string suffix = FloatSuffix(q, "Attention");
        for (int first = 0; first < s.Batch; first += group)
        {
            int count = Math.Min(group, s.Batch - first);
            // Several elements: one pointer-array GEMM each for the scores and for p·v over all (element, head) pairs.
            ulong pointers = count > 1 && queue.PointerArrayGemm ? GemmPointers(q, k, v, y, s, first, count, scoreStride, probStride, scoreBytes, probBytes, scores, probs) : 0;
            ulong Array(int operand) => pointers + (ulong)(operand * count * s.Heads * sizeof(ulong));
            if (pointers != 0)
                queue.Gemm(new GemmCall(type, false, true, s.Lq, s.Lk, s.Dim, op.Scale, 0f, Array(0), 0, Array(1), 0, Array(2), 0, count * s.Heads,
                    Lda: s.QRow, Ldb: s.KRow, Ldc: scoreStride, OutType: CudaDataType.R32F, PointerArrays: true));
            else
                for (int i = 0; i < count; i++)
                {
                    int b = first + i;
                    ulong qb = q.Ptr + (ulong)(b * (long)s.Lq * s.QRow * es), kb = k.Ptr + (ulong)(b * (long)s.Lk * s.KRow * es);
                    // Head h of a token-major (L, row) operand is the (L, D) matrix at column h·D with row stride `row`.
                    queue.Gemm(new GemmCall(type, false, true, s.Lq, s.Lk, s.Dim, op.Scale, 0f, qb, s.Dim, kb, s.Dim,
                        scores + (ulong)(i * scoreBytes), (long)s.Lq * scoreStride, s.Heads,
                        Lda: s.QRow, Ldb: s.KRow, Ldc: scoreStride, OutType: CudaDataType.R32F));
                }
            var (softmax, grid, block) = SoftmaxKernel(s.Lq, s.Lk, s.Heads, count, threads);
            queue.Launch("attention_softmax.cu", $"{softmax}_{suffix}", grid, block,
                Args().Ptr(scores).Ptr(probs).Ptr(op.HasBias ? bias.Ptr : 0).Ptr(op.HasMask ? mask.Ptr : 0).I64(first).I32(s.Lq).I32(s.Lk)
                    .I32(scoreStride).I32(probStride).F32(op.MaskBias).I32(op.Causal ? 1 : 0)
                    .Dims(biasStrides).Dims(op.HasMask ? BroadcastStrides4(mask.Shape) : default));
            if (pointers != 0)
                queue.Gemm(new GemmCall(type, false, false, s.Lq, s.VDim, s.Lk, 1f, 0f, Array(3), 0, Array(4), 0, Array(5), 0, count * s.Heads,
                    Lda: probStride, Ldb: s.VRow, Ldc: s.Heads * s.VDim, PointerArrays: true));
            else
                for (int i = 0; i < count; i++)
                {
                    int b = first + i;
                    ulong vb = v.Ptr + (ulong)(b * (long)s.Lk * s.VRow * es), yb = y.Ptr + (ulong)(b * (long)s.Lq * s.Heads * s.VDim * es);
                    queue.Gemm(new GemmCall(type, false, false, s.Lq, s.VDim, s.Lk, 1f, 0f, probs + (ulong)(i * probBytes), (long)s.Lq * probStride,
                        vb, s.VDim, yb, s.VDim, s.Heads, Lda: probStride, Ldb: s.VRow, Ldc: s.Heads * s.VDim));
                }
        }
    }

    /// <summary>
    /// The six address arrays of the pointer-array GEMMs over <paramref name="count"/> elements from
    /// <paramref name="first"/> (q, k, scores; probabilities, v, y; count·H entries each), written by gemm_pointers.cu
    /// into scratch slot 0; returns their address.
    /// </summary>
    private ulong GemmPointers(DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor y, GemmAttention s,
        int first, int count, int scoreStride, int probStride, long scoreBytes, long probBytes, ulong scores, ulong probs)
    {
        long es = q.ElementSize, n = (long)count * s.Heads;
        long qBatch = (long)s.Lq * s.QRow * es, kBatch = (long)s.Lk * s.KRow * es;
        long vBatch = (long)s.Lk * s.VRow * es, yBatch = (long)s.Lq * s.Heads * s.VDim * es;
        ulong pointers = queue.Scratch(0, 6 * n * sizeof(ulong));
        Span<long> bases = [(long)q.Ptr + first * qBatch, (long)k.Ptr + first * kBatch, (long)scores, (long)probs, (long)v.Ptr + first * vBatch, (long)y.Ptr + first * yBatch];
        Span<long> batchStrides = [qBatch, kBatch, scoreBytes, probBytes, vBatch, yBatch];
        Span<long> headStrides = [s.Dim * es, s.Dim * es, (long)s.Lq * scoreStride * sizeof(float), (long)s.Lq * probStride * es, s.VDim * es, s.VDim * es];
        queue.Launch("gemm_pointers.cu", "gemm_pointers", ((uint)((n + 255) / 256), 1, 1), 256,
            Args().Ptr(pointers).Dims(Dims8.From(bases)).Dims(Dims8.From(batchStrides)).Dims(Dims8.From(headStrides)).I32(6).I32(s.Heads).I32(count));
        return pointers;
    }

    /// <summary>The cuBLAS path's sizes; QRow/KRow/VRow are the elements between tokens (H·D, or 3·H·D packed).</summary>
    private readonly record struct GemmAttention(int Batch, int Lq, int Lk, int Heads, int Dim, int VDim, int QRow, int KRow, int VRow);

    /// <summary>One of q, k, v as a tensor of its own shape at its first element (its rows still <see cref="AttentionOperand.RowStride"/> apart).</summary>
    private static DeviceTensor Operand(DeviceTensor input, AttentionOperand o) =>
        input with { Ptr = input.Ptr + (ulong)(o.Offset * input.ElementSize), Desc = new TensorDesc(input.Desc.DType, o.Shape) };

    /// <summary>
    /// The bias as attention_bias (prelude.cuh) reads it: the tensor at its layout's offset (<see cref="AttentionOp.BiasLayout"/>),
    /// and its strides over (b, h, query, key), then the decomposed key grid (Kh, Kw) when the op has one, else zeros.
    /// </summary>
    private static (DeviceTensor Bias, Dims8 Strides) BiasOperand(AttentionOp op, DeviceTensor bias, int queries, int keys)
    {
        var layout = op.BiasLayout(bias.Shape, queries);
        Span<long> strides = [layout.Batch, layout.Head, layout.Query, layout.Key, op.BiasKeyGridRows, op.BiasKeyGridColumns(keys)];
        return (bias with { Ptr = bias.Ptr + (ulong)(layout.Offset * bias.ElementSize) }, Dims8.From(strides));
    }

    /// <summary>A mask's strides over (b, h, query, key) for the kernels (<see cref="AttentionOp.BroadcastStrides"/>).</summary>
    private static Dims8 BroadcastStrides4(Shape s)
    {
        var (b, h, q, k) = AttentionOp.BroadcastStrides(s);
        return Dims8.From([b, h, q, k]);
    }
}
