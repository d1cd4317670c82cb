using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>beam_candidates.cu: a beam-search step's candidates chosen next to the logits (three launches, no host work).</summary>
internal sealed partial class CudaOps
{
    /// <summary>BEAM_THREADS and BEAM_CHUNK of beam_candidates.cu: threads per block, logits per block of the first two passes.</summary>
    private const int BeamThreads = 256, BeamChunk = 2048;

    /// <summary>The scratch slot of the chunks' stats and partial candidates (transient, like attention's slots 1 and 2).</summary>
    private const int BeamScratchSlot = 1;

    private void BeamCandidates(BeamCandidatesOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var (logits, live, values) = (x[0], x[1], x[2]);
        int cols = logits.Shape[-1], rows = logits.Shape[0], batch = rows / op.Beams;
        if (y.Count == 0) return;
        int chunks = (cols + BeamChunk - 1) / BeamChunk;
        if (rows > ushort.MaxValue) throw new BackendException($"CUDA BeamCandidates: {rows} rows exceed the grid's y limit (65535)");
        long statBytes = 2L * rows * chunks * sizeof(float), partCount = (long)rows * chunks * op.Keep;
        if (partCount / batch > int.MaxValue)
            throw new BackendException($"CUDA BeamCandidates: {partCount / batch} partial candidates per element exceed I32");
        ulong stats = queue.Scratch(BeamScratchSlot, statBytes + 2 * partCount * sizeof(float));
        ulong partValues = stats + (ulong)statBytes, partIndices = partValues + (ulong)(partCount * sizeof(float));
        string suffix = FloatSuffix(logits, "BeamCandidates");
        queue.Launch("beam_candidates.cu", $"beam_stats_{suffix}", ((uint)chunks, (uint)rows, 1), BeamThreads,
            Args().Ptr(logits.Ptr).Ptr(stats).I32(cols));
        queue.Launch("beam_candidates.cu", $"beam_select_{suffix}", ((uint)chunks, (uint)rows, 1), BeamThreads,
            Args().Ptr(logits.Ptr).Ptr(stats).Ptr(live.Ptr).Ptr(partValues).Ptr(partIndices).I32(cols).I32(op.Beams).I32(op.Keep));
        queue.Launch("beam_candidates.cu", "beam_merge", ((uint)batch, 1, 1), BeamThreads,
            Args().Ptr(partValues).Ptr(partIndices).Ptr(y.Ptr).Ptr(values.Ptr).I32((int)(partCount / batch)).I32(op.Keep));
    }
}
