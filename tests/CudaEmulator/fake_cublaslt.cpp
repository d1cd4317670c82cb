// fake_cublaslt.cpp → libcublasLt.so: a test double for cuBLASLt in the CUDA emulator, so that the CUDA backend's Lt
// matmuls (src/PixelLLM.Backends.Cuda/Interop/CublasLt.cs, CudaLibraries.cs) run on the CPU of a machine without a GPU.
// Not NVIDIA code: written from the public cuBLASLt API's documented signatures and semantics. It exports only what the
// backend binds, with C linkage and the real signatures (enums as int). Device pointers are host pointers in the
// emulator; α and β are host floats (scale type 32F).
// Streams: with the emulator's fake driver loaded, each GEMM is queued on its stream through pxlemu_stream_enqueue (so
// it is recorded into a CUDA graph during a capture); without it, the GEMM runs at once (see gemm_reference.h).
//
//   D = α·op(A)·op(B) + β·C [+ bias(row)]   one column-major matrix per call (layouts' batch attributes are not
//                                           supported), C and D with their own layouts (C may or may not be D)
//   epilogues    DEFAULT (1) and BIAS (4, bias of D's type, one per row of D); others are CUBLAS_STATUS_NOT_SUPPORTED
//   heuristic    one algorithm for every supported problem: state success, no workspace
//   attributes   TRANSA (3), TRANSB (4), EPILOGUE (7) and BIAS_POINTER (8) of the matmul descriptor are used; the
//                preference's workspace, reduction-scheme and alignment attributes are checked for size and ignored;
//                any other attribute is accepted and ignored
//
// Build (-ldl is only needed before glibc 2.34):
//   g++ -std=c++17 -O2 -fPIC -shared -Wall -Wextra -Wl,-soname,libcublasLt.so.11 -o libcublasLt.so fake_cublaslt.cpp -ldl
#include "gemm_reference.h"

#include <new>

using namespace fakeblas;

namespace {

struct LtHandle
{
    int unused = 0;
};

// cublasLtMatmulDescAttributes_t values this double reads.
enum DescAttribute : int
{
    DescTransA = 3,
    DescTransB = 4,
    DescEpilogue = 7,
    DescBiasPointer = 8,
};

// cublasLtEpilogue_t values this double computes.
enum Epilogue : uint32_t
{
    EpilogueDefault = 1,
    EpilogueBias = 4,
};

struct MatmulDesc
{
    int trans_a = 0, trans_b = 0;
    uint32_t epilogue = EpilogueDefault;
    const void* bias = nullptr;
};

struct Layout
{
    int type = TypeF32;
    uint64_t rows = 0, cols = 0;
    int64_t ld = 0;
};

struct Preference
{
    uint64_t max_workspace = 0;
};

// cublasLtMatmulHeuristicResult_t: the opaque algorithm (64 bytes), its workspace, its state, its waves.
struct HeuristicResult
{
    uint64_t algo[8];
    size_t workspace_size;
    int state;
    float waves_count;
    int reserved[4];
};
static_assert(sizeof(HeuristicResult) == 96, "cublasLtMatmulHeuristicResult_t is 96 bytes");

// Marks the algorithm the heuristic hands out (the first word of its opaque 64 bytes).
constexpr uint64_t AlgoMarker = 0x50584c454d55ull; // "PXLEMU"

int copy_attribute(void* target, size_t target_bytes, const void* buffer, size_t bytes)
{
    if (buffer == nullptr || bytes != target_bytes) return StatusInvalidValue;
    std::memcpy(target, buffer, bytes);
    return StatusSuccess;
}

// Checks a problem as cuBLASLt would and fills `g` with its shape and types (no pointers yet).
int describe(const void* handle, const void* desc_handle, const void* a_layout, const void* b_layout, const void* c_layout,
             const void* d_layout, Gemm* g)
{
    if (handle == nullptr) return StatusNotInitialized;
    if (desc_handle == nullptr || a_layout == nullptr || b_layout == nullptr || c_layout == nullptr || d_layout == nullptr)
        return StatusInvalidValue;
    const auto& desc = *static_cast<const MatmulDesc*>(desc_handle);
    const auto& la = *static_cast<const Layout*>(a_layout);
    const auto& lb = *static_cast<const Layout*>(b_layout);
    const auto& lc = *static_cast<const Layout*>(c_layout);
    const auto& ld = *static_cast<const Layout*>(d_layout);
    const uint64_t m = desc.trans_a != 0 ? la.cols : la.rows, k = desc.trans_a != 0 ? la.rows : la.cols;
    const uint64_t kb = desc.trans_b != 0 ? lb.cols : lb.rows, n = desc.trans_b != 0 ? lb.rows : lb.cols;
    if (k != kb || ld.rows != m || ld.cols != n || lc.rows != m || lc.cols != n) return StatusInvalidValue;
    if (!is_supported_combination(la.type, lb.type, ld.type) || lc.type != ld.type) return StatusNotSupported;
    if (desc.epilogue != EpilogueDefault && desc.epilogue != EpilogueBias) return StatusNotSupported;
    *g = Gemm{};
    g->trans_a = desc.trans_a != 0;
    g->trans_b = desc.trans_b != 0;
    g->m = (int64_t)m;
    g->n = (int64_t)n;
    g->k = (int64_t)k;
    g->a_type = la.type;
    g->lda = la.ld;
    g->b_type = lb.type;
    g->ldb = lb.ld;
    g->c_type = lc.type;
    g->ldc = lc.ld;
    g->d_type = ld.type;
    g->ldd = ld.ld;
    return StatusSuccess;
}

} // namespace

#define EXPORT extern "C" __attribute__((visibility("default")))

// major·10000 + minor·100 + patch: cuBLASLt 11.8.0.
EXPORT size_t cublasLtGetVersion(void) { return 110800; }

EXPORT int cublasLtCreate(void** lightHandle)
{
    if (lightHandle == nullptr) return StatusInvalidValue;
    LtHandle* created = new (std::nothrow) LtHandle;
    if (created == nullptr) return StatusAllocFailed;
    *lightHandle = created;
    return StatusSuccess;
}

EXPORT int cublasLtDestroy(void* lightHandle)
{
    if (lightHandle == nullptr) return StatusNotInitialized;
    delete static_cast<LtHandle*>(lightHandle);
    return StatusSuccess;
}

// Any compute type computes alike; the scale type must be 32F (α and β are read as floats).
EXPORT int cublasLtMatmulDescCreate(void** matmulDesc, int computeType, int scaleType)
{
    (void)computeType;
    if (matmulDesc == nullptr) return StatusInvalidValue;
    if (scaleType != TypeF32) return StatusNotSupported;
    MatmulDesc* created = new (std::nothrow) MatmulDesc;
    if (created == nullptr) return StatusAllocFailed;
    *matmulDesc = created;
    return StatusSuccess;
}

EXPORT int cublasLtMatmulDescDestroy(void* matmulDesc)
{
    delete static_cast<MatmulDesc*>(matmulDesc);
    return StatusSuccess;
}

EXPORT int cublasLtMatmulDescSetAttribute(void* matmulDesc, int attr, const void* buf, size_t sizeInBytes)
{
    if (matmulDesc == nullptr) return StatusInvalidValue;
    auto& desc = *static_cast<MatmulDesc*>(matmulDesc);
    switch (attr)
    {
    case DescTransA:
    case DescTransB:
    {
        int op;
        const int status = copy_attribute(&op, sizeof op, buf, sizeInBytes);
        if (status != StatusSuccess) return status;
        if (!is_valid_operation(op)) return StatusInvalidValue;
        (attr == DescTransA ? desc.trans_a : desc.trans_b) = op;
        return StatusSuccess;
    }
    case DescEpilogue: return copy_attribute(&desc.epilogue, sizeof desc.epilogue, buf, sizeInBytes);
    case DescBiasPointer: return copy_attribute(&desc.bias, sizeof desc.bias, buf, sizeInBytes);
    default: return buf == nullptr && sizeInBytes != 0 ? StatusInvalidValue : StatusSuccess;
    }
}

// Column-major rows × cols with columns ld elements apart. The type is checked when a matmul uses the layout.
EXPORT int cublasLtMatrixLayoutCreate(void** matLayout, int type, uint64_t rows, uint64_t cols, int64_t ld)
{
    if (matLayout == nullptr) return StatusInvalidValue;
    if (rows > (uint64_t)INT64_MAX || cols > (uint64_t)INT64_MAX || ld < 0 || (uint64_t)ld < rows) return StatusInvalidValue;
    Layout* created = new (std::nothrow) Layout{type, rows, cols, ld};
    if (created == nullptr) return StatusAllocFailed;
    *matLayout = created;
    return StatusSuccess;
}

EXPORT int cublasLtMatrixLayoutDestroy(const void* matLayout)
{
    delete static_cast<const Layout*>(matLayout);
    return StatusSuccess;
}

EXPORT int cublasLtMatmulPreferenceCreate(void** pref)
{
    if (pref == nullptr) return StatusInvalidValue;
    Preference* created = new (std::nothrow) Preference;
    if (created == nullptr) return StatusAllocFailed;
    *pref = created;
    return StatusSuccess;
}

EXPORT int cublasLtMatmulPreferenceDestroy(void* pref)
{
    delete static_cast<Preference*>(pref);
    return StatusSuccess;
}

// MAX_WORKSPACE_BYTES (1, uint64), REDUCTION_SCHEME_MASK (3, uint32), MIN_ALIGNMENT_A/B/C/D_BYTES (5–8, uint32).
EXPORT int cublasLtMatmulPreferenceSetAttribute(void* pref, int attr, const void* buf, size_t sizeInBytes)
{
    if (pref == nullptr) return StatusInvalidValue;
    switch (attr)
    {
    case 1: return copy_attribute(&static_cast<Preference*>(pref)->max_workspace, sizeof(uint64_t), buf, sizeInBytes);
    case 3:
    case 5:
    case 6:
    case 7:
    case 8:
    {
        uint32_t ignored;
        return copy_attribute(&ignored, sizeof ignored, buf, sizeInBytes);
    }
    default: return buf == nullptr && sizeInBytes != 0 ? StatusInvalidValue : StatusSuccess;
    }
}

// One algorithm, needing no workspace, for every problem this double computes; *returnAlgoCount is 1 however many
// were requested.
EXPORT int cublasLtMatmulAlgoGetHeuristic(void* lightHandle, void* operationDesc, void* Adesc, void* Bdesc, void* Cdesc, void* Ddesc,
                                          void* preference, int requestedAlgoCount, HeuristicResult heuristicResultsArray[],
                                          int* returnAlgoCount)
{
    (void)preference;
    if (lightHandle == nullptr) return StatusNotInitialized;
    if (requestedAlgoCount <= 0 || heuristicResultsArray == nullptr || returnAlgoCount == nullptr) return StatusInvalidValue;
    *returnAlgoCount = 0;
    Gemm shape;
    const int status = describe(lightHandle, operationDesc, Adesc, Bdesc, Cdesc, Ddesc, &shape);
    if (status != StatusSuccess) return status;
    HeuristicResult& result = heuristicResultsArray[0];
    std::memset(&result, 0, sizeof result);
    result.algo[0] = AlgoMarker;
    result.workspace_size = 0;
    result.state = StatusSuccess;
    result.waves_count = 1.0f;
    *returnAlgoCount = 1;
    return StatusSuccess;
}

// D = α·op(A)·op(B) + β·C [+ bias] on `stream`. The algorithm (may be null), workspace and its size are not used.
EXPORT int cublasLtMatmul(void* lightHandle, void* computeDesc, const void* alpha, const void* A, void* Adesc, const void* B, void* Bdesc,
                          const void* beta, const void* C, void* Cdesc, void* D, void* Ddesc, const void* algo, void* workspace,
                          size_t workspaceSizeInBytes, void* stream)
{
    (void)algo;
    (void)workspace;
    (void)workspaceSizeInBytes;
    Batch batch;
    const int status = describe(lightHandle, computeDesc, Adesc, Bdesc, Cdesc, Ddesc, &batch.gemm);
    if (status != StatusSuccess) return status;
    if (alpha == nullptr || beta == nullptr) return StatusInvalidValue;
    Gemm& g = batch.gemm;
    g.alpha = *static_cast<const float*>(alpha);
    g.beta = *static_cast<const float*>(beta);
    const auto& desc = *static_cast<const MatmulDesc*>(computeDesc);
    if (desc.epilogue == EpilogueBias)
    {
        if (desc.bias == nullptr) return StatusInvalidValue;
        g.bias = desc.bias;
    }
    if (g.m == 0 || g.n == 0) return StatusSuccess;
    if (D == nullptr || (g.beta != 0 && C == nullptr) || (g.alpha != 0 && g.k > 0 && (A == nullptr || B == nullptr)))
        return StatusInvalidValue;
    g.a = A;
    g.b = B;
    g.c = C;
    g.d = D;
    return submit(stream, "cublasLtMatmul", batch);
}
