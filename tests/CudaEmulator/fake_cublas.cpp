// fake_cublas.cpp → libcublas.so: a test double for cuBLAS in the CUDA emulator, so that the CUDA backend's GEMMs
// (src/PixelLLM.Backends.Cuda/Interop/Cublas.cs, CudaLibraries.cs) run on the CPU of a machine without a GPU. Not NVIDIA
// code: written from the public cuBLAS API's documented signatures and semantics. It exports only what the backend
// binds, with C linkage and the real signatures (enums as int). Device pointers are host pointers in the emulator;
// pointer mode is host (α and β are host floats); every compute type computes alike (see gemm_reference.h), and the
// math mode and workspace are accepted and have no effect.
// Streams: with the emulator's fake driver loaded, each GEMM is queued on its stream through pxlemu_stream_enqueue (so
// it is recorded into a CUDA graph during a capture); without it, the GEMM runs at once (see gemm_reference.h).
//
// Build (-ldl is only needed before glibc 2.34):
//   g++ -std=c++17 -O2 -fPIC -shared -Wall -Wextra -Wl,-soname,libcublas.so.11 -o libcublas.so fake_cublas.cpp -ldl
#include "gemm_reference.h"

#include <new>

using namespace fakeblas;

namespace {

struct Handle
{
    void* stream = nullptr; // CUstream; null is the legacy default stream
};

// The validity checks cuBLAS makes before a GEMM: operations, sizes, leading dimensions, types.
int check_gemm(const void* handle, int trans_a, int trans_b, int m, int n, int k, const float* alpha, int a_type, int lda,
               int b_type, int ldb, const float* beta, int c_type, int ldc, int batch_count)
{
    if (handle == nullptr) return StatusNotInitialized;
    if (!is_valid_operation(trans_a) || !is_valid_operation(trans_b)) return StatusInvalidValue;
    if (m < 0 || n < 0 || k < 0 || batch_count < 0 || alpha == nullptr || beta == nullptr) return StatusInvalidValue;
    const int a_rows = trans_a == 0 ? m : k, b_rows = trans_b == 0 ? k : n;
    if (lda < (a_rows > 1 ? a_rows : 1) || ldb < (b_rows > 1 ? b_rows : 1) || ldc < (m > 1 ? m : 1)) return StatusInvalidValue;
    if (!is_supported_combination(a_type, b_type, c_type)) return StatusNotSupported;
    return StatusSuccess;
}

Gemm make_gemm(int trans_a, int trans_b, int m, int n, int k, const float* alpha, int a_type, int lda, int b_type, int ldb,
               const float* beta, int c_type, int ldc)
{
    Gemm g;
    g.trans_a = trans_a != 0;
    g.trans_b = trans_b != 0;
    g.m = m;
    g.n = n;
    g.k = k;
    g.alpha = *alpha;
    g.beta = *beta;
    g.a_type = a_type;
    g.lda = lda;
    g.b_type = b_type;
    g.ldb = ldb;
    g.c_type = g.d_type = c_type;
    g.ldc = g.ldd = ldc;
    return g;
}

} // namespace

#define EXPORT extern "C" __attribute__((visibility("default")))

EXPORT int cublasCreate_v2(void** handle)
{
    if (handle == nullptr) return StatusInvalidValue;
    Handle* created = new (std::nothrow) Handle;
    if (created == nullptr) return StatusAllocFailed;
    *handle = created;
    return StatusSuccess;
}

EXPORT int cublasDestroy_v2(void* handle)
{
    if (handle == nullptr) return StatusNotInitialized;
    delete static_cast<Handle*>(handle);
    return StatusSuccess;
}

EXPORT int cublasSetStream_v2(void* handle, void* stream)
{
    if (handle == nullptr) return StatusNotInitialized;
    static_cast<Handle*>(handle)->stream = stream;
    return StatusSuccess;
}

// cublasMath_t: DEFAULT 0, TENSOR_OP 1, PEDANTIC 2, TF32_TENSOR_OP 3, optionally | DISALLOW_REDUCED_PRECISION_REDUCTION 16.
EXPORT int cublasSetMathMode(void* handle, int mode)
{
    if (handle == nullptr) return StatusNotInitialized;
    const int base = mode & ~16;
    return base >= 0 && base <= 3 ? StatusSuccess : StatusInvalidValue;
}

EXPORT int cublasSetWorkspace_v2(void* handle, void* workspace, size_t bytes)
{
    if (handle == nullptr) return StatusNotInitialized;
    if (workspace == nullptr && bytes != 0) return StatusInvalidValue;
    return StatusSuccess;
}

// libraryPropertyType: MAJOR_VERSION 0, MINOR_VERSION 1, PATCH_LEVEL 2. Reports cuBLAS 11.8.0.
EXPORT int cublasGetProperty(int type, int* value)
{
    if (value == nullptr) return StatusInvalidValue;
    switch (type)
    {
    case 0: *value = 11; return StatusSuccess;
    case 1: *value = 8; return StatusSuccess;
    case 2: *value = 0; return StatusSuccess;
    default: return StatusInvalidValue;
    }
}

EXPORT const char* cublasGetStatusString(int status)
{
    switch (status)
    {
    case StatusSuccess: return "CUBLAS_STATUS_SUCCESS: the operation completed successfully";
    case StatusNotInitialized: return "CUBLAS_STATUS_NOT_INITIALIZED: the library was not initialized";
    case StatusAllocFailed: return "CUBLAS_STATUS_ALLOC_FAILED: the resource allocation failed";
    case StatusInvalidValue: return "CUBLAS_STATUS_INVALID_VALUE: an invalid numeric value was used as an argument";
    case StatusArchMismatch: return "CUBLAS_STATUS_ARCH_MISMATCH: an absent device architectural feature is required";
    case StatusMappingError: return "CUBLAS_STATUS_MAPPING_ERROR: an access to GPU memory space failed";
    case StatusExecutionFailed: return "CUBLAS_STATUS_EXECUTION_FAILED: the GPU program failed to execute (emulated)";
    case StatusInternalError: return "CUBLAS_STATUS_INTERNAL_ERROR: an internal operation failed";
    case StatusNotSupported: return "CUBLAS_STATUS_NOT_SUPPORTED: the functionality requested is not supported";
    case StatusLicenseError: return "CUBLAS_STATUS_LICENSE_ERROR: the functionality requested requires some license";
    default: return "CUBLAS_STATUS_UNKNOWN: unknown status";
    }
}

// C[b] = α·op(A[b])·op(B[b]) + β·C[b] with X[b] = X + b·strideX elements. computeType and algo are accepted as given.
EXPORT int cublasGemmStridedBatchedEx(void* handle, int transa, int transb, int m, int n, int k, const void* alpha, const void* A,
                                      int Atype, int lda, long long strideA, const void* B, int Btype, int ldb, long long strideB,
                                      const void* beta, void* C, int Ctype, int ldc, long long strideC, int batchCount,
                                      int computeType, int algo)
{
    (void)computeType;
    (void)algo;
    const auto* a = static_cast<const float*>(alpha);
    const auto* b = static_cast<const float*>(beta);
    const int status = check_gemm(handle, transa, transb, m, n, k, a, Atype, lda, Btype, ldb, b, Ctype, ldc, batchCount);
    if (status != StatusSuccess) return status;
    if (m == 0 || n == 0 || batchCount == 0) return StatusSuccess;
    Batch batch;
    batch.gemm = make_gemm(transa, transb, m, n, k, a, Atype, lda, Btype, ldb, b, Ctype, ldc);
    batch.gemm.a = A;
    batch.gemm.b = B;
    batch.gemm.c = C;
    batch.gemm.d = C;
    batch.count = batchCount;
    batch.stride_a = strideA;
    batch.stride_b = strideB;
    batch.stride_c = batch.stride_d = strideC;
    return submit(static_cast<Handle*>(handle)->stream, "cublasGemmStridedBatchedEx", batch);
}

// The same over arrays of matrix pointers (device arrays: read when the GEMM runs).
EXPORT int cublasGemmBatchedEx(void* handle, int transa, int transb, int m, int n, int k, const void* alpha, const void* const Aarray[],
                               int Atype, int lda, const void* const Barray[], int Btype, int ldb, const void* beta,
                               void* const Carray[], int Ctype, int ldc, int batchCount, int computeType, int algo)
{
    (void)computeType;
    (void)algo;
    const auto* a = static_cast<const float*>(alpha);
    const auto* b = static_cast<const float*>(beta);
    const int status = check_gemm(handle, transa, transb, m, n, k, a, Atype, lda, Btype, ldb, b, Ctype, ldc, batchCount);
    if (status != StatusSuccess) return status;
    if (m == 0 || n == 0 || batchCount == 0) return StatusSuccess;
    if (Aarray == nullptr || Barray == nullptr || Carray == nullptr) return StatusInvalidValue;
    Batch batch;
    batch.gemm = make_gemm(transa, transb, m, n, k, a, Atype, lda, Btype, ldb, b, Ctype, ldc);
    batch.count = batchCount;
    batch.a_array = Aarray;
    batch.b_array = Barray;
    batch.c_array = Carray;
    return submit(static_cast<Handle*>(handle)->stream, "cublasGemmBatchedEx", batch);
}
