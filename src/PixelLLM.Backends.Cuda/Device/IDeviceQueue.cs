using PixelLLM.Backends.Cuda.Interop;
using PixelLLM.Runtime;

namespace PixelLLM.Backends.Cuda.Device;

/// <summary>
/// A tensor as the CUDA kernels see it: a device address, the graph's description, and the element type it is stored
/// as on the device (f32-declared tensors are stored as bf16/f16 under a 16-bit storage option).
/// </summary>
internal readonly record struct DeviceTensor(ulong Ptr, TensorDesc Desc, DType Type)
{
    public long Count => Desc.ElementCount;
    public int ElementSize => Type.SizeOf();
    public long Bytes => Count * ElementSize;
    public Shape Shape => Desc.Shape;
}

/// <summary>
/// Everything the op launchers ask of the device, in stream order. The real queue (<see cref="CudaQueue"/>) launches on
/// one CUDA stream; tests substitute a recorder, which is how the dispatch is checked without a GPU.
/// </summary>
internal interface IDeviceQueue
{
    /// <summary>
    /// Launches kernel <paramref name="kernel"/> of kernels/<paramref name="file"/>, with <paramref name="sharedBytes"/>
    /// of dynamic shared memory (at most <see cref="Limits"/>' per-block figure; past 48 KB the queue opts the kernel in).
    /// </summary>
    void Launch(string file, string kernel, (uint X, uint Y, uint Z) grid, int block, KernelArgs args, int sharedBytes = 0);

    /// <summary>What the device offers a persistent kernel: its SMs and their shared memory (see <see cref="DeviceLimits"/>).</summary>
    DeviceLimits Limits => DeviceLimits.H100;

    /// <summary>
    /// Whether a 16-bit Linear of 9–64 rows runs on gemm_skinny.cu (W streamed once, tensor cores, split-K) instead of
    /// cuBLAS(Lt): off unless PIXELLLM_SKINNY_GEMM=1 until a device run measures it.
    /// </summary>
    bool SkinnyGemm => false;

    /// <summary>A row-major strided-batched GEMM through cuBLAS (cuBLASLt when the call carries a bias).</summary>
    void Gemm(in GemmCall call);

    /// <summary>Whether <see cref="Gemm"/> takes a <see cref="GemmCall.Bias"/> (cuBLASLt's bias epilogue is switched on).</summary>
    bool GemmBiasEpilogue { get; }

    /// <summary>
    /// Whether a bias call may also carry a <see cref="GemmCall.Residual"/> (cuBLASLt reads it as its C input). Off, the
    /// residual is added by a kernel after the GEMM.
    /// </summary>
    bool GemmResidualEpilogue => GemmBiasEpilogue;

    /// <summary>
    /// Whether <see cref="Gemm"/> takes <see cref="GemmCall.PointerArrays"/> calls, so that attention over several windows
    /// is one GEMM instead of one per window (on unless PIXELLLM_POINTER_GEMM=0).
    /// </summary>
    bool PointerArrayGemm => true;

    /// <summary>
    /// From how many rows a T5 decoder layer of a decode step runs as decoder_layer.cu's one launch instead of its eight
    /// ops: 2 by default (H200 run 10: beam 4 2.6 ms a step fused vs 3.4 as ops, beam 1 1.8 vs 1.6), 1 with
    /// PIXELLLM_FUSED_LAYER=1, never (<see cref="int.MaxValue"/>) with PIXELLLM_FUSED_LAYER=0.
    /// </summary>
    int FusedDecoderLayerMinRows => 2;

    /// <summary>
    /// Which one-launch kernel a fused layer runs on (PIXELLLM_FUSED_LAYER=async or =stream, which also fuse one row;
    /// neither measured on a device yet): see <see cref="DecoderLayerKernel"/>.
    /// </summary>
    DecoderLayerKernel FusedDecoderLayerKernel => DecoderLayerKernel.Tickets;

    /// <summary>
    /// Blocks decoder_layer_stream.cu launches: 0 for as many as fit at once (PIXELLLM_STREAM_LAYER_BLOCKS=N forces N, so
    /// that a check on small shapes still has every block take many tickets across phases; any N is deadlock-free).
    /// </summary>
    int StreamDecoderLayerBlocks => 0;

    /// <summary>
    /// How many bytes of a decode step's upcoming decoder weights each of its GEMVs asks L2 to fetch ahead (prefetch.cuh,
    /// <see cref="Ops.WeightStream"/>), and, when not 0, that decoder_layer.cu's phases prefetch the next phase's weights
    /// and at most this much of the next layer's q, k and v: 0, off, unless PIXELLLM_PREFETCH_L2=N (megabytes) until a
    /// device run measures it.
    /// </summary>
    long PrefetchL2Bytes => 0;

    /// <summary>
    /// Whether SAM's decomposed relative-position terms (rel_pos_bias.cu) run a lane per term over tables staged in
    /// shared memory instead of a warp per term: off unless PIXELLLM_STAGED_REL_POS=1 until a device run measures it.
    /// </summary>
    bool StagedRelPos => false;

    /// <summary>
    /// Whether the GEMM path's softmax (attention_softmax.cu) runs a warp per row with the row in registers, for rows of
    /// at most 1,024 keys (the vision encoders' 196-730), instead of a block per row: off unless PIXELLLM_WARP_SOFTMAX=1
    /// until a device run measures it.
    /// </summary>
    bool WarpSoftmax => false;

    /// <summary>
    /// Whether attention_decode.cu stages a call's keys, values, biases and mask in shared memory before its first
    /// barrier, where they fit (one round trip instead of one per phase; the same results): off unless
    /// PIXELLLM_STAGED_ATTENTION=1 until a device run measures it.
    /// </summary>
    bool StagedDecodeAttention => false;

    /// <summary>
    /// Whether a one-row decode layer run as ops computes each attention in the tail of the projection launch before it
    /// (gemv_attention.cu: the qkv projection with self-attention, the cross query with cross-attention; 48 fewer
    /// launches a T5-XL step): off unless PIXELLLM_GEMV_ATTENTION=1 until a device run measures it.
    /// </summary>
    bool GemvAttention => false;

    /// <summary>
    /// Whether long 16-bit attention without a mask runs on tensor cores (attention_mma.cu, flash-style) instead of the
    /// cuBLAS path (PIXELLLM_MMA_ATTENTION=1). Off until a device run has checked and timed it.
    /// </summary>
    bool TensorCoreAttention => false;

    /// <summary>
    /// Whether 16-bit grid attention (SAM's windowed and global blocks) runs as grid_attention.cu's one tensor-core launch,
    /// windows read in place and rel-pos terms computed in the block, instead of its steps (partition, terms, attention,
    /// un-partition) on scratch (PIXELLLM_GRID_ATTENTION=1). Off until a device run has checked and timed it.
    /// </summary>
    bool FusedGridAttention => false;

    /// <summary>
    /// Whether an MlpOp of at most 32 rows (the point head) runs as mlp.cu's one launch, its layers handing rows to each
    /// other, instead of its LayerNorm, Linears and activations (PIXELLLM_FUSED_MLP=1). Off until a device run has checked
    /// and timed it.
    /// </summary>
    bool FusedMlp => false;

    /// <summary>
    /// Whether SwiGluNormOp (EVA02's gate and sub-LayerNorm) runs as swiglu_norm.cu's one launch, a warp per row keeping
    /// h in shared memory, instead of its two (PIXELLLM_FUSED_SWIGLU_NORM=1). Off until a device run has checked and timed it.
    /// </summary>
    bool FusedSwiGluNorm => false;

    /// <summary>
    /// The work (2·B·H·Lq·Lk·(D + Dv) FLOPs) up to which attention of at most 128 keys runs as attention.cu's one fused
    /// launch even when both lengths reach the cuBLAS path's minimum: T5-XL's encoder (40 tokens, 13 MFLOP) and point rerun attentions are a
    /// few µs of work each, which the cuBLAS path spends three launches on. PIXELLLM_FUSED_ATTENTION_FLOPS=N sets it
    /// (0: lengths alone decide).
    /// </summary>
    long FusedAttentionMaxFlops => DefaultFusedAttentionMaxFlops;

    /// <summary>
    /// The default of <see cref="FusedAttentionMaxFlops"/>: 0, lengths alone decide. Measured on an H200 (run 11): with
    /// 16 MFLOP the one-launch route made T5-XL's encoder 13–16 % and the point rerun 11–15 % slower than cuBLAS's three
    /// launches (2,048-wide heads leave attention.cu's one block per (row, head) short of the card).
    /// </summary>
    const long DefaultFusedAttentionMaxFlops = 0;

    /// <summary>What PIXELLLM_FUSED_ATTENTION_FLOPS set to route short attention to attention.cu in run 11's A/B: 16 MFLOP.</summary>
    const long FusedAttentionFlopsMeasured = 1L << 24;

    /// <summary>Device-to-device copy.</summary>
    void Copy(ulong destination, ulong source, long bytes);

    /// <summary>Sets <paramref name="bytes"/> bytes to <paramref name="value"/>.</summary>
    void Fill(ulong destination, byte value, long bytes);

    /// <summary>
    /// A device scratch buffer of at least <paramref name="bytes"/>, one per slot (0–5; 4 and 5 belong to the decoder layer),
    /// valid until the next call for that slot.
    /// </summary>
    ulong Scratch(int slot, long bytes);

    /// <summary>The device address of the i32 error word kernels report invalid input into (see prelude.cuh).</summary>
    ulong ErrorWord { get; }
}

/// <summary>The one-launch kernels a fused T5 decoder layer can run on.</summary>
internal enum DecoderLayerKernel
{
    /// <summary>decoder_layer.cu: a block per ticket, its weights requested into registers before it waits.</summary>
    Tickets,

    /// <summary>decoder_layer.cu's _async kernel for one row (first weights copied into shared memory, 4 blocks per SM); more rows as <see cref="Tickets"/>.</summary>
    Async,

    /// <summary>decoder_layer_stream.cu: persistent blocks, each with three tiles of weights in flight through shared memory.</summary>
    Stream,
}

/// <summary>A device's multiprocessors and shared memory, as the driver reports them.</summary>
/// <param name="Multiprocessors">SMs (CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT).</param>
/// <param name="SharedBytesPerMultiprocessor">Shared memory per SM (…_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR).</param>
/// <param name="SharedBytesPerBlock">The most one block may opt in to (…_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN).</param>
/// <param name="ReservedBytesPerBlock">What the system keeps of each block's share (…_RESERVED_SHARED_MEMORY_PER_BLOCK).</param>
internal readonly record struct DeviceLimits(int Multiprocessors, int SharedBytesPerMultiprocessor, int SharedBytesPerBlock, int ReservedBytesPerBlock)
{
    /// <summary>An H100 SXM's figures (132 SMs, 228 KB per SM, 227 KB per block, 1 KB reserved): what a recorder assumes.</summary>
    public static DeviceLimits H100 => new(132, 233472, 232448, 1024);

    /// <summary>How many blocks of <paramref name="sharedBytes"/> dynamic + <paramref name="staticBytes"/> static shared memory fit on one SM.</summary>
    public int BlocksPerMultiprocessor(int sharedBytes, int staticBytes) =>
        SharedBytesPerMultiprocessor / Math.Max(1, sharedBytes + staticBytes + ReservedBytesPerBlock);
}

