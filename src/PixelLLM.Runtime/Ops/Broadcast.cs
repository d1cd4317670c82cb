namespace PixelLLM.Runtime.Ops;

/// <summary>NumPy broadcasting of shapes (right-aligned; size-1 dims stretch).</summary>
public static class Broadcast
{
    public static Shape? TryShape(Shape a, Shape b)
    {
        int rank = Math.Max(a.Rank, b.Rank);
        var dims = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Rank ? 1 : a[i - (rank - a.Rank)];
            int db = i < rank - b.Rank ? 1 : b[i - (rank - b.Rank)];
            if (da != db && da != 1 && db != 1) return null;
            dims[i] = da == 1 ? db : da;
        }
        return new Shape(dims);
    }

    /// <summary>Element strides of <paramref name="operand"/> viewed as <paramref name="target"/> (0 on stretched dims).</summary>
    public static long[] Strides(Shape operand, Shape target)
    {
        var own = operand.Strides();
        var s = new long[target.Rank];
        int offset = target.Rank - operand.Rank;
        for (int i = 0; i < target.Rank; i++)
        {
            int j = i - offset;
            s[i] = j < 0 || operand[j] == 1 ? 0 : own[j];
        }
        return s;
    }
}
