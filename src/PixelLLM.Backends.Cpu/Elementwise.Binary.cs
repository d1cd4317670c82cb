using System.Numerics;
using System.Numerics.Tensors;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

internal static unsafe partial class Elementwise
{
    /// <summary>Longest stretch of one output row handled as a unit, so a single huge row still spreads over the cores.</summary>
    private const int SegmentLength = 1 << 14;

    /// <summary>
    /// a ∘ b with NumPy broadcasting, for F32/F16/BF16/I32/I64/U8. Integer ops wrap on overflow and Div truncates
    /// toward zero (an integer division by zero is rejected). Max/Min propagate NaN like torch.maximum.
    /// </summary>
    public static void Binary(BinaryOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        var (a, b) = (x[0], x[1]);
        if (op.Kind == BinaryKind.Div && !a.Desc.DType.IsFloat()) RejectZeroDivisor(b);
        var plan = BroadcastPlan.Create(a.Shape, b.Shape, y.Shape);
        int size = y.Desc.DType.SizeOf();
        int groupRows = ShortRowGroup(plan);
        if (groupRows > 1)
        {
            // The repeating row, tiled groupRows times, lives on this thread's stack while the workers run (For returns
            // only when they are done).
            long wide = plan.Inner * groupRows;
            byte* tiled = stackalloc byte[(int)(wide * size)];
            bool aRepeats = plan.StrideA[0] == 0;
            var row = new ReadOnlySpan<byte>((aRepeats ? a : b).Pointer, (int)(plan.Inner * size));
            for (int r = 0; r < groupRows; r++) row.CopyTo(new Span<byte>(tiled + r * row.Length, row.Length));
            var repeated = new CpuTensor(tiled, new TensorDesc(y.Desc.DType, new Shape(checked((int)wide))));
            (a, b) = aRepeats ? (repeated, b) : (a, repeated);
            plan.Dims[0] /= groupRows;
            plan.Dims[1] = wide;
            (aRepeats ? ref plan.StrideB[0] : ref plan.StrideA[0]) = wide;
        }
        long inner = plan.Inner;
        long segment = Math.Min(inner, SegmentLength);
        long segmentsPerRow = (inner + segment - 1) / segment;
        long items = plan.Rows * segmentsPerRow;
        KernelParallel.For(items, Math.Max(1, FloatTensorMap.ParallelGrain / segment), new BinaryBody(op.Kind, plan, a, b, y, segment, segmentsPerRow));
    }

    /// <summary>Widest row a short-row group aims for, in elements.</summary>
    private const int GroupedRowElements = 1024;

    /// <summary>
    /// How many output rows to treat as one when rows are short and one operand is a single row repeated over a contiguous
    /// other (a per-channel mean over an image's pixels: (…, 3) ∘ (3)): a call per 3 values would cost ~30× the
    /// arithmetic. A divisor of the row count, at least 4; 1 when the shape does not qualify. Elementwise results do not
    /// depend on the grouping.
    /// </summary>
    private static int ShortRowGroup(in BroadcastPlan plan)
    {
        if (plan.Rank != 2 || plan.Inner >= 64 || plan.StrideA[1] != 1 || plan.StrideB[1] != 1) return 1;
        long inner = plan.Inner, rows = plan.Dims[0];
        bool aRepeats = plan.StrideA[0] == 0 && plan.StrideB[0] == inner, bRepeats = plan.StrideB[0] == 0 && plan.StrideA[0] == inner;
        if (!aRepeats && !bRepeats) return 1;
        for (long k = Math.Min(rows, GroupedRowElements / inner); k >= 4; k--)
            if (rows % k == 0) return (int)k;
        return 1;
    }

    private static void RejectZeroDivisor(CpuTensor b)
    {
        bool zero = b.Desc.DType switch
        {
            DType.I32 => b.I32.Contains(0),
            DType.I64 => b.I64.Contains(0L),
            DType.U8 => b.U8.Contains((byte)0),
            _ => false,
        };
        if (zero) throw new InvalidInputException($"Binary Div: integer divisor {b.Desc} contains a zero");
    }

    private readonly struct BinaryBody(BinaryKind kind, BroadcastPlan plan, CpuTensor a, CpuTensor b, CpuTensor y, long segment, long segmentsPerRow)
        : IRangeBody
    {
        public void Run(long start, long end)
        {
            long inner = plan.Inner;
            bool aRow = plan.AIsRow, bRow = plan.BIsRow;
            int size = y.Desc.DType.SizeOf();
            for (long item = start; item < end; item++)
            {
                long row = item / segmentsPerRow, from = item % segmentsPerRow * segment;
                int n = (int)Math.Min(segment, inner - from);
                plan.RowOffsets(row, out long offA, out long offB);
                if (aRow) offA += from;
                if (bRow) offB += from;
                byte* pa = a.Pointer + offA * size, pb = b.Pointer + offB * size, py = y.Pointer + (row * inner + from) * size;
                switch (y.Desc.DType)
                {
                    case DType.F32: Row(kind, (float*)pa, aRow, (float*)pb, bRow, (float*)py, n); break;
                    case DType.F16: Row(kind, (Half*)pa, aRow, (Half*)pb, bRow, (Half*)py, n); break;
                    case DType.I32: Row(kind, (int*)pa, aRow, (int*)pb, bRow, (int*)py, n); break;
                    case DType.I64: Row(kind, (long*)pa, aRow, (long*)pb, bRow, (long*)py, n); break;
                    case DType.U8: Row(kind, pa, aRow, pb, bRow, py, n); break;
                    case DType.BF16: RowBFloat16(kind, (ushort*)pa, aRow, (ushort*)pb, bRow, (ushort*)py, n); break;
                    default: throw new NotSupportedException($"CPU Binary: no kernel for {y.Desc}");
                }
            }
        }
    }

    /// <summary>One output row: each operand is either a row of n values or one value repeated.</summary>
    private static void Row<T>(BinaryKind kind, T* a, bool aRow, T* b, bool bRow, T* y, int n) where T : unmanaged, INumber<T>
    {
        var dst = new Span<T>(y, n);
        if (aRow && bRow)
        {
            ReadOnlySpan<T> sa = new(a, n), sb = new(b, n);
            switch (kind)
            {
                case BinaryKind.Add: TensorPrimitives.Add(sa, sb, dst); break;
                case BinaryKind.Sub: TensorPrimitives.Subtract(sa, sb, dst); break;
                case BinaryKind.Mul: TensorPrimitives.Multiply(sa, sb, dst); break;
                case BinaryKind.Div: TensorPrimitives.Divide(sa, sb, dst); break;
                case BinaryKind.Max: TensorPrimitives.Max(sa, sb, dst); break;
                case BinaryKind.Min: TensorPrimitives.Min(sa, sb, dst); break;
                default: throw new NotSupportedException($"CPU Binary: no kernel for {kind}");
            }
        }
        else if (aRow)
        {
            ReadOnlySpan<T> sa = new(a, n);
            T s = *b;
            switch (kind)
            {
                case BinaryKind.Add: TensorPrimitives.Add(sa, s, dst); break;
                case BinaryKind.Sub: TensorPrimitives.Subtract(sa, s, dst); break;
                case BinaryKind.Mul: TensorPrimitives.Multiply(sa, s, dst); break;
                case BinaryKind.Div: TensorPrimitives.Divide(sa, s, dst); break;
                case BinaryKind.Max: TensorPrimitives.Max(sa, s, dst); break;
                case BinaryKind.Min: TensorPrimitives.Min(sa, s, dst); break;
                default: throw new NotSupportedException($"CPU Binary: no kernel for {kind}");
            }
        }
        else
        {
            ReadOnlySpan<T> sb = new(b, n);
            T s = *a;
            switch (kind)
            {
                case BinaryKind.Add: TensorPrimitives.Add(sb, s, dst); break;
                case BinaryKind.Sub: TensorPrimitives.Subtract(s, sb, dst); break;
                case BinaryKind.Mul: TensorPrimitives.Multiply(sb, s, dst); break;
                case BinaryKind.Div: TensorPrimitives.Divide(s, sb, dst); break;
                case BinaryKind.Max: TensorPrimitives.Max(sb, s, dst); break;
                case BinaryKind.Min: TensorPrimitives.Min(sb, s, dst); break;
                default: throw new NotSupportedException($"CPU Binary: no kernel for {kind}");
            }
        }
    }

    /// <summary>BF16 has no arithmetic type: widen both sides to f32 in stack chunks, compute, round back.</summary>
    private static void RowBFloat16(BinaryKind kind, ushort* a, bool aRow, ushort* b, bool bRow, ushort* y, int n)
    {
        const int Chunk = 256;
        float* fa = stackalloc float[Chunk], fb = stackalloc float[Chunk];
        for (int from = 0; from < n; from += Chunk)
        {
            int len = Math.Min(Chunk, n - from);
            for (int i = 0; i < len; i++)
            {
                fa[i] = BFloat16.ToSingle(aRow ? a[from + i] : a[0]);
                fb[i] = BFloat16.ToSingle(bRow ? b[from + i] : b[0]);
            }
            Row(kind, fa, true, fb, true, fa, len);
            for (int i = 0; i < len; i++) y[from + i] = BFloat16.FromSingle(fa[i]);
        }
    }
}
