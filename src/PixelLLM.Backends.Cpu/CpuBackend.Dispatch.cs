using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>
    /// The one place that maps every op to its CPU kernel; <paramref name="float64Gemm"/>: GEMMs accumulate in float64;
    /// <paramref name="storage"/>: what the op's writes are rounded to (<see cref="EmulatedStorage"/>; the steps of an op
    /// made of ops come back through here, so its intermediates are rounded too).
    /// </summary>
    internal static void Dispatch(Op op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64Gemm = false, DType storage = DType.F32)
    {
        switch (op)
        {
            case MatMulOp o: Gemm.MatMul(o, x, y, float64Gemm); break;
            case LinearOp o: Gemm.Linear(o, x, y, float64Gemm); break;
            case GroupedLinearOp o: Gemm.GroupedLinear(o, x, y, float64Gemm); break;
            case RmsNormLinearOp o: Gemm.RmsNormLinear(o, x, y, float64Gemm); break;
            case RmsNormGeGluOp o: Gemm.RmsNormGeGlu(o, x, y, float64Gemm); break;
            case QkvProjectionOp o: Gemm.QkvProjection(o, x, y, float64Gemm); break;
            case T5DecoderLayerOp o: DecoderLayer.T5(o, x, y, float64Gemm, storage); break;
            case T5DecoderStackOp o: DecoderLayer.T5Stack(o, x, y, float64Gemm, storage); break;
            case Conv2dOp o: Conv.Conv2d(o, x, y, float64Gemm); break;
            case ConvTranspose2dOp o: Conv.ConvTranspose2d(o, x, y, float64Gemm); break;
            case LayerNormOp o: Norms.LayerNorm(o, x, y); break;
            case LayerNorm2dOp o: Norms.LayerNorm2d(o, x, y); break;
            case RmsNormOp o: Norms.RmsNorm(o, x, y); break;
            case GroupNormOp o: Norms.GroupNorm(o, x, y); break;
            case UnaryOp o: Elementwise.Unary(o, x, y); break;
            case BinaryOp o: Elementwise.Binary(o, x, y); break;
            case ScaleOp o: Elementwise.Scale(o, x, y); break;
            case SwiGluOp o: Elementwise.SwiGlu(o, x, y); break;
            case GeGluOp o: Elementwise.GeGlu(o, x, y); break;
            case CastOp o: Elementwise.Cast(o, x, y); break;
            case SoftmaxOp o: Reduce.Softmax(o, x, y); break;
            case LogSoftmaxOp o: Reduce.LogSoftmax(o, x, y); break;
            case ArgMaxOp o: Reduce.ArgMax(o, x, y); break;
            case TopKOp o: Reduce.TopK(o, x, y); break;
            case GreedyPickOp o: Reduce.GreedyPick(o, x, y); break;
            case BeamCandidatesOp o: Reduce.BeamCandidates(o, x, y); break;
            case TakeAlongLastOp o: Reduce.TakeAlongLast(o, x, y); break;
            case ReduceMeanOp o: Reduce.ReduceMean(o, x, y); break;
            case ReduceMaxOp o: Reduce.ReduceMax(o, x, y); break;
            case EmbeddingOp o: Reduce.Embedding(o, x, y); break;
            case T5PositionBiasOp o: Reduce.T5PositionBias(o, x, y); break;
            case PermuteOp o: ShapeOps.Permute(o, x, y); break;
            case SliceOp o: ShapeOps.Slice(o, x, y); break;
            case ConcatOp o: ShapeOps.Concat(o, x, y); break;
            case AttentionOp o: Attention.Run(o, x, y); break;
            case GridAttentionOp o: StepOps.Grid(o, x, y, float64Gemm, storage); break;
            case RotaryAttentionOp o: StepOps.Rotary(o, x, y, float64Gemm, storage); break;
            case MlpOp o: StepOps.Mlp(o, x, y, float64Gemm, storage); break;
            case SwiGluNormOp o: StepOps.SwiGluNorm(o, x, y, float64Gemm, storage); break;
            case RopeOp o: Vision.Rope(o, x, y); break;
            case WindowPartitionOp o: Vision.WindowPartition(o, x, y); break;
            case WindowUnpartitionOp o: Vision.WindowUnpartition(o, x, y); break;
            case RelPosBiasOp o: Vision.RelPosBias(o, x, y); break;
            case ResizeOp o: Resize.Run(o, x, y); break;
            case RoiAlignOp o: RoiAlign.Run(o, x, y); break;
            case WriteAtOp o: StateUpdates.WriteAt(o, x, y); break;
            case ReorderRowsOp o: StateUpdates.ReorderRows(o, x, y); break;
            default: throw new NotSupportedException($"CPU backend has no kernel for {op.Name}");
        }
        StorageRounding.Written(op, x, y, storage);
    }
}
