using System.Runtime.InteropServices;
using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;

namespace PixelLLM.Backends.Cuda.Interop;

/// <summary>
/// cuBLASLt (libcublasLt) bound at run time, for GEMMs whose bias rides in the epilogue (CUBLASLT_EPILOGUE_BIAS) instead of
/// a second launch, whose residual is read as Lt's C input instead of copied into the output first, and, when tuning,
/// every single-matrix GEMM (its candidates timed). Same conventions as <see cref="Cublas"/>: row-major callers, operands swapped into column-major terms,
/// compute type 32F, the caller's workspace (never an allocation inside a graph capture), and no algorithm that reduces
/// split-K partial sums in the 16-bit output type. One descriptor set and heuristic pick per shape and pointer alignment,
/// cached: a decode or encoder step reuses a handful of shapes, so the heuristic runs once each. With a
/// <see cref="GemmAlgorithmTuner"/>, the heuristic's top candidates are timed on the first eager call of each shape instead.
/// </summary>
public sealed unsafe class CublasLt : IDisposable
{
    private const int ComputeType32F = 68, ScaleType32F = 0;                // CUBLAS_COMPUTE_32F, CUDA_R_32F
    private const int DescTransA = 3, DescTransB = 4, DescEpilogue = 7, DescBiasPointer = 8;
    private const uint EpilogueDefault = 1, EpilogueBias = 4;                // CUBLASLT_EPILOGUE_DEFAULT, _BIAS
    private const int PrefMaxWorkspace = 1, PrefReductionMask = 3, PrefMinAlignmentA = 5; // + 1, 2, 3 for B, C, D
    private const uint ReductionNoneInPlaceOrComputeType = 1 | 2;           // excludes CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE (4)
    private const int NotSupported = 15;                                     // CUBLAS_STATUS_NOT_SUPPORTED

    [StructLayout(LayoutKind.Sequential)]
    private struct HeuristicResult
    {
        public fixed ulong Algo[8];
        public nuint WorkspaceSize;
        public int State;
        public float WavesCount;
        public fixed int Reserved[4];
    }

    private sealed class Plan
    {
        public nint Desc, A, B, C;
        public HeuristicResult[] Candidates = [];
        public int Chosen;
        public bool Tuned;
        public bool UseAlternative;
    }

    private readonly delegate* unmanaged<nint, int> _destroy;
    private readonly delegate* unmanaged<nint*, int, int, int> _descCreate;
    private readonly delegate* unmanaged<nint, int> _descDestroy;
    private readonly delegate* unmanaged<nint, int, void*, nuint, int> _descSet;
    private readonly delegate* unmanaged<nint*, int, ulong, ulong, long, int> _layoutCreate;
    private readonly delegate* unmanaged<nint, int> _layoutDestroy;
    private readonly delegate* unmanaged<nint*, int> _prefCreate;
    private readonly delegate* unmanaged<nint, int> _prefDestroy;
    private readonly delegate* unmanaged<nint, int, void*, nuint, int> _prefSet;
    private readonly delegate* unmanaged<nint, nint, nint, nint, nint, nint, nint, int, HeuristicResult*, int*, int> _heuristic;
    private readonly delegate* unmanaged<nint, nint, float*, void*, nint, void*, nint, float*, void*, nint, void*, nint, void*, void*, nuint, nint, int> _matmul;
    private readonly Dictionary<(GemmCall Shape, (int A, int B, int C, int Bias, int Input, bool InPlace, bool HasBias) Alignments), Plan?> plans = [];
    private readonly nint stream;
    private readonly ulong workspace;
    private readonly long workspaceBytes;
    private readonly GemmAlgorithmTuner? tuner;
    private nint _handle;

    /// <summary>
    /// A handle whose matmuls run on <paramref name="stream"/> with <paramref name="workspace"/> as scratch; with a
    /// <paramref name="tuner"/>, each shape's algorithm is the fastest of the heuristic's candidates on its first eager call.
    /// </summary>
    internal CublasLt(nint stream, ulong workspace, long workspaceBytes, GemmAlgorithmTuner? tuner = null)
    {
        this.tuner = tuner;
        var probe = NativeLibraryProbe.Require("cuBLASLt", "libcublasLt", CudaLibraries.CublasLtFileNames, CudaLibraries.CublasLtPathVariable);
        LibraryPath = probe.Path!;
        var E = probe.Export;
        _destroy = (delegate* unmanaged<nint, int>)E("cublasLtDestroy");
        _descCreate = (delegate* unmanaged<nint*, int, int, int>)E("cublasLtMatmulDescCreate");
        _descDestroy = (delegate* unmanaged<nint, int>)E("cublasLtMatmulDescDestroy");
        _descSet = (delegate* unmanaged<nint, int, void*, nuint, int>)E("cublasLtMatmulDescSetAttribute");
        _layoutCreate = (delegate* unmanaged<nint*, int, ulong, ulong, long, int>)E("cublasLtMatrixLayoutCreate");
        _layoutDestroy = (delegate* unmanaged<nint, int>)E("cublasLtMatrixLayoutDestroy");
        _prefCreate = (delegate* unmanaged<nint*, int>)E("cublasLtMatmulPreferenceCreate");
        _prefDestroy = (delegate* unmanaged<nint, int>)E("cublasLtMatmulPreferenceDestroy");
        _prefSet = (delegate* unmanaged<nint, int, void*, nuint, int>)E("cublasLtMatmulPreferenceSetAttribute");
        _heuristic = (delegate* unmanaged<nint, nint, nint, nint, nint, nint, nint, int, HeuristicResult*, int*, int>)E("cublasLtMatmulAlgoGetHeuristic");
        _matmul = (delegate* unmanaged<nint, nint, float*, void*, nint, void*, nint, float*, void*, nint, void*, nint, void*, void*, nuint, nint, int>)E("cublasLtMatmul");
        nint handle;
        Check(((delegate* unmanaged<nint*, int>)E("cublasLtCreate"))(&handle), "cublasLtCreate");
        _handle = handle;
        (this.stream, this.workspace, this.workspaceBytes) = (stream, workspace, workspaceBytes);
    }

    /// <summary>The libcublasLt file that was loaded.</summary>
    public string LibraryPath { get; }

    /// <summary>
    /// Row-major C (M, N) = Alpha · op(A) · op(B) [+ Bias] for one matrix (Batch 1), plus Residual when Beta is 1 (Lt's C
    /// input, read in the epilogue; C is Lt's D). False when the heuristic has no algorithm for a residual that is not C
    /// itself: the caller then copies the residual into C and asks again with Residual = C. <paramref name="alternative"/>
    /// is the cuBLAS handle a plain GEMM would otherwise run on: tuning times its GemmEx as the first candidate, and when
    /// it wins this shape runs it from then on.
    /// </summary>
    public bool TryMatmul(in GemmCall g, Cublas? alternative = null)
    {
        bool residual = g.Beta == 1f && g.Residual != 0;
        if (g.Batch != 1 || g.PointerArrays || (g.Beta != 0 && !residual))
            throw new BackendException("cuBLASLt matmul: one matrix and Beta 0 (or Beta 1 with a residual) expected");
        ulong input = residual ? g.Residual : g.C;
        var key = (g with { A = 0, B = 0, C = 0, Bias = 0, Residual = 0 },
            (Alignment(g.A), Alignment(g.B), Alignment(g.C), Alignment(g.Bias), Alignment(input), input == g.C, g.Bias != 0));
        // With an alternative (a plain GEMM here to be tuned) Lt need not serve the shape: the alternative then runs.
        if (!plans.TryGetValue(key, out var plan)) plans[key] = plan = Create(g, input, required: alternative is null && (!residual || input == g.C));
        if (plan is null) return RunAlternative(alternative, g);
        ulong bias = g.Bias;
        if (bias != 0) Check(_descSet(plan.Desc, DescBiasPointer, &bias, (nuint)sizeof(ulong)), "cublasLtMatmulDescSetAttribute(BIAS_POINTER)");
        if (!plan.Tuned && tuner is not null && tuner.CanTune)
        {
            plan.Tuned = true;
            // Repeating a call whose residual is its own output would add the residual once per repeat.
            bool inPlaceResidual = residual && input == g.C;
            if (plan.Candidates.Length + (alternative is null ? 0 : 1) > 1 && !inPlaceResidual) Tune(plan, g, input, residual, alternative, key.ToString());
        }
        if (plan.UseAlternative && alternative is not null) return RunAlternative(alternative, g);
        int status = Run(plan, plan.Chosen, g, input, residual);
        // The heuristic sees layouts, not pointers: an algorithm may still refuse a C that is not D. Then this shape
        // takes the caller's copy-into-C path from now on.
        if (status == NotSupported && residual && input != g.C)
        {
            plans[key] = null;
            Destroy(plan);
            return false;
        }
        Check(status, $"cublasLtMatmul({g.M}x{g.N}x{g.K}, {g.Type}{(g.Bias != 0 ? ", bias" : "")}{(residual ? " + residual" : "")})");
        return true;
    }

    private static bool RunAlternative(Cublas? alternative, in GemmCall g)
    {
        if (alternative is null) return false;
        alternative.Gemm(g);
        return true;
    }

    private int Run(Plan plan, int candidate, in GemmCall g, ulong input, bool residual)
    {
        float alpha = g.Alpha, beta = residual ? 1f : 0f;
        var choice = plan.Candidates[candidate];
        return _matmul(_handle, plan.Desc, &alpha, (void*)g.B, plan.A, (void*)g.A, plan.B, &beta, (void*)input, plan.C, (void*)g.C, plan.C,
            choice.Algo, (void*)workspace, choice.WorkspaceSize, stream);
    }

    /// <summary>Times every candidate on this call's operands (its output is written again by the real call after).</summary>
    /// <remarks>The caller's <paramref name="alternative"/>, when given, is candidate 0 (the one kept within 2 %).</remarks>
    private void Tune(Plan plan, GemmCall g, ulong input, bool residual, Cublas? alternative, string cacheKey)
    {
        int first = alternative is null ? 0 : 1, count = plan.Candidates.Length + first;
        string shape = $"{g.M}x{g.N}x{g.K} {g.Type}{(g.Bias != 0 ? " bias" : "")}{(residual ? " + residual" : "")}{(alternative is null ? "" : " (0: cublasGemmEx)")}";
        if (!tuner!.TryCached(cacheKey, shape, count, out int chosen))
        {
            var times = new float?[count];
            if (alternative is not null) times[0] = tuner.Time(() => RunAlternative(alternative, g));
            for (int i = 0; i < plan.Candidates.Length; i++)
            {
                int candidate = i;
                times[first + i] = tuner.Time(() => Run(plan, candidate, g, input, residual) == 0);
            }
            chosen = tuner.Choose(shape, cacheKey, times);
        }
        plan.UseAlternative = alternative is not null && chosen == 0;
        plan.Chosen = Math.Max(0, chosen - first);
    }

    /// <summary>Descriptors in column-major terms (Cᵀ = op(B)ᵀ·op(A)ᵀ, so B's buffer is Lt's A) and the heuristic's first pick.</summary>
    private Plan? Create(in GemmCall g, ulong input, bool required)
    {
        var (lda, ldb, ldc) = g.LeadingDims;
        var outType = (int)(g.OutType ?? g.Type);
        var plan = new Plan();
        nint desc, a, b, c, pref;
        Check(_descCreate(&desc, ComputeType32F, ScaleType32F), "cublasLtMatmulDescCreate");
        plan.Desc = desc;
        int transA = g.TransB ? 1 : 0, transB = g.TransA ? 1 : 0;
        uint epilogue = g.Bias != 0 ? EpilogueBias : EpilogueDefault;
        Check(_descSet(desc, DescTransA, &transA, sizeof(int)), "cublasLtMatmulDescSetAttribute(TRANSA)");
        Check(_descSet(desc, DescTransB, &transB, sizeof(int)), "cublasLtMatmulDescSetAttribute(TRANSB)");
        Check(_descSet(desc, DescEpilogue, &epilogue, sizeof(uint)), "cublasLtMatmulDescSetAttribute(EPILOGUE)");
        // Layouts describe the stored matrices: B's buffer is (N, K) column-major, or (K, N) when transposed; likewise A's.
        Check(_layoutCreate(&a, (int)g.Type, (ulong)(g.TransB ? g.K : g.N), (ulong)(g.TransB ? g.N : g.K), ldb), "cublasLtMatrixLayoutCreate(A)");
        plan.A = a;
        Check(_layoutCreate(&b, (int)g.Type, (ulong)(g.TransA ? g.M : g.K), (ulong)(g.TransA ? g.K : g.M), lda), "cublasLtMatrixLayoutCreate(B)");
        plan.B = b;
        Check(_layoutCreate(&c, outType, (ulong)g.N, (ulong)g.M, ldc), "cublasLtMatrixLayoutCreate(C)");
        plan.C = c;
        Check(_prefCreate(&pref), "cublasLtMatmulPreferenceCreate");
        try
        {
            ulong maxWorkspace = (ulong)workspaceBytes;
            uint reductions = ReductionNoneInPlaceOrComputeType;
            Check(_prefSet(pref, PrefMaxWorkspace, &maxWorkspace, sizeof(ulong)), "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)");
            Check(_prefSet(pref, PrefReductionMask, &reductions, sizeof(uint)), "cublasLtMatmulPreferenceSetAttribute(REDUCTION_SCHEME_MASK)");
            // The heuristic assumes 256-byte operands unless told: say what these pointers really are (A, B, C, D).
            uint[] aligned = [(uint)Alignment(g.B), (uint)Alignment(g.A), (uint)Alignment(input), (uint)Alignment(g.C)];
            for (int i = 0; i < 4; i++)
            {
                uint value = aligned[i];
                Check(_prefSet(pref, PrefMinAlignmentA + i, &value, sizeof(uint)), "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT)");
            }
            int wanted = tuner is null ? 1 : GemmAlgorithmTuner.MaxCandidates;
            var results = stackalloc HeuristicResult[wanted];
            int found;
            Check(_heuristic(_handle, desc, a, b, c, c, pref, wanted, results, &found), "cublasLtMatmulAlgoGetHeuristic");
            var usable = new List<HeuristicResult>();
            for (int i = 0; i < found; i++)
                if (results[i].State == 0) usable.Add(results[i]);
            if (usable.Count == 0)
            {
                if (required) throw new BackendException($"cuBLASLt has no algorithm for {g.M}x{g.N}x{g.K} {g.Type}{(g.Bias != 0 ? " with a bias epilogue" : "")}");
                Destroy(plan);
                return null;
            }
            plan.Candidates = [.. usable];
        }
        finally
        {
            _prefDestroy(pref);
        }
        return plan;
    }

    private void Destroy(Plan plan)
    {
        _layoutDestroy(plan.A);
        _layoutDestroy(plan.B);
        _layoutDestroy(plan.C);
        _descDestroy(plan.Desc);
    }

    /// <summary>The largest power of two up to 256 that divides the address.</summary>
    private static int Alignment(ulong address) => address == 0 ? 256 : (int)Math.Min(256UL, address & (~address + 1));

    private static void Check(int status, string call)
    {
        if (status != 0) throw Cublas.Failure(status, call, null);
    }

    public void Dispose()
    {
        if (_handle == 0) return;
        foreach (var plan in plans.Values)
            if (plan is not null) Destroy(plan);
        plans.Clear();
        var h = _handle;
        _handle = 0;
        Check(_destroy(h), "cublasLtDestroy");
    }
}
