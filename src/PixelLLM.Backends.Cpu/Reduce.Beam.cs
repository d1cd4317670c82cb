using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

internal static unsafe partial class Reduce
{
    /// <summary>
    /// <see cref="BeamCandidatesOp"/>: per batch element, every continuation's <see cref="BeamCandidateChoice.Scores"/>
    /// value over its beams (flat beam·V + token), then the Keep best by the selection heap (larger first, lower index
    /// on ties, NaN above every number). A few elements per decode step, so serial.
    /// </summary>
    public static void BeamCandidates(BeamCandidatesOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        int vocab = x[0].Shape[-1], beams = op.Beams, keep = op.Keep;
        int batch = (int)(x[0].Length / vocab / beams);
        var flat = ScratchBuffer.Rent(beams * vocab).AsSpan(0, beams * vocab);   // beams × V < 2^31 (checked by the op)
        var live = (float*)x[1].Pointer;
        var values = (float*)x[2].Pointer;                  // I32 storage holding float32 bit patterns
        var kept = new float[keep];
        var keptAt = new int[keep];
        for (int b = 0; b < batch; b++)
        {
            for (int beam = 0; beam < beams; beam++)
            {
                long row = (long)b * beams + beam;
                BeamCandidateChoice.Scores(new ReadOnlySpan<float>(x[0].F32Ptr + row * vocab, vocab), live[row], flat.Slice(beam * vocab, vocab));
            }
            var heap = new SelectionHeap(kept, keptAt);
            SelectTop(flat, ref heap);
            var indices = new Span<int>((int*)y.Pointer + (long)b * keep, keep);
            heap.DrainBestFirst(indices);
            for (int c = 0; c < keep; c++) values[(long)b * keep + c] = flat[indices[c]];
        }
    }
}
