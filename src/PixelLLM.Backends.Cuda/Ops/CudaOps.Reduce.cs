using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>Row reductions and gathers: softmax.cu, argmax.cu, greedy_pick.cu, topk.cu, take_along_last.cu, reduce_mean.cu, embedding.cu,
/// t5_position_bias.cu.</summary>
internal sealed partial class CudaOps
{
    private void Softmax(string kernel, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        int cols = y.Shape[-1];
        if (y.Count == 0 || cols == 0) return;
        Rows("softmax.cu", $"{kernel}_{FloatSuffix(y, kernel)}", y.Count / cols, cols, Args().Ptr(x[0].Ptr).Ptr(y.Ptr).I32(cols));
    }

    private void ArgMax(ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        int cols = x[0].Shape[-1];
        if (y.Count == 0) return;
        if (cols == 0) throw new InvalidInputException($"ArgMax: empty last dim in {x[0].Desc}");
        Rows("argmax.cu", $"argmax_{FloatSuffix(x[0], "ArgMax")}", y.Count, cols, Args().Ptr(x[0].Ptr).Ptr(y.Ptr).I32(cols));
    }

    /// <summary>Threads per block of greedy_pick.cu (GREEDY_THREADS: with 8 16-byte loads in flight each, one round trip covers T5's vocabulary).</summary>
    private const int GreedyThreads = 512;

    /// <summary>GreedyPickOp: one block per row of logits writes the token and the scores; the previous tokens are range-checked on the device.</summary>
    private void GreedyPick(GreedyPickOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        int cols = x[0].Shape[-1];
        long rows = x[0].Count / Math.Max(cols, 1);
        if (x[2].Type != x[0].Type)
            throw new BackendException($"CUDA GreedyPick: scores stored as {x[2].Type} but the logits as {x[0].Type}; expected one type");
        Rows("greedy_pick.cu", $"greedy_pick_{FloatSuffix(x[0], "GreedyPick")}", rows, cols,
            Args().Ptr(x[0].Ptr).Ptr(x[1].Ptr).Ptr(y.Ptr).Ptr(x[2].Ptr).I32(cols).I32(op.Eos).F32(op.RepeatCap).Ptr(queue.ErrorWord),
            maxThreads: GreedyThreads);
    }

    private void TopK(TopKOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        int cols = x[0].Shape[-1];
        if (y.Count == 0) return;
        Rows("topk.cu", $"topk_{FloatSuffix(x[0], "TopK")}", y.Count / op.K, cols, Args().Ptr(x[0].Ptr).Ptr(y.Ptr).I32(cols).I32(op.K));
    }

    private void TakeAlongLast(ReadOnlySpan<DeviceTensor> x, DeviceTensor y) =>
        Elements("take_along_last.cu", $"take_along_last_{Suffix(y.Type)}", y.Count, Args().Ptr(x[0].Ptr).Ptr(x[1].Ptr).Ptr(y.Ptr)
            .I64(y.Count).I32(x[0].Shape[-1]).I32(x[1].Shape[-1]).Ptr(queue.ErrorWord));

    private void ReduceMean(ReduceMeanOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y) => ReduceAxis("reduce_mean", "ReduceMean", op.Axis, x[0], y);

    private void ReduceMax(ReduceMaxOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y) => ReduceAxis("reduce_max", "ReduceMax", op.Axis, x[0], y);

    /// <summary>reduce_mean.cu / reduce_max.cu: x viewed as (outer, n, inner), one thread per output.</summary>
    private void ReduceAxis(string kernel, string opName, int opAxis, DeviceTensor x, DeviceTensor y)
    {
        var shape = x.Shape;
        int axis = shape.NormalizeAxis(opAxis);
        long inner = shape.Product(axis + 1, shape.Rank);
        Elements($"{kernel}.cu", $"{kernel}_{FloatSuffix(y, opName)}", y.Count,
            Args().Ptr(x.Ptr).Ptr(y.Ptr).I64(y.Count).I32(shape[axis]).I64(Math.Max(1, inner)));
    }


    private void Embedding(ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var (table, ids) = (x[0], x[1]);
        int dim = table.Shape[1];
        Elements("embedding.cu", $"embedding_{FloatSuffix(table, "Embedding")}_{Suffix(ids.Type)}", y.Count,
            Args().Ptr(table.Ptr).Ptr(ids.Ptr).Ptr(y.Ptr).I64(y.Count).I32(dim).I64(table.Shape[0]).Ptr(queue.ErrorWord));
    }

    private void T5PositionBias(T5PositionBiasOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var table = x[0];
        Elements("t5_position_bias.cu", $"t5_position_bias_{FloatSuffix(table, "T5PositionBias")}", y.Count,
            Args().Ptr(table.Ptr).Ptr(op.HasPosition ? x[1].Ptr : 0).Ptr(y.Ptr).I32(table.Shape[1]).I32(op.QueryLength).I32(op.KeyLength)
                .I64(op.QueryOffset).I32(op.Bidirectional ? 1 : 0).I32(op.NumBuckets).I32(op.MaxDistance));
    }
}
