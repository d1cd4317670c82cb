using PixelLLM.Backends.Cuda.Interop;
using PixelLLM.Runtime;

namespace PixelLLM.Backends.Cuda.Device;

/// <summary>
/// The real <see cref="IDeviceQueue"/>: one device's primary context, one non-blocking stream, cuBLAS on that stream
/// with its workspace set up front (so a captured graph never allocates), kernels compiled with NVRTC for the device's
/// arch on first use (disk-cached) and loaded as modules. Not thread-safe: the backend serialises calls.
/// </summary>
internal sealed unsafe partial class CudaQueue : IDeviceQueue, IDisposable
{
    private const int CublasWorkspaceBytes = 32 << 20;
    private const int ScratchSlots = 7;

    private readonly Dictionary<string, nint> modules = new(StringComparer.Ordinal);
    private readonly Dictionary<string, nint> functions = new(StringComparer.Ordinal);
    private readonly KernelCompiler compiler;

    /// <summary>Environment variable that switches programmatic dependent launch on when set to 1 (see <see cref="DependentLaunch"/>).</summary>
    public const string DependentLaunchVariable = "PIXELLLM_PDL";

    /// <summary>Environment variable that switches cuBLASLt's bias epilogue off when set to 0 (see <see cref="GemmBiasEpilogue"/>).</summary>
    public const string CublasLtVariable = "PIXELLLM_CUBLASLT";

    /// <summary>Environment variable that switches pointer-array GEMMs off when set to 0 (see <see cref="PointerArrayGemm"/>).</summary>
    public const string PointerGemmVariable = "PIXELLLM_POINTER_GEMM";

    /// <inheritdoc/>
    public bool PointerArrayGemm { get; }

    /// <summary>
    /// Environment variable: 0 runs T5DecoderLayerOp as its eight ops, 1 fuses it on every row count; async and stream
    /// do too, on the one-row _async kernel or on decoder_layer_stream.cu (see <see cref="FusedDecoderLayerMinRows"/>,
    /// <see cref="FusedDecoderLayerKernel"/>).
    /// </summary>
    public const string FusedLayerVariable = "PIXELLLM_FUSED_LAYER";

    /// <inheritdoc/>
    public int FusedDecoderLayerMinRows { get; }

    /// <inheritdoc/>
    public DecoderLayerKernel FusedDecoderLayerKernel { get; }

    /// <summary>Environment variable that sets <see cref="StreamDecoderLayerBlocks"/>.</summary>
    public const string StreamLayerBlocksVariable = "PIXELLLM_STREAM_LAYER_BLOCKS";

    /// <inheritdoc/>
    public int StreamDecoderLayerBlocks { get; }

    /// <summary>Environment variable that sets <see cref="FusedAttentionMaxFlops"/> (default 0: the cuBLAS path from 16 tokens on).</summary>
    public const string FusedAttentionFlopsVariable = "PIXELLLM_FUSED_ATTENTION_FLOPS";

    /// <inheritdoc/>
    public long FusedAttentionMaxFlops { get; }

    /// <summary>Environment variable that, set to 1, runs 9–64-row 16-bit Linears on gemm_skinny.cu (see <see cref="SkinnyGemm"/>).</summary>
    public const string SkinnyGemmVariable = "PIXELLLM_SKINNY_GEMM";

    /// <inheritdoc/>
    public bool SkinnyGemm { get; }

    /// <summary>Environment variable that, set to 1, switches <see cref="StagedRelPos"/> on.</summary>
    public const string StagedRelPosVariable = "PIXELLLM_STAGED_REL_POS";

    /// <inheritdoc/>
    public bool StagedRelPos { get; }

    /// <summary>Environment variable that, set to 1, switches <see cref="WarpSoftmax"/> on.</summary>
    public const string WarpSoftmaxVariable = "PIXELLLM_WARP_SOFTMAX";

    /// <inheritdoc/>
    public bool WarpSoftmax { get; }

    /// <summary>Environment variable that, set to 1, switches <see cref="StagedDecodeAttention"/> on.</summary>
    public const string StagedAttentionVariable = "PIXELLLM_STAGED_ATTENTION";

    /// <inheritdoc/>
    public bool StagedDecodeAttention { get; }

    /// <summary>Environment variable that, set to 1, switches <see cref="GemvAttention"/> on.</summary>
    public const string GemvAttentionVariable = "PIXELLLM_GEMV_ATTENTION";

    /// <inheritdoc/>
    public bool GemvAttention { get; }

    /// <summary>Environment variable that sets <see cref="PrefetchL2Bytes"/> in megabytes (unset or 0: off).</summary>
    public const string PrefetchL2Variable = "PIXELLLM_PREFETCH_L2";

    /// <inheritdoc/>
    public long PrefetchL2Bytes { get; }

    /// <summary>Environment variable that, set to 1, runs long 16-bit attention on attention_mma.cu (see <see cref="TensorCoreAttention"/>).</summary>
    public const string MmaAttentionVariable = "PIXELLLM_MMA_ATTENTION";

    /// <summary>
    /// Times cuBLASLt's top candidates per GEMM shape on its first eager call and keeps the fastest (opt-in until measured:
    /// $PIXELLLM_GEMM_TUNE=1; see <see cref="GemmAlgorithmTuner"/>). Null when off.
    /// </summary>
    private readonly GemmAlgorithmTuner? tuner;

    /// <summary>What GEMM tuning found so far (empty when it is off).</summary>
    public IReadOnlyList<GemmTuningResult> GemmTuning => tuner?.Results ?? [];

    /// <inheritdoc/>
    public bool TensorCoreAttention { get; }

    /// <summary>Environment variable that, set to 1, runs SAM's grid attention as grid_attention.cu's one launch (see <see cref="FusedGridAttention"/>).</summary>
    public const string GridAttentionVariable = "PIXELLLM_GRID_ATTENTION";

    /// <inheritdoc/>
    public bool FusedGridAttention { get; }

    /// <summary>Environment variable that, set to 1, runs small MLPs (the point head) as mlp.cu's one launch (see <see cref="FusedMlp"/>).</summary>
    public const string FusedMlpVariable = "PIXELLLM_FUSED_MLP";

    /// <inheritdoc/>
    public bool FusedMlp { get; }

    /// <summary>Environment variable that, set to 1, runs EVA02's gate and sub-LayerNorm as swiglu_norm.cu's one launch (see <see cref="FusedSwiGluNorm"/>).</summary>
    public const string FusedSwiGluNormVariable = "PIXELLLM_FUSED_SWIGLU_NORM";

    /// <inheritdoc/>
    public bool FusedSwiGluNorm { get; }

    /// <summary>CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE (bytes).</summary>
    private const int L2CacheSizeAttribute = 38;

    public CudaQueue(int ordinal = 0)
    {
        Driver = CudaDriver.Load();
        int count = Driver.DeviceCount();
        if (ordinal >= count) throw new BackendException($"CUDA device {ordinal} requested but {count} device(s) are visible");
        Device = Driver.Device(ordinal);
        Arch = new GpuArch(Driver.Attribute(Device, 75) * 10 + Driver.Attribute(Device, 76));
        DeviceName = Driver.DeviceName(Device);
        Switches = CudaSwitchSettings.ForDevice(DeviceName, Arch.ToString()); // before the context: a bad $PIXELLLM_TUNED throws here
        Context = Driver.RetainPrimaryContext(Device);
        MakeCurrent();
        DependentLaunch = Switches.Get(DependentLaunchVariable) == "1" && Arch.Version >= 90 && Driver.HasDependentLaunch;
        PointerArrayGemm = Switches.Get(PointerGemmVariable) != "0";
        var fusedLayer = Switches.Get(FusedLayerVariable);
        FusedDecoderLayerMinRows = fusedLayer switch
        {
            "0" => int.MaxValue,
            "1" or "async" or "stream" => 1,
            _ => 2,
        };
        FusedDecoderLayerKernel = fusedLayer switch
        {
            "async" => DecoderLayerKernel.Async,
            "stream" => DecoderLayerKernel.Stream,
            _ => DecoderLayerKernel.Tickets,
        };
        StreamDecoderLayerBlocks = int.TryParse(Switches.Get(StreamLayerBlocksVariable), out int blocks) && blocks > 0 ? blocks : 0;
        FusedAttentionMaxFlops = long.TryParse(Switches.Get(FusedAttentionFlopsVariable), out long flops) && flops >= 0
            ? flops : IDeviceQueue.DefaultFusedAttentionMaxFlops;
        PrefetchL2Bytes = long.TryParse(Switches.Get(PrefetchL2Variable), out long megabytes) && megabytes is > 0 and <= 1024 ? megabytes << 20 : 0;
        bool On(string variable) => Switches.Get(variable) == "1";
        (SkinnyGemm, StagedRelPos, WarpSoftmax, StagedDecodeAttention, GemvAttention) =
            (On(SkinnyGemmVariable), On(StagedRelPosVariable), On(WarpSoftmaxVariable), On(StagedAttentionVariable), On(GemvAttentionVariable));
        (TensorCoreAttention, FusedGridAttention, FusedMlp, FusedSwiGluNorm) =
            (On(MmaAttentionVariable), On(GridAttentionVariable), On(FusedMlpVariable), On(FusedSwiGluNormVariable));
        GemmBiasEpilogue = Switches.Get(CublasLtVariable) != "0";
        residualEpilogueAllowed = Switches.Get(ResidualEpilogueVariable) != "0";
        Limits = new DeviceLimits(Driver.Attribute(Device, 16), Driver.Attribute(Device, 81), Driver.Attribute(Device, 97),
            Driver.Attribute(Device, 111));
        current = lanes[0] = new QueueLane(Driver.CreateStream(), Driver.Alloc(CublasWorkspaceBytes));
        ErrorWord = Driver.Alloc(sizeof(int));
        Driver.FillAsync(ErrorWord, 0, sizeof(int), Stream);
        tuner = GemmAlgorithmTuner.FromSetting(Switches.Get(GemmAlgorithmTuner.Variable), Driver, () => Stream, () => Capturing, Quiesce,
            () => GemmTuningCache.DefaultPath(DeviceName, Arch.ToString(), CudaLibraries.ProbeCublasLt().Version ?? "unknown"),
            Driver.Attribute(Device, L2CacheSizeAttribute));
        Transfers = new HostTransfers(Driver);
        compiler = new KernelCompiler(Nvrtc.TryLoad(out var nvrtcMissing), KernelCache.Default(), DependentLaunch, PrebuiltKernels.FromEnvironment(),
            nvrtcMissing);
    }

    public CudaDriver Driver { get; }
    public int Device { get; }
    public nint Context { get; }
    /// <summary>The stream of the lane work is queued on now (<see cref="UseLane"/>); lane 0's outside a graph's side lane.</summary>
    public nint Stream => current.Stream;

    /// <summary>Lane 0's stream: transfers, synchronisation, capture and graph launches.</summary>
    public nint MainStream => lanes[0].Stream;
    public GpuArch Arch { get; }
    public string DeviceName { get; }

    /// <summary>Every switch's value for this device: the environment's, else its tuned profile's, else the default.</summary>
    public CudaSwitchSettings Switches { get; }
    public DeviceLimits Limits { get; }
    public ulong ErrorWord { get; }

    /// <summary>
    /// Linear/Conv GEMMs with a bias go through cuBLASLt with the bias in the epilogue (one launch instead of two). On
    /// unless $PIXELLLM_CUBLASLT=0 (checked on an H200 in run 3: backend-check 164/164 with it, EVA02 7.1 → 5.8 ms; bench/gpu/run.sh
    /// still runs backend-check both ways).
    /// </summary>
    public bool GemmBiasEpilogue { get; set; }

    /// <summary>Environment variable that, set to 0, keeps residuals out of cuBLASLt's epilogue (see <see cref="GemmResidualEpilogue"/>).</summary>
    public const string ResidualEpilogueVariable = "PIXELLLM_RESIDUAL_EPILOGUE";

    /// <summary>
    /// A Linear's residual rides in cuBLASLt's bias epilogue as its C input (session 14: the encoders' skip connections
    /// without an Add launch each). Not yet measured on a device; $PIXELLLM_RESIDUAL_EPILOGUE=0 adds it after, as before.
    /// </summary>
    public bool GemmResidualEpilogue => GemmBiasEpilogue && residualEpilogueAllowed;

    private readonly bool residualEpilogueAllowed;

    /// <summary>
    /// Our kernels built for and launched with programmatic dependent launch (sm_90, CUDA 12+): each may start while its
    /// predecessor finishes and waits for it inside (kernels/prelude.cuh). Off unless $PIXELLLM_PDL=1: checked on an H100
    /// (backend-check, goldens, graph-check all pass) but no faster inside CUDA graphs (docs/perf/gpu-h100.md, session 8);
    /// bench/gpu/run.sh keeps checking and timing it.
    /// </summary>
    public bool DependentLaunch { get; }

    /// <summary>Kernel launches, GEMM calls, copies and fills queued so far (the profiler's launches per run).</summary>
    public long Launches { get; private set; }

    /// <summary>Host ↔ device copies of inputs and outputs through pinned staging memory.</summary>
    public HostTransfers Transfers { get; }

    /// <summary>CUDA graph replays queued so far.</summary>
    public long Replays { get; set; }

    /// <summary>Bumped whenever a scratch buffer moves: recorded graphs that used the old address must be recorded again.</summary>
    public long ScratchGeneration { get; private set; }

    /// <summary>
    /// True while the stream is being captured: nothing may allocate then, so a scratch buffer that would have to grow
    /// fails the capture (the executor runs that step eagerly, which grows it, and records on a later run).
    /// </summary>
    public bool Capturing { get; set; }

    /// <summary>Creates what is otherwise created lazily on first use (the cuBLAS handle with its workspace), before a capture.</summary>
    public void PrepareCapture()
    {
        foreach (var lane in lanes)
        {
            if (lane is null) continue;
            lane.Cublas ??= new Cublas(lane.Stream, lane.Workspace, CublasWorkspaceBytes);
            if (GemmBiasEpilogue) lane.Lt ??= new CublasLt(lane.Stream, lane.Workspace, CublasWorkspaceBytes, tuner);
        }
    }

    /// <summary>cuCtxSetCurrent for the calling thread (cheap when already current); every entry point calls it.</summary>
    public void MakeCurrent() => Driver.MakeCurrent(Context);

    public void Launch(string file, string kernel, (uint X, uint Y, uint Z) grid, int block, KernelArgs args, int sharedBytes = 0)
    {
        var function = Function(file, kernel);
        if (sharedBytes > DefaultSharedBytes && optedInShared.GetValueOrDefault(function) < sharedBytes)
        {
            // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: past 48 KB a kernel has to ask for it.
            Driver.SetFunctionAttribute(function, 8, sharedBytes, kernel);
            optedInShared[function] = sharedBytes;
        }
        Launches++;
        LaunchObserver?.Before(kernel);
        try { LaunchOn(Stream, function, kernel, grid, block, args, sharedBytes, DependentLaunch); }
        finally { LaunchObserver?.After(); }
    }

    /// <summary>The driver call behind every kernel launch: the arguments' addresses, then cuLaunchKernel(Ex).</summary>
    private void LaunchOn(nint stream, nint function, string kernel, (uint X, uint Y, uint Z) grid, int block, KernelArgs args, int sharedBytes,
        bool dependent)
    {
        fixed (byte* data = args.Data)
        {
            void** pointers = stackalloc void*[Math.Max(1, args.Count)];
            for (int i = 0; i < args.Count; i++) pointers[i] = data + args.Offset(i);
            if (dependent) Driver.LaunchDependent(function, grid, ((uint)block, 1, 1), (uint)sharedBytes, stream, pointers, kernel);
            else Driver.Launch(function, grid, ((uint)block, 1, 1), (uint)sharedBytes, stream, pointers, kernel);
        }
    }

    /// <summary>
    /// Holds the main stream until <paramref name="released"/> (page-locked, device-visible) reaches
    /// <paramref name="ticket"/> or <paramref name="timeoutNs"/> pass (profile_hold.cu): profiling's, so neither counted
    /// in <see cref="Launches"/> nor shown to the <see cref="LaunchObserver"/>.
    /// </summary>
    public void Hold(nint released, long ticket, long timeoutNs) =>
        LaunchOn(MainStream, Function("profile_hold.cu", "profile_hold"), "profile_hold", (1, 1, 1), 1,
            new KernelArgs().Ptr((ulong)released).I64(ticket).I64(timeoutNs), 0, dependent: false);

    /// <summary>While a profiled run times launches: told of every launch, GEMM, copy and fill (see CudaOpTimer).</summary>
    internal ILaunchObserver? LaunchObserver { get; set; }

    private const int DefaultSharedBytes = 48 * 1024;

    /// <summary>The dynamic shared memory each function has been opted in to.</summary>
    private readonly Dictionary<nint, int> optedInShared = [];

    public void Gemm(in GemmCall call)
    {
        Launches++;
        // cuBLASLt for a bias or a residual in the epilogue, and for any single plain GEMM while tuning (so that the
        // bias-free ones — T5's, the rerun's — get their candidates timed too); cuBLAS for the rest.
        bool single = call.Batch == 1 && !call.PointerArrays;
        bool viaLt = single && (call.Bias != 0 || call.Residual != 0 || (tuner is not null && GemmBiasEpilogue && call.Beta == 0));
        LaunchObserver?.Before(viaLt ? "cublasLt matmul" + (call.Bias != 0 ? " + bias" : "") + (call.Residual != 0 ? " + residual" : "")
            : call.PointerArrays ? "cublas gemm (pointer arrays)" : call.Batch > 1 ? "cublas gemm (strided batched)" : "cublas gemm");
        try
        {
            if (viaLt)
            {
                // One workspace for both libraries of a lane: they run in stream order on its stream, never at the same time.
                var lt = current.Lt ??= new CublasLt(Stream, current.Workspace, CublasWorkspaceBytes, tuner);
                // A plain GEMM is here only to be tuned: cuBLAS GemmEx, which it would otherwise run, is a candidate too.
                if (lt.TryMatmul(call, call.Bias == 0 && call.Residual == 0 ? LaneCublas() : null)) return;
                // No algorithm reads the residual from its own buffer: it starts C instead, and C is read in place.
                var (_, _, ldc) = call.LeadingDims;
                if (ldc != call.N) throw new BackendException($"cuBLASLt residual: C rows {ldc} elements apart for {call.N} columns; one copy would overwrite the gaps");
                long bytes = ((long)(call.M - 1) * ldc + call.N) * GemmElementBytes(call.OutType ?? call.Type);
                Driver.CopyAsync(call.C, call.Residual, bytes, Stream);
                lt.TryMatmul(call with { Residual = call.C });
                return;
            }
            LaneCublas().Gemm(call);
        }
        finally { LaunchObserver?.After(); }
    }

    /// <summary>The current lane's cuBLAS handle, on its stream and workspace (created on first use).</summary>
    private Cublas LaneCublas() => current.Cublas ??= new Cublas(Stream, current.Workspace, CublasWorkspaceBytes);

    private static int GemmElementBytes(CudaDataType type) => type switch
    {
        CudaDataType.R32F => 4,
        CudaDataType.R16F or CudaDataType.R16BF => 2,
        _ => throw new BackendException($"cuBLASLt residual: no element size for {type}"),
    };

    public void Copy(ulong destination, ulong source, long bytes)
    {
        if (bytes <= 0 || destination == source) return;
        Launches++;
        LaunchObserver?.Before("copy (device to device)");
        try { Driver.CopyAsync(destination, source, bytes, Stream); }
        finally { LaunchObserver?.After(); }
    }

    public void Fill(ulong destination, byte value, long bytes)
    {
        if (bytes <= 0) return;
        Launches++;
        LaunchObserver?.Before("fill");
        try { Driver.FillAsync(destination, value, bytes, Stream); }
        finally { LaunchObserver?.After(); }
    }

    public ulong Scratch(int slot, long bytes)
    {
        var scratch = current.Scratch;
        var (ptr, size) = scratch[slot];
        if (size >= bytes) return ptr;
        if (Capturing) throw new BackendException($"scratch slot {slot} must grow to {bytes} bytes inside a graph capture (the step runs eagerly instead)");
        ScratchGeneration++;
        // Stream-ordered free/alloc: the old buffer is released only after the work queued before it is done.
        if (ptr != 0) Driver.FreeAsync(ptr, Stream);
        long grown = Math.Max(bytes, size * 2);
        ptr = Driver.AllocAsync(grown, Stream);
        scratch[slot] = (ptr, grown);
        return ptr;
    }

    /// <summary>Waits for the stream, then reads and clears the error word: its code (0 when every kernel was happy).</summary>
    public int SynchronizeAndTakeError()
    {
        Driver.Synchronize(MainStream);
        Span<byte> word = stackalloc byte[sizeof(int)];
        Driver.CopyToHost(word, ErrorWord);
        int code = BitConverter.ToInt32(word);
        if (code != 0)
        {
            Driver.FillAsync(ErrorWord, 0, sizeof(int), MainStream);
            Driver.Synchronize(MainStream);
        }
        return code;
    }

    /// <summary>Compiles and loads every kernel file now instead of at first use (what `kernels`/bench warm-up want).</summary>
    public void LoadAll()
    {
        foreach (var file in KernelSources.KernelFiles) Module(file);
    }

    private nint Function(string file, string kernel)
    {
        if (functions.TryGetValue(kernel, out var f)) return f;
        f = Driver.Function(Module(file), kernel);
        functions[kernel] = f;
        return f;
    }

    private nint Module(string file)
    {
        if (modules.TryGetValue(file, out var m)) return m;
        var compiled = compiler.Compile(file, Arch);
        m = Driver.LoadModule(compiled.Image, $"{file} {compiled.Target}");
        modules[file] = m;
        return m;
    }

    public void Dispose()
    {
        MakeCurrent();
        current = lanes[0];
        tuner?.Dispose();
        foreach (var lane in lanes.Reverse())
        {
            if (lane is null) continue;
            Driver.Synchronize(lane.Stream);
            lane.Cublas?.Dispose();
            lane.Lt?.Dispose();
            foreach (var (ptr, _) in lane.Scratch) if (ptr != 0) Driver.FreeAsync(ptr, lane.Stream);
            Driver.Synchronize(lane.Stream);
            Driver.Free(lane.Workspace);
            if (lane != lanes[0]) Driver.DestroyStream(lane.Stream);
        }
        if (forkEvent != 0) Driver.DestroyEvent(forkEvent);
        if (joinEvent != 0) Driver.DestroyEvent(joinEvent);
        foreach (var m in modules.Values) Driver.UnloadModule(m);
        Transfers.Dispose();
        Driver.Free(ErrorWord);
        Driver.DestroyStream(MainStream);
        Driver.ReleasePrimaryContext(Device);
    }
}
