using System.Runtime.CompilerServices;
using PixelLLM.Runtime;

namespace PixelLLM.Backends.Cpu;

/// <summary>Fixed-capacity dim storage so broadcast plans live on the stack.</summary>
[InlineArray(BroadcastPlan.MaxRank)]
internal struct DimBuffer
{
    private long first;
}

/// <summary>
/// How two operands map onto a broadcast output, simplified: size-1 output dims are dropped and neighbouring dims that
/// both operands traverse contiguously (or both repeat) are merged. Same-shape operands become one dim; a bias row over
/// leading dims becomes (rows, n) with the bias repeating; what is left is looped over row by row.
/// </summary>
internal struct BroadcastPlan
{
    public const int MaxRank = 32;

    /// <summary>Number of merged dims (at least 1); the last is the innermost, contiguous in the output.</summary>
    public int Rank;
    public DimBuffer Dims;
    /// <summary>Element strides of a and b per merged dim: 0 where that operand repeats. Innermost is 0 or 1.</summary>
    public DimBuffer StrideA, StrideB;

    public readonly long Inner => Dims[Rank - 1];
    public readonly long Rows => Product(0, Rank - 1);
    /// <summary>True when operand a advances along the innermost dim (else one value repeats across the row).</summary>
    public readonly bool AIsRow => StrideA[Rank - 1] != 0 || Inner == 1;
    public readonly bool BIsRow => StrideB[Rank - 1] != 0 || Inner == 1;

    public static BroadcastPlan Create(Shape a, Shape b, Shape y)
    {
        int rank = y.Rank;
        if (rank > MaxRank) throw new NotSupportedException($"CPU broadcast: rank {rank} exceeds {MaxRank}");
        var plan = new BroadcastPlan();
        // Build innermost-first, then reverse.
        long contiguousA = 1, contiguousB = 1;
        int count = 0;
        for (int i = rank - 1; i >= 0; i--)
        {
            int ia = i - (rank - a.Rank), ib = i - (rank - b.Rank);
            long da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1, d = y[i];
            long sa = da == 1 ? 0 : contiguousA, sb = db == 1 ? 0 : contiguousB;
            contiguousA *= da;
            contiguousB *= db;
            if (d == 1) continue;
            if (count > 0 && plan.StrideA[count - 1] * plan.Dims[count - 1] == sa && plan.StrideB[count - 1] * plan.Dims[count - 1] == sb)
            {
                plan.Dims[count - 1] *= d;
                continue;
            }
            plan.Dims[count] = d;
            plan.StrideA[count] = sa;
            plan.StrideB[count] = sb;
            count++;
        }
        if (count == 0)
        {
            plan.Dims[0] = 1;
            count = 1;
        }
        plan.Rank = count;
        ((Span<long>)plan.Dims)[..count].Reverse();
        ((Span<long>)plan.StrideA)[..count].Reverse();
        ((Span<long>)plan.StrideB)[..count].Reverse();
        return plan;
    }

    /// <summary>Element offsets of a and b at the start of output row <paramref name="row"/> (rows in row-major order).</summary>
    public readonly void RowOffsets(long row, out long offsetA, out long offsetB)
    {
        offsetA = 0;
        offsetB = 0;
        for (int k = Rank - 2; k >= 0 && row > 0; k--)
        {
            long index = row % Dims[k];
            row /= Dims[k];
            offsetA += index * StrideA[k];
            offsetB += index * StrideB[k];
        }
    }

    private readonly long Product(int from, int to)
    {
        long n = 1;
        for (int i = from; i < to; i++) n *= Dims[i];
        return n;
    }
}
