using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>
/// Turns one op into kernel launches and cuBLAS calls on a <see cref="IDeviceQueue"/>. Launchers know shapes and
/// kernel names, never device state, so the same code is exercised by a recording queue in tests (no GPU needed).
/// </summary>
internal sealed partial class CudaOps(IDeviceQueue queue)
{
    /// <summary>Threads per block of the grid-stride elementwise kernels.</summary>
    private const int Threads = 256;

    private readonly KernelArgs args = new();

    /// <summary>The one place that maps every op to its CUDA kernels, mirroring CpuBackend.Dispatch.</summary>
    public void Dispatch(Op op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        switch (op)
        {
            case MatMulOp o: MatMul(o, x, y); break;
            case LinearOp o: Linear(o, x, y); break;
            case GroupedLinearOp o: GroupedLinear(o, x, y); break;
            case RmsNormLinearOp o: RmsNormLinear(o, x, y); break;
            case RmsNormGeGluOp o: RmsNormGeGlu(o, x, y); break;
            case QkvProjectionOp o: QkvProjection(o, x, y); break;
            case T5DecoderLayerOp o: T5DecoderLayer(o, x, y); break;
            case T5DecoderStackOp o: T5DecoderStack(o, x, y); break;
            case Conv2dOp o: Conv2d(o, x, y); break;
            case ConvTranspose2dOp o: ConvTranspose2d(o, x, y); break;
            case LayerNormOp o: LayerNorm(o, x, y); break;
            case LayerNorm2dOp o: LayerNorm2d(o, x, y); break;
            case RmsNormOp o: RmsNorm(o, x, y); break;
            case GroupNormOp o: GroupNorm(o, x, y); break;
            case UnaryOp o: Unary(o, x, y); break;
            case BinaryOp o: Binary(o, x, y); break;
            case ScaleOp o: Scale(o, x, y); break;
            case SwiGluOp o: SwiGlu(o, x, y); break;
            case GeGluOp o: GeGlu(o, x, y); break;
            case CastOp: Cast(x, y); break;
            case SoftmaxOp: Softmax("softmax", x, y); break;
            case LogSoftmaxOp: Softmax("log_softmax", x, y); break;
            case ArgMaxOp: ArgMax(x, y); break;
            case GreedyPickOp o: GreedyPick(o, x, y); break;
            case BeamCandidatesOp o: BeamCandidates(o, x, y); break;
            case TopKOp o: TopK(o, x, y); break;
            case TakeAlongLastOp: TakeAlongLast(x, y); break;
            case ReduceMeanOp o: ReduceMean(o, x, y); break;
            case ReduceMaxOp o: ReduceMax(o, x, y); break;
            case EmbeddingOp: Embedding(x, y); break;
            case T5PositionBiasOp o: T5PositionBias(o, x, y); break;
            case PermuteOp o: Permute(o, x, y); break;
            case SliceOp o: Slice(o, x, y); break;
            case ConcatOp o: Concat(o, x, y); break;
            case AttentionOp o: Attention(o, x, y); break;
            case GridAttentionOp o: GridAttention(o, x, y); break;
            case RotaryAttentionOp o: RotaryAttention(o, x, y); break;
            case MlpOp o: Mlp(o, x, y); break;
            case SwiGluNormOp o: SwiGluNorm(o, x, y); break;
            case RopeOp o: Rope(o, x, y); break;
            case WindowPartitionOp o: WindowPartition(o, x, y); break;
            case WindowUnpartitionOp o: WindowUnpartition(o, x, y); break;
            case RelPosBiasOp o: RelPosBias(o, x, y); break;
            case ResizeOp o: Resize(o, x, y); break;
            case WriteAtOp o: WriteAt(o, x, y); break;
            case ReorderRowsOp o: ReorderRows(o, x, y); break;
            case RoiAlignOp o: RoiAlign(o, x, y); break;
            default: throw new NotSupportedException($"CUDA backend has no kernel for {op.Name}");
        }
    }

    /// <summary>Whether a kernel of this op may report bad input through the error word (so the backend can name it).</summary>
    public static bool MayReportInvalidInput(Op op) =>
        op is EmbeddingOp or TakeAlongLastOp or WriteAtOp or QkvProjectionOp or T5DecoderLayerOp or T5DecoderStackOp or ReorderRowsOp or GreedyPickOp or MlpOp
            or BinaryOp { Kind: BinaryKind.Div };

    private KernelArgs Args() => args.Reset();

    /// <summary>The kernel-name suffix of a device element type.</summary>
    internal static string Suffix(DType type) => type switch
    {
        DType.F32 => "f32",
        DType.BF16 => "bf16",
        DType.F16 => "f16",
        DType.I32 => "i32",
        DType.I64 => "i64",
        DType.U8 => "u8",
        _ => throw new BackendException($"CUDA backend: no kernels for {type}"),
    };

    /// <summary>The suffix of a float tensor's kernels; other types are a graph the CPU would reject as well.</summary>
    private static string FloatSuffix(DeviceTensor t, string op) => t.Type.IsFloat()
        ? Suffix(t.Type)
        : throw new BackendException($"CUDA {op}: expected a float tensor, got {t.Desc}");

    /// <summary>The suffix of the data-movement kernels for an element size: b1, b2, b4, b8.</summary>
    private static string Bytes(DeviceTensor t) => "b" + t.ElementSize;

    /// <summary>A grid-stride launch over <paramref name="n"/> elements (nothing for n = 0).</summary>
    private void Elements(string file, string kernel, long n, KernelArgs a)
    {
        if (n <= 0) return;
        uint blocks = (uint)Math.Clamp((n + Threads - 1) / Threads, 1, 1 << 20);
        queue.Launch(file, kernel, (blocks, 1, 1), Threads, a);
    }

    /// <summary>One block per row of <paramref name="cols"/> elements: a warp for short rows, up to 1024 threads for long ones.</summary>
    private void Rows(string file, string kernel, long rows, int cols, KernelArgs a, int maxThreads = 1024)
    {
        if (rows <= 0) return;
        if (rows > int.MaxValue) throw new BackendException($"CUDA {kernel}: {rows} rows exceed one grid");
        int threads = Math.Clamp((cols + 31) / 32 * 32, 32, maxThreads);
        queue.Launch(file, kernel, ((uint)rows, 1, 1), threads, a);
    }

    private static long[] ShapeLongs(Shape s)
    {
        var dims = new long[s.Rank];
        for (int i = 0; i < dims.Length; i++) dims[i] = s[i];
        return dims;
    }
}
