using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// Multi-head attention kernel. Work is split into tiles of (batch, head, a run of queries); each tile computes
/// its score rows in a per-thread scratch buffer, so nothing the size of (Lq, Lk) is ever materialised.
/// </summary>
internal static class Attention
{
    /// <summary>Below this many multiply-adds a call runs on the calling thread: task start-up would dominate.</summary>
    private const long MinParallelWork = 1 << 18;

    public static void Run(AttentionOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        if (x[op.QkvInputs == 1 ? 0 : 1].Shape[1] == 0)
        {
            // No keys: every weighted sum is empty, as PyTorch's softmax-then-matmul gives.
            y.F32.Clear();
            return;
        }
        var job = new AttentionJob(op, x, y);
        int tiles = job.TileCount;
        if (tiles > 1 && job.MultiplyAdds >= MinParallelWork)
            Parallel.For(0, tiles, tile => job.RunTile(tile));
        else
            for (int tile = 0; tile < tiles; tile++) job.RunTile(tile);
    }
}
