using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

internal static unsafe partial class Reduce
{
    /// <summary><see cref="GreedyPickOp"/>: the token of <see cref="GreedyChoice.Pick"/> per row, its (log-prob, margin) into the scores.</summary>
    public static void GreedyPick(GreedyPickOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        var picks = GreedyRows(x, op.Eos, op.RepeatCap);
        float* scores = x[2].F32Ptr;
        for (int r = 0; r < picks.Length; r++)
        {
            ((int*)y.Pointer)[r] = picks[r].Token;
            (scores[2 * r], scores[2 * r + 1]) = (picks[r].LogProb, picks[r].Margin);
        }
    }

    /// <summary>Each row copied (the cap is applied in place) and picked; a handful of rows per decode step, so serial.</summary>
    private static (int Token, float LogProb, float Margin)[] GreedyRows(ReadOnlySpan<CpuTensor> x, int eos, float repeatCap)
    {
        int width = x[0].Shape[-1];
        var picks = new (int, float, float)[x[0].Length / width];
        var row = new float[width];
        var previous = (int*)x[1].Pointer;
        for (int r = 0; r < picks.Length; r++)
        {
            new ReadOnlySpan<float>(x[0].F32Ptr + (long)r * width, width).CopyTo(row);
            picks[r] = GreedyChoice.Pick(row, previous[r], eos, repeatCap);
        }
        return picks;
    }
}
