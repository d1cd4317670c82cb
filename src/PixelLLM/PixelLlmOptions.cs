namespace PixelLLM;

/// <summary>Where the model computes.</summary>
public enum ComputeBackend
{
    /// <summary>The host CPU (f32, all cores unless <see cref="PixelLlmOptions.Threads"/> limits them).</summary>
    Cpu,

    /// <summary>
    /// The host CPU with GEMMs and convolutions accumulating in float64: several times slower, for comparing outputs with
    /// a reference implementation at its own float32 noise floor ("cpu-f64" on the command line).
    /// </summary>
    CpuFloat64,

    /// <summary>An NVIDIA GPU (requests on one model then run one at a time).</summary>
    Cuda,
}

/// <summary>
/// The floating-point type a model's weights (and, on a GPU, its activations) are held in. Products and sums accumulate in
/// f32 at every precision; the narrower types halve the bytes each step reads.
/// </summary>
public enum ComputePrecision
{
    /// <summary>
    /// As the model directory stores its weights: a directory written in bf16 (<c>pixelllm convert/init --dtype bf16</c>)
    /// runs in bf16, one in f16 in f16 on the GPU (f32 on the CPU), one in f32 in f32 — so the reference checkpoints run
    /// exactly and a half-precision model at its speed and memory.
    /// </summary>
    Auto,

    /// <summary>Everything f32: the precision the reference outputs are checked at.</summary>
    Float32,

    /// <summary>
    /// bf16 storage. CUDA: weights and activations stored bf16. CPU: every Linear weight held bf16 (the rest f32, every value
    /// computed in f32), which halves a decode step's weight bytes.
    /// </summary>
    BFloat16,

    /// <summary>f16 storage of weights and activations (CUDA only).</summary>
    Float16,
}

/// <summary>How <see cref="PixelLlmModel.Load"/> sets a model up.</summary>
public sealed record PixelLlmOptions
{
    /// <summary>The compute backend (default CPU).</summary>
    public ComputeBackend Backend { get; init; } = ComputeBackend.Cpu;

    /// <summary>What weights and activations are held in (default: as the model directory stores them).</summary>
    public ComputePrecision Precision { get; init; }

    /// <summary>Cores one model may use for its kernels; 0 (default) = all.</summary>
    public int Threads { get; init; }

    /// <summary>
    /// Requests that run at the same time; more wait. Each running request holds its own compiled graphs and activations over
    /// the shared weights, so memory grows with this number (default 2).
    /// </summary>
    public int MaxConcurrentRequests { get; init; } = 2;

    /// <summary>Largest image (width × height) <see cref="PixelLlmModel.LoadImage"/> decodes.</summary>
    public long MaxImagePixels { get; init; } = PixelImage.DefaultMaxPixels;

    /// <summary>
    /// Decode with a key/value cache (one position per step). Every task does by default (exact for T5 and GIT: the goldens
    /// pass either way); kept so that callers who set it still get what they asked for.
    /// </summary>
    public bool KvCacheDecoding { get; init; }

    /// <summary>Most prompts (boxes) one request may carry (default 512); more is refused before anything is allocated.</summary>
    public int MaxPromptsPerRequest { get; init; } = 512;

    /// <summary>
    /// Most images one vision pass and one decode take together (default 8): <see cref="PixelLlmModel.CaptionBatch"/> runs a
    /// longer list as consecutive batches of this many, so no graph is ever built for more images than this. As for every
    /// request shape, the graphs compiled for each batch size used stay with the model (a list of 10 keeps those for 8 and
    /// for 2): budget <see cref="MaxWorkingMemoryBytes"/> for the sizes a service sends.
    /// </summary>
    public int MaxImagesPerBatch { get; init; } = 8;

    /// <summary>
    /// Most decode positions one request may hold: beams × prompts × decoder length L (default 65,536; a caption is 4 beams ×
    /// 1 × L, location captions 1 × boxes × L, dense captioning 1 × K slots × L). Checked at load for the model's own shapes
    /// and before every request allocates anything.
    /// </summary>
    public long MaxDecodePositions { get; init; } = 65_536;

    /// <summary>
    /// Bytes the CPU backend may allocate for compiled graphs' activations and states (weights are not counted); 0 (default) =
    /// unlimited. A request that needs more fails with <see cref="Runtime.OutOfBackendMemoryException"/>, releasing what it
    /// had, and the model serves the next request. (A GPU backend reports the device's own out-of-memory the same way.)
    /// </summary>
    public long MaxWorkingMemoryBytes { get; init; }

    /// <summary>
    /// Host memory the weights may take. Null (default): detected (Linux MemAvailable and the memory cgroup's headroom, or
    /// $PIXELLLM_AVAILABLE_MEMORY); <see cref="long.MaxValue"/> turns the load-time check off.
    /// </summary>
    public long? AvailableMemoryBytes { get; init; }

    /// <summary>
    /// When set, the model's backend is wrapped by this profiler: every graph node is timed on the device's clock (graph
    /// capture off) and <see cref="Runtime.Profiling.ExecutionProfiler.Report"/> gives per-op time, FLOP/s and GB/s.
    /// </summary>
    public Runtime.Profiling.ExecutionProfiler? Profiler { get; init; }

    /// <summary>
    /// Decode captions, referring expressions and dense captions by rerunning the whole decoder at every step, as the
    /// reference does: the same tokens as the cache at many times the cost, for checking it. Cannot be combined with
    /// <see cref="KvCacheDecoding"/>.
    /// </summary>
    public bool FullRerunDecoding { get; init; }

    internal void Validate()
    {
        if (Threads < 0) throw new Runtime.InvalidInputException($"threads must be 0 (all cores) or positive, got {Threads}");
        if (MaxConcurrentRequests < 1) throw new Runtime.InvalidInputException($"MaxConcurrentRequests must be at least 1, got {MaxConcurrentRequests}");
        if (FullRerunDecoding && KvCacheDecoding)
            throw new Runtime.InvalidInputException("decoding: choose KvCacheDecoding or FullRerunDecoding, not both");
        if (!Enum.IsDefined(Precision)) throw new Runtime.InvalidInputException($"Precision: unknown value {(int)Precision}");
        if (Backend is not ComputeBackend.Cuda && Precision is ComputePrecision.Float16)
            throw new Runtime.InvalidInputException($"precision f16 runs on the CUDA backend only (the {BackendLabel(Backend)} backend holds weights in f32 or bf16)");
        if (Backend is ComputeBackend.CpuFloat64 && Precision is ComputePrecision.BFloat16)
            throw new Runtime.InvalidInputException("precision bf16 does not apply to the cpu-f64 backend (it compares with a reference at f32 and beyond)");
        if (MaxImagePixels < 1) throw new Runtime.InvalidInputException($"MaxImagePixels must be positive, got {MaxImagePixels}");
        if (MaxPromptsPerRequest < 1) throw new Runtime.InvalidInputException($"MaxPromptsPerRequest must be at least 1, got {MaxPromptsPerRequest}");
        if (MaxImagesPerBatch < 1) throw new Runtime.InvalidInputException($"MaxImagesPerBatch must be at least 1, got {MaxImagesPerBatch}");
        if (MaxDecodePositions < 1) throw new Runtime.InvalidInputException($"MaxDecodePositions must be at least 1, got {MaxDecodePositions}");
        if (MaxWorkingMemoryBytes < 0) throw new Runtime.InvalidInputException($"MaxWorkingMemoryBytes must be 0 (unlimited) or positive, got {MaxWorkingMemoryBytes}");
        if (AvailableMemoryBytes < 0) throw new Runtime.InvalidInputException($"AvailableMemoryBytes must not be negative, got {AvailableMemoryBytes}");
    }

    private static string BackendLabel(ComputeBackend backend) => backend == ComputeBackend.CpuFloat64 ? "cpu-f64" : "cpu";
}
