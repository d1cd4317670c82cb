using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;
using L = PixelLLM.Runtime.Ops.T5DecoderLayerOp.Input;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>
/// decoder_layer.cu (or decoder_layer_stream.cu, see <see cref="IDeviceQueue.FusedDecoderLayerKernel"/>): a T5 decoder
/// layer of a decode step in one launch (a whole stack of them: CudaOps.DecoderStack). Shapes neither serves (more than four rows, wide heads, unaligned operands, rows
/// too wide for its shared memory) and row counts below the queue's <see cref="IDeviceQueue.FusedDecoderLayerMinRows"/>
/// (one row by default: measured slower fused) run the layer's eight ops.
/// </summary>
internal sealed partial class CudaOps
{
    private const int DecoderLayerThreads = 256, DecoderLayerColumnsPerBlock = 8;
    private const int DecoderLayerSharedBytes = 40960, DecoderLayerMaxHeadDim = 128, DecoderLayerMaxKeys = 8192;
    private const int DecoderLayerWorkSlot = 4, CounterSlot = 5, DecoderLayerCounterBytes = 1024;

    /// <summary>
    /// Slot 5 holds every kernel's hand-off counters: the layer kernels' first, then gemm_skinny.cu's per column tile, then
    /// gemv_attention.cu's per head, then mlp.cu's.
    /// </summary>
    private const int CounterSlotBytes = DecoderLayerCounterBytes + SkinnyCounterBytes + GemvAttentionCounterBytes + MlpCounterBytes;

    /// <summary>
    /// Counter buffers already zeroed (one per lane: each lane has its own slot 5, allocated once and never moved while
    /// the queue lives, so an address here cannot come back as another buffer).
    /// </summary>
    private readonly HashSet<ulong> zeroedCounters = [];

    private void T5DecoderLayer(T5DecoderLayerOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var s = LayerSizes(x);
        if (s.Rows == 0) return;
        CheckLayerTypes(x, y);
        ulong work = queue.Scratch(DecoderLayerWorkSlot, WorkOffsets(s, y.ElementSize).Bytes);
        if (s.Rows < queue.FusedDecoderLayerMinRows || !FitsDecoderLayerKernel(op, s, x, y))
        {
            DecoderLayerByOps(op, s, x, y, work);
            return;
        }
        var variant = queue.FusedDecoderLayerKernel;
        if (variant == DecoderLayerKernel.Stream && StreamLayerSharedBytes(op, s, RowTemplate(s.Rows), y.ElementSize) is int shared)
        {
            LaunchStreamedLayers(op, s, [x.ToArray()], x[(int)L.X].Ptr, y, work, shared);
            return;
        }
        if ((long)s.Rows * Widest(s) * y.ElementSize > DecoderLayerSharedBytes)
        {
            DecoderLayerByOps(op, s, x, y, work);
            return;
        }
        var a = Args();
        for (int i = 0; i < T5DecoderLayerOp.InputCount; i++) a.Ptr(x[i].Ptr);
        a.Ptr(y.Ptr).Ptr(work).Ptr(Counters()).I32(s.Rows).I32(s.Model).I32(s.Inner).I32(s.FeedForward).I32(op.NumHeads)
            .I32(s.MaxLength).I32(s.MemoryLength).F32(op.Eps).F32(op.MaskBias).Ptr(queue.ErrorWord)
            .Prefetch(nextLayerWeights).I32(queue.PrefetchL2Bytes > 0 ? 1 : 0);
        string kernel = s.Rows == 1 && variant == DecoderLayerKernel.Async ? "decoder_layer_async" : "decoder_layer";
        queue.Launch("decoder_layer.cu", $"{kernel}_{LayerKernelSuffix(s, y)}", ((uint)DecoderLayerBlocks(op, s), 1, 1), DecoderLayerThreads, a);
    }

    private static T5DecoderLayerOp.Sizes LayerSizes(ReadOnlySpan<DeviceTensor> x) =>
        T5DecoderLayerOp.SizesOf(x[(int)L.X].Shape, x[(int)L.KeyCache].Shape, x[(int)L.CrossKeys].Shape, x[(int)L.Wi0].Shape);

    private static void CheckLayerTypes(ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        for (int i = 0; i < x.Length; i++)
            if (i is not ((int)L.Position or (int)L.SelfMask or (int)L.CrossMask) && x[i].Type != y.Type)
                throw new BackendException($"CUDA T5DecoderLayer: input {(L)i} {x[i].Desc} stored as {x[i].Type} but x as {y.Type}; expected one type");
    }

    private static string LayerKernelSuffix(T5DecoderLayerOp.Sizes s, DeviceTensor y) => $"{FloatSuffix(y, "T5DecoderLayer")}_r{RowTemplate(s.Rows)}";

    /// <summary>
    /// Slot 5's hand-off counters (both layer kernels' from offset 0 — decoder_layer_stream.cu's stack of 24 layers uses
    /// 194 — and gemm_skinny.cu's after them), all zeroed once whenever the buffer is new: every launch's last block
    /// leaves its counters zero.
    /// </summary>
    private ulong Counters()
    {
        ulong counters = queue.Scratch(CounterSlot, CounterSlotBytes);
        if (zeroedCounters.Add(counters)) queue.Fill(counters, 0, CounterSlotBytes);
        return counters;
    }

    /// <summary>
    /// decoder_layer_stream.cu over <paramref name="layers"/> (each layer's inputs in <see cref="T5DecoderLayerOp.Input"/>
    /// order; at most <see cref="DecoderLayerTable.MaxLayers"/>): the first reads <paramref name="x"/>, every one writes
    /// y and the later ones read it.
    /// </summary>
    private void LaunchStreamedLayers(T5DecoderLayerOp op, T5DecoderLayerOp.Sizes s, IReadOnlyList<DeviceTensor[]> layers, ulong x,
        DeviceTensor y, ulong work, int shared)
    {
        var first = layers[0];
        var table = DecoderLayerTable.From([.. layers.Select(l => T5DecoderStackOp.PerLayerInputs.Select(i => l[(int)i].Ptr).ToArray())]);
        var a = Args().Ptr(x);
        foreach (var input in T5DecoderStackOp.SharedInputs.Skip(1)) a.Ptr(first[(int)input].Ptr);
        a.Layers(table).I32(layers.Count).Ptr(y.Ptr).Ptr(work).Ptr(Counters()).I32(s.Rows).I32(s.Model).I32(s.Inner)
            .I32(s.FeedForward).I32(op.NumHeads).I32(s.MaxLength).I32(s.MemoryLength).F32(op.Eps).F32(op.MaskBias).Ptr(queue.ErrorWord);
        var limits = queue.Limits;
        int perSm = Math.Clamp(limits.BlocksPerMultiprocessor(shared, StreamLayerStaticBytes), 1, 2);
        int blocks = queue.StreamDecoderLayerBlocks > 0 ? queue.StreamDecoderLayerBlocks : limits.Multiprocessors * perSm;
        queue.Launch("decoder_layer_stream.cu", $"decoder_layer_stream_{LayerKernelSuffix(s, y)}", ((uint)blocks, 1, 1), DecoderLayerThreads, a, shared);
    }

    // decoder_layer_stream.cu: three stages of eight 4 KB warp shares; its static shared memory (ptxas: 288 B) rounded up.
    private const int StreamLayerStageBytes = 3 * 8 * 4096, StreamLayerWarpBytes = 4096, StreamLayerStaticBytes = 512;
    private const int StreamLayerMaxKeys = 8 * 4096 / 4 - DecoderLayerMaxHeadDim - 8 * DecoderLayerMaxHeadDim - 32;

    /// <summary>
    /// The dynamic shared memory decoder_layer_stream.cu needs for this layer (its stages, <paramref name="rows"/> input
    /// rows of the widest input, the norm weight), or null where the kernel does not serve it: a column of some product
    /// phase (both gated streams) too long for eight warp shares, keys beyond a stage's scratch, more than the device
    /// lets one block have.
    /// </summary>
    private int? StreamLayerSharedBytes(T5DecoderLayerOp op, T5DecoderLayerOp.Sizes s, int rows, int elementSize)
    {
        bool Splits(int k, bool gated) => ((long)k * elementSize / 16 + 7) / 8 * (gated ? 2 : 1) * 16 <= StreamLayerWarpBytes;
        if (!Splits(s.Model, gated: true) || !Splits(s.Inner, false) || !Splits(s.FeedForward, false)) return null;
        if (s.MaxLength > StreamLayerMaxKeys || s.MemoryLength > StreamLayerMaxKeys) return null;
        long bytes = StreamLayerStageBytes + (long)rows * Widest(s) * elementSize
                     + (long)s.Model * elementSize;
        return bytes + StreamLayerStaticBytes <= queue.Limits.SharedBytesPerBlock ? (int)bytes : null;
    }

    /// <summary>The widest row a layer kernel stages in shared memory: its model, inner or feed-forward width.</summary>
    private static int Widest(T5DecoderLayerOp.Sizes s) => Math.Max(s.Model, Math.Max(s.Inner, s.FeedForward));

    /// <summary>Blocks of every phase (dl_phase_blocks): qkv, self, o, cross q, cross, cross o, gated, wo.</summary>
    internal static int DecoderLayerBlocks(T5DecoderLayerOp op, T5DecoderLayerOp.Sizes s)
    {
        static int Columns(int n) => (n + DecoderLayerColumnsPerBlock - 1) / DecoderLayerColumnsPerBlock;
        return Columns(3 * s.Inner) + 2 * s.Rows * op.NumHeads + Columns(s.Model) + Columns(s.Inner) + Columns(s.Model)
            + Columns(s.FeedForward) + Columns(s.Model);
    }

    private static bool FitsDecoderLayerKernel(T5DecoderLayerOp op, T5DecoderLayerOp.Sizes s, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        int size = y.ElementSize, vector = 16 / size;
        if (s.Rows > 4 || s.Inner / op.NumHeads > DecoderLayerMaxHeadDim) return false;
        if (s.MaxLength is < 1 or > DecoderLayerMaxKeys || s.MemoryLength is < 1 or > DecoderLayerMaxKeys) return false;
        if (s.Model % vector != 0 || s.Inner % vector != 0 || s.FeedForward % vector != 0) return false;
        foreach (var input in new[] { L.X, L.SelfNorm, L.Wq, L.Wk, L.Wv, L.Wo, L.CrossNorm, L.CrossWq, L.CrossWo, L.FfNorm, L.Wi0, L.Wi1, L.WoFf })
            if (x[(int)input].Ptr % 16 != 0) return false;
        return true;
    }

    /// <summary>
    /// Where decoder_layer.cu keeps the intermediates (elements, in <see cref="T5DecoderLayerOp.Intermediate"/> order: q,
    /// o, x1, cross q, cross o, x2, h), each padded to 128 bytes, and the bytes in all.
    /// </summary>
    private static (long[] Offsets, long Bytes) WorkOffsets(T5DecoderLayerOp.Sizes s, int elementSize)
    {
        var offsets = new long[T5DecoderLayerOp.IntermediateCount];
        long at = 0;
        for (int i = 0; i < offsets.Length; i++)
        {
            offsets[i] = at;
            long elements = (long)s.Rows * T5DecoderLayerOp.Width((T5DecoderLayerOp.Intermediate)i, s);
            at += (elements * elementSize + 127) / 128 * 128 / elementSize;
        }
        return (offsets, at * elementSize);
    }

    /// <summary>The layer as its eight ops (<see cref="T5DecoderLayerOp.RunAsOps{T}"/>), on the intermediates in scratch slot 4.</summary>
    private void DecoderLayerByOps(T5DecoderLayerOp op, T5DecoderLayerOp.Sizes s, ReadOnlySpan<DeviceTensor> x, DeviceTensor y, ulong work)
    {
        var offsets = WorkOffsets(s, y.ElementSize).Offsets;
        var intermediates = new DeviceTensor[offsets.Length];
        for (int i = 0; i < offsets.Length; i++)
            intermediates[i] = new(work + (ulong)(offsets[i] * y.ElementSize),
                new TensorDesc(DType.F32, new Shape(s.Rows, 1, T5DecoderLayerOp.Width((T5DecoderLayerOp.Intermediate)i, s))), y.Type);
        if (AttendsInGemv(op, s, x, y)) RunAttendingInGemv(op, s, x.ToArray(), intermediates, y);
        else op.RunAsOps(x.ToArray(), intermediates, y, (step, inputs, output) => Dispatch(step, inputs, output));
    }
}
