using System.Runtime.InteropServices;
using PixelLLM.Runtime;

namespace PixelLLM.Backends.Cuda.Interop;

/// <summary>cudaDataType values cuBLAS takes for A, B and C.</summary>
public enum CudaDataType { R32F = 0, R16F = 2, R16BF = 14 }

/// <summary>
/// cuBLAS (libcublas) bound at run time: one handle on one stream, default math with reduced-precision reductions
/// disallowed (no TF32 either: compute type 32F never uses it), so the f32 path compares exactly, compute type 32F for every storage type, and an explicitly set workspace so that a captured CUDA graph never
/// makes cuBLAS allocate. Row-major callers swap operands (C = A·B is Cᵀ = Bᵀ·Aᵀ in cuBLAS's column-major terms).
/// </summary>
public sealed unsafe class Cublas : IDisposable
{
    private const int ComputeType32F = 68;  // CUBLAS_COMPUTE_32F
    private const int GemmDefault = -1;     // CUBLAS_GEMM_DEFAULT
    // CUBLAS_DEFAULT_MATH | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION. Pedantic math (2) measured 10× slower on
    // the H100 for the encoders' mid-size bf16 GEMMs; with compute type 32F default math is fp32 accumulation and no TF32.
    private const int DefaultMathFp32Reductions = 16;

    private readonly delegate* unmanaged<nint, int> _destroy;
    private readonly delegate* unmanaged<nint, int, int, int, int, int, float*, void*, int, int, long, void*, int, int, long, float*, void*, int, int, long, int, int, int, int> _gemmStridedBatchedEx;
    private readonly delegate* unmanaged<nint, int, int, int, int, int, float*, void*, int, int, void*, int, int, float*, void*, int, int, int, int, int, int> _gemmBatchedEx;
    private readonly delegate* unmanaged<int, byte*> _statusString; // cuBLAS 11.4+
    private nint _handle;

    /// <summary>Creates a handle bound to <paramref name="stream"/> with <paramref name="workspace"/> as its scratch.</summary>
    public Cublas(nint stream, ulong workspace, long workspaceBytes)
    {
        var probe = NativeLibraryProbe.Require("cuBLAS", "libcublas", CudaLibraries.CublasFileNames, CudaLibraries.CublasPathVariable);
        LibraryPath = probe.Path!;
        var E = probe.Export;
        NativeLibrary.TryGetExport(probe.Handle, "cublasGetStatusString", out var statusString);
        _statusString = (delegate* unmanaged<int, byte*>)statusString;
        _destroy = (delegate* unmanaged<nint, int>)E("cublasDestroy_v2");
        _gemmStridedBatchedEx = (delegate* unmanaged<nint, int, int, int, int, int, float*, void*, int, int, long, void*, int, int, long, float*, void*, int, int, long, int, int, int, int>)E("cublasGemmStridedBatchedEx");
        _gemmBatchedEx = (delegate* unmanaged<nint, int, int, int, int, int, float*, void*, int, int, void*, int, int, float*, void*, int, int, int, int, int, int>)E("cublasGemmBatchedEx");
        nint handle;
        Check(((delegate* unmanaged<nint*, int>)E("cublasCreate_v2"))(&handle), "cublasCreate");
        _handle = handle;
        Check(((delegate* unmanaged<nint, nint, int>)E("cublasSetStream_v2"))(handle, stream), "cublasSetStream");
        Check(((delegate* unmanaged<nint, int, int>)E("cublasSetMathMode"))(handle, DefaultMathFp32Reductions), "cublasSetMathMode");
        Check(((delegate* unmanaged<nint, ulong, nuint, int>)E("cublasSetWorkspace_v2"))(handle, workspace, (nuint)workspaceBytes), "cublasSetWorkspace");
    }

    /// <summary>The libcublas file that was loaded.</summary>
    public string LibraryPath { get; }

    /// <summary>
    /// Row-major batched C (M, N) = alpha · op(A) · op(B) + beta · C over Batch matrices, element strides
    /// between them (0 broadcasts one operand). A is (M, K) or, transposed, stored (K, M); B is (K, N) or stored (N, K).
    /// </summary>
    public void Gemm(in GemmCall g)
    {
        float alpha = g.Alpha, beta = g.Beta;
        if (g.Bias != 0) throw new BackendException("cuBLAS GemmEx has no bias epilogue; that call belongs to cuBLASLt");
        var (lda, ldb, ldc) = g.LeadingDims;
        var outType = g.OutType ?? g.Type;
        // Column-major view: Cᵀ (N, M) = op(B)ᵀ · op(A)ᵀ, so B comes first.
        if (g.PointerArrays)
        {
            Check(_gemmBatchedEx(_handle, g.TransB ? 1 : 0, g.TransA ? 1 : 0, g.N, g.M, g.K, &alpha,
                (void*)g.B, (int)g.Type, ldb, (void*)g.A, (int)g.Type, lda, &beta, (void*)g.C, (int)outType, ldc, g.Batch,
                ComputeType32F, GemmDefault),
                $"cublasGemmBatchedEx({g.M}x{g.N}x{g.K}, batch {g.Batch}, {g.Type}→{outType})");
            return;
        }
        Check(_gemmStridedBatchedEx(_handle, g.TransB ? 1 : 0, g.TransA ? 1 : 0, g.N, g.M, g.K, &alpha,
            (void*)g.B, (int)g.Type, ldb, g.StrideB, (void*)g.A, (int)g.Type, lda, g.StrideA, &beta,
            (void*)g.C, (int)outType, ldc, g.StrideC, g.Batch, ComputeType32F, GemmDefault),
            $"cublasGemmStridedBatchedEx({g.M}x{g.N}x{g.K}, batch {g.Batch}, {g.Type}→{outType})");
    }

    private void Check(int status, string call)
    {
        if (status == 0) return;
        var text = _statusString == null ? null : Marshal.PtrToStringUTF8((nint)_statusString(status));
        throw Failure(status, call, text);
    }

    /// <summary>The exception for a failed cuBLAS call (<paramref name="text"/>: cublasGetStatusString's, when available).</summary>
    internal static BackendException Failure(int status, string call, string? text) => status == AllocFailed
        ? new OutOfBackendMemoryException($"out of memory: {call} failed: {text ?? "CUBLAS_STATUS_ALLOC_FAILED"}")
        : new BackendException($"{call} failed: {text ?? "cublasStatus " + status}");

    /// <summary>CUBLAS_STATUS_ALLOC_FAILED: cuBLAS could not get device memory (workspace, handle).</summary>
    public const int AllocFailed = 3;

    public void Dispose()
    {
        if (_handle == 0) return;
        var h = _handle;
        _handle = 0;
        Check(_destroy(h), "cublasDestroy");
    }
}

/// <summary>
/// One row-major strided-batched GEMM: C = Alpha·op(A)·op(B) + Beta·C; pointers are device addresses. Lda/Ldb/Ldc are row
/// strides in elements (0: packed), which lets a GEMM read one head out of a token-major (L, H·D) tensor; OutType is C's
/// type when it differs from the operands' (e.g. bf16 operands, f32 scores). Bias, when not 0, is a device vector (N) of C's
/// type added to every row in the GEMM's epilogue: cuBLASLt only, for one matrix with Beta 0 — or Beta 1 with Residual,
/// a device matrix shaped like C that the epilogue adds too (C = Alpha·op(A)·op(B) + Residual + Bias: a block's skip
/// connection read once, with no copy into C first). With PointerArrays, A, B and C are device arrays of Batch matrix
/// addresses each (cublasGemmBatchedEx: matrices that no single stride reaches, such as (window, head) pairs of a
/// token-major layout) and the strides are unused.
/// </summary>
public readonly record struct GemmCall(CudaDataType Type, bool TransA, bool TransB, int M, int N, int K, float Alpha, float Beta,
    ulong A, long StrideA, ulong B, long StrideB, ulong C, long StrideC, int Batch, int Lda = 0, int Ldb = 0, int Ldc = 0,
    CudaDataType? OutType = null, ulong Bias = 0, bool PointerArrays = false, ulong Residual = 0)
{
    /// <summary>Leading dimensions with the packed defaults filled in.</summary>
    public (int Lda, int Ldb, int Ldc) LeadingDims => (Lda > 0 ? Lda : TransA ? M : K, Ldb > 0 ? Ldb : TransB ? K : N, Ldc > 0 ? Ldc : N);
}
