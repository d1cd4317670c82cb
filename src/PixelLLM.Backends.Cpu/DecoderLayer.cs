using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;
using L = PixelLLM.Runtime.Ops.T5DecoderLayerOp.Input;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// T5DecoderLayerOp as the eight ops it stands for (<see cref="T5DecoderLayerOp.RunAsOps{T}"/>), each run by its own CPU
/// code on intermediates in this thread's scratch: the same bits as the unfused graph, which is what makes the fused op
/// safe to build on every backend. The stack op is its layers in a row.
/// </summary>
internal static unsafe class DecoderLayer
{
    public static void T5(T5DecoderLayerOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64, DType storage)
    {
        var s = T5DecoderLayerOp.SizesOf(x[(int)L.X].Shape, x[(int)L.KeyCache].Shape, x[(int)L.CrossKeys].Shape, x[(int)L.Wi0].Shape);
        long total = 0;
        for (int i = 0; i < T5DecoderLayerOp.IntermediateCount; i++) total += (long)s.Rows * T5DecoderLayerOp.Width((T5DecoderLayerOp.Intermediate)i, s);
        float* at = GemmScratch.Get(ScratchSlot.DecoderLayer, total);
        var intermediates = new CpuTensor[T5DecoderLayerOp.IntermediateCount];
        for (int i = 0; i < intermediates.Length; i++)
        {
            int width = T5DecoderLayerOp.Width((T5DecoderLayerOp.Intermediate)i, s);
            intermediates[i] = new CpuTensor((byte*)at, new TensorDesc(DType.F32, new Shape(s.Rows, 1, width)));
            at += (long)s.Rows * width;
        }
        op.RunAsOps(x.ToArray(), intermediates, y, (step, inputs, output) => CpuBackend.Dispatch(step, inputs, output, float64, storage));
    }

    /// <summary>T5DecoderStackOp as its layers, each run as above: the same bits as a graph of layer ops.</summary>
    public static void T5Stack(T5DecoderStackOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64, DType storage) =>
        op.RunAsLayers(x.ToArray(), y, (layer, inputs, output) => T5(layer, inputs, output, float64, storage));
}
