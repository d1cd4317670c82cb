namespace PixelLLM.Backends.Cpu;

/// <summary>
/// Walks a subset of a <see cref="PermutePlan"/>'s dims in row-major order, tracking the element offsets in the input
/// and output: random access with <see cref="Start"/>, then cheap odometer steps with <see cref="Advance"/>.
/// </summary>
internal struct DimWalker
{
    private int rank;
    private DimBuffer size, inputStride, outputStride, index;

    public long Count { get; private set; }
    public long InputOffset { get; private set; }
    public long OutputOffset { get; private set; }

    /// <summary>All dims of <paramref name="plan"/> except <paramref name="skipA"/> and <paramref name="skipB"/> (−1: none).</summary>
    public static DimWalker Except(in PermutePlan plan, int skipA, int skipB)
    {
        var w = new DimWalker { Count = 1 };
        for (int i = 0; i < plan.Rank; i++)
        {
            if (i == skipA || i == skipB) continue;
            w.size[w.rank] = plan.Size[i];
            w.inputStride[w.rank] = plan.InputStride[i];
            w.outputStride[w.rank] = plan.OutputStride[i];
            w.Count *= plan.Size[i];
            w.rank++;
        }
        return w;
    }

    public void Start(long linear)
    {
        InputOffset = 0;
        OutputOffset = 0;
        for (int k = rank - 1; k >= 0; k--)
        {
            long i = linear % size[k];
            linear /= size[k];
            index[k] = i;
            InputOffset += i * inputStride[k];
            OutputOffset += i * outputStride[k];
        }
    }

    public void Advance()
    {
        for (int k = rank - 1; k >= 0; k--)
        {
            InputOffset += inputStride[k];
            OutputOffset += outputStride[k];
            if (++index[k] < size[k]) return;
            InputOffset -= size[k] * inputStride[k];
            OutputOffset -= size[k] * outputStride[k];
            index[k] = 0;
        }
    }
}
