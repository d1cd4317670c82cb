namespace PixelLLM.Cli;

/// <summary>
/// One path `tune` tries: the switches that select it, the ops backend-check must pass on with it (f32 and bf16 storage),
/// and the bench stages it is meant to speed up (bench's --stages keys).
/// </summary>
internal sealed record TuneCandidate(string Name, IReadOnlyDictionary<string, string> Switches, string Ops, IReadOnlyList<string> Stages, string What)
{
    /// <summary>"NAME=VALUE NAME=VALUE".</summary>
    public string SwitchesLine => string.Join(" ", Switches.Select(s => $"{s.Key}={s.Value}"));
}

/// <summary>
/// The engine's alternative CUDA paths, in the order `tune` tries them: each is tried on top of the ones already taken,
/// so the alternatives of one switch (the decode layer's kernels, the prefetch distance) compete with the best so far.
/// The same pairs bench/gpu/run.sh checks and times on a device (docs/cuda-switches.md); every switch named here is one
/// <see cref="PixelLLM.Backends.Cuda.CudaSwitches"/> marks tunable (a test holds the two together).
/// </summary>
internal static class TuneCandidates
{
    private const string LongAttention = "Attention,GridAttention,RotaryAttention";
    private const string DecoderLayer = "T5DecoderLayer,T5DecoderStack";

    public static IReadOnlyList<TuneCandidate> All { get; } =
    [
        C("warp-softmax", "the vision attention's softmax a warp per row", LongAttention, ["sam", "eva02"], ("PIXELLLM_WARP_SOFTMAX", "1")),
        C("staged-relpos", "SAM's rel-pos terms a lane per term", "RelPosBias,Attention,GridAttention", ["sam"], ("PIXELLLM_STAGED_REL_POS", "1")),
        C("mma", "tensor-core flash attention for the vision encoders", LongAttention, ["sam", "eva02"], ("PIXELLLM_MMA_ATTENTION", "1")),
        C("grid", "SAM's attention blocks as one launch", "GridAttention", ["sam"], ("PIXELLLM_GRID_ATTENTION", "1")),
        C("swiglu-norm", "EVA02's gate and sub-LayerNorm as one launch", "SwiGluNorm", ["eva02"], ("PIXELLLM_FUSED_SWIGLU_NORM", "1")),
        C("gemm-tune", "cuBLASLt's candidates timed per GEMM shape", "Linear,Conv2d,GroupedLinear,MatMul", ["sam", "eva02", "t5-encode", "rerun"],
            ("PIXELLLM_GEMM_TUNE", "1")),
        C("skinny", "9-64-row 16-bit Linears on gemm_skinny.cu", "Linear", ["t5-encode", "rerun"], ("PIXELLLM_SKINNY_GEMM", "1")),
        C("fused-attention", "short attention as one launch", "Attention", ["t5-encode", "rerun"], ("PIXELLLM_FUSED_ATTENTION_FLOPS", "16777216")),
        C("mlp", "the point head as one launch", "Mlp", ["rerun"], ("PIXELLLM_FUSED_MLP", "1")),
        C("prefetch-16", "decode weights asked of L2 16 MB ahead", "T5DecoderStack,T5DecoderLayer,QkvProjection,Linear,RmsNormLinear,RmsNormGeGlu",
            ["decode", "decode4"], ("PIXELLLM_PREFETCH_L2", "16")),
        C("prefetch-32", "decode weights asked of L2 32 MB ahead", "T5DecoderStack,T5DecoderLayer,QkvProjection,Linear,RmsNormLinear,RmsNormGeGlu",
            ["decode", "decode4"], ("PIXELLLM_PREFETCH_L2", "32")),
        C("staged", "decode attention stages keys and values in shared memory", "Attention," + DecoderLayer, ["decode", "decode4"],
            ("PIXELLLM_STAGED_ATTENTION", "1")),
        C("gemv-attention", "one-row decode attentions inside the projections' launches", DecoderLayer, ["decode"], ("PIXELLLM_GEMV_ATTENTION", "1")),
        C("fused", "one launch per decoder layer, one row too", DecoderLayer, ["decode"], ("PIXELLLM_FUSED_LAYER", "1")),
        C("async", "the one-row cp.async layer kernel", DecoderLayer, ["decode"], ("PIXELLLM_FUSED_LAYER", "async")),
        C("stream", "the whole decoder stack in one launch", DecoderLayer, ["decode", "decode4"], ("PIXELLLM_FUSED_LAYER", "stream")),
        C("unfused", "eight launches per decoder layer", DecoderLayer, ["decode", "decode4"], ("PIXELLLM_FUSED_LAYER", "0")),
    ];

    /// <summary>The candidates named in <paramref name="list"/> (comma-separated; null or empty: all), in the table's order.</summary>
    public static IReadOnlyList<TuneCandidate> Select(string? list)
    {
        if (string.IsNullOrWhiteSpace(list)) return All;
        var names = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        var unknown = names.Where(n => All.All(c => c.Name != n)).ToList();
        if (unknown.Count > 0)
            throw new Runtime.InvalidInputException($"--candidates: unknown '{string.Join("', '", unknown)}' (expected some of {string.Join(",", All.Select(c => c.Name))})");
        return [.. All.Where(c => names.Contains(c.Name))];
    }

    private static TuneCandidate C(string name, string what, string ops, string[] stages, params (string Name, string Value)[] switches) =>
        new(name, switches.ToDictionary(s => s.Name, s => s.Value, StringComparer.Ordinal), ops, stages, what);
}
