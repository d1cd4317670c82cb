using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

/// <summary>Data-movement kernels; they copy bytes by element size, so every dtype works.</summary>
internal static unsafe partial class ShapeOps
{
    /// <summary>Bytes below which copies stay on one core.</summary>
    private const long ParallelBytes = 1 << 18;

    /// <summary>Elements Start, Start+Step, … below min(End, dim) along one axis: x viewed as (outer, dim, inner).</summary>
    public static void Slice(SliceOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        var shape = x[0].Shape;
        int axis = shape.NormalizeAxis(op.Axis);
        long outer = shape.Product(0, axis), inner = shape.Product(axis + 1, shape.Rank);
        long size = x[0].Desc.DType.SizeOf(), innerBytes = inner * size;
        int count = y.Shape[axis];
        if (y.Length == 0) return;
        long rowsPerOuter = op.Step == 1 ? 1 : count, runBytes = op.Step == 1 ? count * innerBytes : innerBytes;
        KernelParallel.For(outer * rowsPerOuter, Math.Max(1, ParallelBytes / runBytes),
            new SliceRuns(x[0].Pointer, y.Pointer, shape[axis] * innerBytes, op.Start * innerBytes, op.Step * innerBytes, rowsPerOuter, runBytes));
    }

    private readonly struct SliceRuns(byte* x, byte* y, long outerBytes, long startBytes, long stepBytes, long runsPerOuter, long runBytes) : IRangeBody
    {
        public void Run(long start, long end)
        {
            for (long r = start; r < end; r++)
            {
                long o = r / runsPerOuter, k = r % runsPerOuter;
                Buffer.MemoryCopy(x + o * outerBytes + startBytes + k * stepBytes, y + r * runBytes, runBytes, runBytes);
            }
        }
    }

    /// <summary>Joins the inputs along one axis: for each outer index, each input's (dim_i · inner) block in turn.</summary>
    public static void Concat(ConcatOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        var shape = y.Shape;
        int axis = shape.NormalizeAxis(op.Axis);
        long outer = shape.Product(0, axis), innerBytes = shape.Product(axis + 1, shape.Rank) * y.Desc.DType.SizeOf();
        long outRowBytes = shape[axis] * innerBytes, offset = 0;
        foreach (var input in x)
        {
            long blockBytes = input.Shape[axis] * innerBytes;
            if (blockBytes > 0)
                KernelParallel.For(outer, Math.Max(1, ParallelBytes / blockBytes), new ConcatBlocks(input.Pointer, y.Pointer + offset, blockBytes, outRowBytes));
            offset += blockBytes;
        }
    }

    private readonly struct ConcatBlocks(byte* source, byte* destination, long blockBytes, long outRowBytes) : IRangeBody
    {
        public void Run(long start, long end)
        {
            for (long o = start; o < end; o++)
                Buffer.MemoryCopy(source + o * blockBytes, destination + o * outRowBytes, blockBytes, blockBytes);
        }
    }
}
