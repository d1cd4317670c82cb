using PixelLLM.Backends.Cuda.Device;

namespace PixelLLM.Backends.Cuda;

/// <summary>One environment switch of the CUDA backend: what it changes, its default, and whether a device run measured it.</summary>
/// <param name="Name">The environment variable.</param>
/// <param name="Default">What holds when it is unset.</param>
/// <param name="Meaning">What the other values do, in one line.</param>
/// <param name="Measured">Whether a GPU run has checked and timed it (docs/perf/gpu-h100.md, gpu-h200.md).</param>
/// <param name="Tunable">Whether `pixelllm tune` tries it, so a card's tuned profile may set it (<see cref="CudaSwitchSettings"/>).</param>
public sealed record CudaSwitch(string Name, string Default, string Meaning, bool Measured, bool Tunable = false)
{
    /// <summary>The value set in this process's environment, or null (a backend's <see cref="CudaSwitchSettings"/> adds its card's tuned profile).</summary>
    public string? Value => Environment.GetEnvironmentVariable(Name);
}

/// <summary>
/// Every performance switch the CUDA backend reads from the environment, in one place (what `pixelllm info` lists and
/// `bench` records): each selects between paths that the GPU script checks against the CPU and times as an A/B pair.
/// </summary>
public static class CudaSwitches
{
    /// <summary>The switches, most consequential first.</summary>
    public static IReadOnlyList<CudaSwitch> All { get; } =
    [
        new(CudaBackend.GraphsVariable, "1", "0: launch every run eagerly instead of replaying a recorded CUDA graph", true),
        new(CudaQueue.CublasLtVariable, "1", "0: plain cuBLAS GEMMs and a bias kernel instead of cuBLASLt's bias epilogue", true),
        new(CudaQueue.ResidualEpilogueVariable, "1", "0: a Linear's residual added after the GEMM instead of as cuBLASLt's C input", true),
        new(CudaQueue.PointerGemmVariable, "1", "0: windowed attention as one strided GEMM pair per window instead of pointer-array GEMMs", true),
        new(CudaQueue.FusedLayerVariable, "from 2 rows", "T5 decode layer: 0 eight ops, 1 one launch on every row count, async / stream other one-launch kernels", true, Tunable: true),
        new(CudaQueue.StreamLayerBlocksVariable, "by occupancy", "N: force decoder_layer_stream.cu's grid (for checks)", true),
        new(CudaQueue.FusedAttentionFlopsVariable, $"{IDeviceQueue.DefaultFusedAttentionMaxFlops}", "N: work up to which short attention is attention.cu's one launch (0: the cuBLAS path)", true, Tunable: true),
        new(CudaQueue.MmaAttentionVariable, "0", "1: long 16-bit attention on attention_mma.cu (tensor cores, flash-style), EVA02's rotary attention on rotary_attention.cu", false, Tunable: true),
        new(CudaQueue.FusedMlpVariable, "0", "1: the point head (an MLP of at most 32 rows) as mlp.cu's one launch instead of its norm, Linears and activations", false, Tunable: true),
        new(CudaQueue.FusedSwiGluNormVariable, "0", "1: EVA02's gate and sub-LayerNorm as swiglu_norm.cu's one launch (a warp per row, h kept in shared memory)", false, Tunable: true),
        new(CudaQueue.GridAttentionVariable, "0", "1: SAM's attention blocks as grid_attention.cu's one launch (windows read in place, rel-pos terms in the block)", false, Tunable: true),
        new(CudaQueue.SkinnyGemmVariable, "0", "1: 9-64-row 16-bit Linears on gemm_skinny.cu instead of cuBLAS", true, Tunable: true),
        new(GemmAlgorithmTuner.Variable, "0", "1: time cuBLASLt's candidates (and GemmEx) per GEMM shape once, keep the fastest (cached on disk); fresh: time again", true, Tunable: true),
        new(CudaBackend.ConcurrentLanesVariable, "0", "1: a graph's side lane (SAM beside EVA02) on a second stream", true),
        new(CudaQueue.PrefetchL2Variable, "0", "N: a decode step asks L2 for its decoder weights ahead: one row's GEMVs N MB ahead, beams' layer kernels phase by phase", false, Tunable: true),
        new(CudaQueue.StagedRelPosVariable, "0", "1: SAM's relative-position terms a lane per term over tables in shared memory", false, Tunable: true),
        new(CudaQueue.WarpSoftmaxVariable, "0", "1: the GEMM path's attention softmax a warp per row (rows up to 1,024 keys) instead of a block", false, Tunable: true),
        new(CudaQueue.GemvAttentionVariable, "0", "1: a one-row decode layer's attentions in the tail of the projection launch before each (gemv_attention.cu)", false, Tunable: true),
        new(CudaQueue.StagedAttentionVariable, "0", "1: a decode step's short attention stages its keys and values in shared memory first", false, Tunable: true),
        new(CudaQueue.DependentLaunchVariable, "0", "1: programmatic dependent launch (sm_90): each kernel may start during its predecessor's tail", true),
        new(CudaOpTimer.HoldVariable, "100", "N: a profiled run holds its stream up to N ms while the host queues the nodes ahead (0: no hold; node times then include launch gaps)", false),
    ];
}
