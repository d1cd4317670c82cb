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
    /// <summary>Launches kernel <paramref name="kernel"/> of kernels/<paramref name="file"/>.</summary>
    void Launch(string file, string kernel, (uint X, uint Y, uint Z) grid, int block, KernelArgs args);

    /// <summary>A row-major strided-batched GEMM through cuBLAS (cuBLASLt when the call carries a bias).</summary>
    void Gemm(in GemmCall call);

    /// <summary>Whether <see cref="Gemm"/> takes a <see cref="GemmCall.Bias"/> (cuBLASLt's bias epilogue is switched on).</summary>
    bool GemmBiasEpilogue { get; }

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
    /// Whether a one-row fused layer uses decoder_layer.cu's _async kernel (first weights copied into shared memory, 4
    /// blocks per SM instead of 2; PIXELLLM_FUSED_LAYER=async, which also fuses one row). Not yet measured on a device.
    /// </summary>
    bool AsyncDecoderLayer => false;

    /// <summary>
    /// Whether long 16-bit attention without a mask runs on tensor cores (attention_mma.cu, flash-style) instead of the
    /// cuBLAS path (PIXELLLM_MMA_ATTENTION=1). Off until a device run has checked and timed it.
    /// </summary>
    bool TensorCoreAttention => false;

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
