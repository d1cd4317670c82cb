using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>
/// What the ops that stand for several ops (GridAttention, RotaryAttention, Mlp, SwiGluNorm) share on CUDA: their
/// operands' descriptions, and their intermediates (or a fused kernel's work rows) in one scratch slot.
/// </summary>
internal sealed partial class CudaOps
{
    /// <summary>The step ops' scratch slot (their steps' own ops use slots 0-5).</summary>
    private const int OpStepsSlot = 6;

    private static long AlignedBytes(long bytes) => (bytes + 255) / 256 * 256;

    private static TensorDesc[] Descriptions(ReadOnlySpan<DeviceTensor> x)
    {
        var descs = new TensorDesc[x.Length];
        for (int i = 0; i < x.Length; i++) descs[i] = x[i].Desc;
        return descs;
    }

    /// <summary>Whether every operand is stored as <paramref name="type"/> (a fused kernel reads them all as one T).</summary>
    private static bool AllStoredAs(ReadOnlySpan<DeviceTensor> x, DType type)
    {
        foreach (var t in x)
            if (t.Type != type) return false;
        return true;
    }

    /// <summary>
    /// Tensors of these descriptions, stored as <paramref name="type"/>, side by side in the step ops' scratch slot,
    /// 256-byte aligned (a null description gets no storage).
    /// </summary>
    private DeviceTensor[] ScratchTensors(IReadOnlyList<TensorDesc?> descs, DType type)
    {
        long Bytes(TensorDesc? d) => d is null ? 0 : AlignedBytes(d.ElementCount * type.SizeOf());
        long total = descs.Sum(Bytes);
        ulong at = total == 0 ? 0 : queue.Scratch(OpStepsSlot, total);
        var tensors = new DeviceTensor[descs.Count];
        for (int i = 0; i < descs.Count; i++)
        {
            if (descs[i] is { } d) tensors[i] = new DeviceTensor(at, d, type);
            at += (ulong)Bytes(descs[i]);
        }
        return tensors;
    }
}
