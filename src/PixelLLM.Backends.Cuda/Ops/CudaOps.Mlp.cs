using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>
/// MlpOp (the point head). With <see cref="IDeviceQueue.FusedMlp"/> and at most <see cref="MlpMaxRows"/> rows, mlp.cu's
/// one launch: the layers' column blocks hand their rows to each other through slot 5's counters. Else the op's steps
/// (LayerNorm, Linear, activation, …), the launches the graph of those ops made, on intermediates in a scratch slot.
/// </summary>
internal sealed partial class CudaOps
{
    /// <summary>mlp.cu's block (MLP_WARPS warps, a column each) and its limits (MLP_MAX_ROWS, MLP_MAX_DEPTH).</summary>
    private const int MlpThreads = 256, MlpColumnsPerBlock = 8, MlpMaxRows = 32;

    /// <summary>mlp.cu's counters in slot 5, after the decoder layers', gemm_skinny.cu's and gemv_attention.cu's.</summary>
    private const int MlpCounterBytes = 64;

    private void Mlp(MlpOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        if (y.Count == 0) return;
        var descs = Descriptions(x);
        int d = x[0].Shape[-1], rows = (int)(x[0].Count / d);
        var widths = op.Widths(descs);
        if (queue.FusedMlp && FusedMlpShared(op, x, y, rows, d, widths) is var shared && shared > 0)
        {
            // Each layer but the last writes its rows to the scratch slot; the last writes y.
            var work = ScratchTensors(widths[..^1].Select(n => (TensorDesc?)new TensorDesc(y.Desc.DType, new Shape(rows, n))).ToArray(), y.Type);
            var layers = new (ulong, ulong, ulong, int)[op.Depth];
            int blocks = 0;
            for (int l = 0; l < op.Depth; l++)
            {
                layers[l] = (x[op.WeightInput(l)].Ptr, x[op.WeightInput(l) + 1].Ptr, l == op.Depth - 1 ? y.Ptr : work[l].Ptr, widths[l]);
                blocks += (widths[l] + MlpColumnsPerBlock - 1) / MlpColumnsPerBlock;
            }
            ulong counters = Counters() + DecoderLayerCounterBytes + SkinnyCounterBytes + GemvAttentionCounterBytes;
            queue.Launch("mlp.cu", $"mlp_{FloatSuffix(y, "Mlp")}", ((uint)blocks, 1, 1), MlpThreads,
                Args().Ptr(x[0].Ptr).Ptr(op.PreNorm ? x[1].Ptr : 0).Ptr(op.PreNorm ? x[2].Ptr : 0).MlpLayers(MlpLayerTable.From(layers))
                    .Ptr(counters).Ptr(queue.ErrorWord).I32(rows).I32(d).I32(op.Depth).I32(MlpActivationCode(op.Activation)).F32(op.NormEps),
                shared);
            return;
        }
        op.RunAsOps(x.ToArray(), ScratchTensors(op.Intermediates(descs), y.Type), y, (step, inputs, output) => Dispatch(step, inputs, output));
    }

    /// <summary>mlp.cu's activation code, or −1 for one it does not apply.</summary>
    private static int MlpActivationCode(UnaryKind kind) => kind switch
    {
        UnaryKind.Relu => 1,
        UnaryKind.Gelu => 2,
        UnaryKind.GeluTanh => 3,
        UnaryKind.Silu => 4,
        _ => -1,
    };

    /// <summary>
    /// mlp.cu's dynamic shared memory (the widest layer input's rows), or 0 where it does not serve the call: one storage
    /// type, at most <see cref="MlpMaxRows"/> rows and <see cref="MlpLayerTable.MaxDepth"/> layers, an activation it has,
    /// the rows within a block's shared memory.
    /// </summary>
    private int FusedMlpShared(MlpOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y, int rows, int d, int[] widths)
    {
        if (rows > MlpMaxRows || op.Depth > MlpLayerTable.MaxDepth || MlpActivationCode(op.Activation) < 0 || !AllStoredAs(x, y.Type)) return 0;
        long widest = d;
        for (int l = 0; l < op.Depth - 1; l++) widest = Math.Max(widest, widths[l]);
        long bytes = rows * widest * y.ElementSize;
        return bytes <= queue.Limits.SharedBytesPerBlock ? (int)Math.Max(bytes, 16) : 0;
    }
}
