// gemm_reference.h: the arithmetic shared by the CUDA emulator's fake cuBLAS (fake_cublas.cpp) and fake cuBLASLt
// (fake_cublaslt.cpp). A test double, not NVIDIA code: written from the public cuBLAS documentation's description of
// what a GEMM computes. Included by exactly one translation unit per library; everything here is hidden from the
// libraries' exported symbols.
//
// What a GEMM computes here, for every output element of a column-major problem:
//   D(i, j) = α · Σ_p op(A)(i, p) · op(B)(p, j)  +  β · C(i, j)  [+ bias(i)]
// with the products summed in double in p order (0 … k−1), α·sum, β·C and the bias added in double, then the result
// rounded once to float and from float to D's type, round to nearest even. C is not read when β is 0 and A and B are
// not read when α is 0 (the reference BLAS's quick returns), so garbage (NaN) there never reaches D.
//
// Streams: when the emulator's fake driver (libcuda.so.1 from driver_*.cpp) is loaded, each GEMM goes through its
// pxlemu_stream_enqueue, which runs it at once or, while the stream is being captured, records it into the CUDA graph
// like a kernel. Without that driver (the self-test, or any other libcuda) the GEMM simply runs on the calling thread.
#pragma once

#include <dlfcn.h>

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#pragma GCC visibility push(hidden)

#include "float16_bits.h"

namespace fakeblas {

// cublasStatus_t values.
enum Status : int
{
    StatusSuccess = 0,
    StatusNotInitialized = 1,
    StatusAllocFailed = 3,
    StatusInvalidValue = 7,
    StatusArchMismatch = 8,
    StatusMappingError = 11,
    StatusExecutionFailed = 13,
    StatusInternalError = 14,
    StatusNotSupported = 15,
    StatusLicenseError = 16,
};

// cudaDataType values the emulator handles.
enum DataType : int
{
    TypeF32 = 0,   // CUDA_R_32F
    TypeF16 = 2,   // CUDA_R_16F
    TypeBF16 = 14, // CUDA_R_16BF
};

inline bool is_known_type(int type) { return type == TypeF32 || type == TypeF16 || type == TypeBF16; }
inline size_t type_bytes(int type) { return type == TypeF32 ? 4 : 2; }

// The storage combinations cuBLAS accepts with compute type 32F for these three types: A and B of one type, and an
// output of that type or float (f32 operands give f32 only). Anything else is CUBLAS_STATUS_NOT_SUPPORTED there too.
inline bool is_supported_combination(int ab_type, int b_type, int out_type)
{
    if (!is_known_type(ab_type) || ab_type != b_type || !is_known_type(out_type)) return false;
    return out_type == ab_type || out_type == TypeF32;
}

// cublasOperation_t: N = 0, T = 1, C = 2 (conjugate transpose, i.e. transpose for real types).
inline bool is_valid_operation(int op) { return op == 0 || op == 1 || op == 2; }

inline double load_element(const void* base, int64_t index, int type)
{
    switch (type)
    {
    case TypeF32: return (double)static_cast<const float*>(base)[index];
    case TypeF16: return (double)pxlemu_f16_to_float(static_cast<const uint16_t*>(base)[index]);
    default: return (double)pxlemu_bf16_to_float(static_cast<const uint16_t*>(base)[index]);
    }
}

// Rounds to float first, then from float to the element type.
inline void store_element(void* base, int64_t index, int type, double value)
{
    const float f = (float)value;
    switch (type)
    {
    case TypeF32: static_cast<float*>(base)[index] = f; break;
    case TypeF16: static_cast<uint16_t*>(base)[index] = pxlemu_float_to_f16(f); break;
    default: static_cast<uint16_t*>(base)[index] = pxlemu_float_to_bf16(f); break;
    }
}

// ---- the GEMM -------------------------------------------------------------------------------------------------------

// One column-major product D (m × n) = α·op(A)·op(B) + β·C [+ bias], element indexes and leading dimensions in
// elements. C and D may be the same matrix (cuBLAS) or different ones with their own leading dimensions (cuBLASLt).
// Plain data, so a copy of it can be recorded into a CUDA graph.
struct Gemm
{
    bool trans_a = false, trans_b = false;
    int64_t m = 0, n = 0, k = 0;
    float alpha = 1, beta = 0;
    const void* a = nullptr;
    int a_type = TypeF32;
    int64_t lda = 0;
    const void* b = nullptr;
    int b_type = TypeF32;
    int64_t ldb = 0;
    const void* c = nullptr; // read only when beta != 0
    int c_type = TypeF32;
    int64_t ldc = 0;
    void* d = nullptr;
    int d_type = TypeF32;
    int64_t ldd = 0;
    const void* bias = nullptr; // when not null: m elements of D's type, bias(i) added to row i
};

constexpr int64_t Block = 4; // the micro-kernel computes 4 × 4 outputs at a time

// Packs op(X) into blocks of 4 "lines" (rows of op(A), or columns of op(B)), each block stored as k groups of 4
// doubles: packed[(block·k + p)·4 + r] = line (block·4 + r), element p. Lines past `lines` are zero.
// element(line, p) of op(A) is A(line, p), or A(p, line) when transposed; of op(B), B(p, line), or B(line, p).
inline void pack_lines(std::vector<double>& packed, const void* x, int type, int64_t ld, bool line_is_column, int64_t lines,
                       int64_t k)
{
    const int64_t blocks = (lines + Block - 1) / Block;
    packed.assign((size_t)(blocks * k * Block), 0.0);
    for (int64_t line = 0; line < lines; line++)
    {
        double* out = &packed[(size_t)((line / Block) * k * Block + line % Block)];
        if (line_is_column)
            for (int64_t p = 0; p < k; p++) out[p * Block] = load_element(x, line * ld + p, type); // contiguous reads
        else
            for (int64_t p = 0; p < k; p++) out[p * Block] = load_element(x, line + p * ld, type);
    }
}

inline void run_gemm(const Gemm& g)
{
    if (g.m <= 0 || g.n <= 0) return;
    const bool product = g.alpha != 0 && g.k > 0;
    std::vector<double> pa, pb;
    if (product)
    {
        // op(A) row i is A's column i when A is transposed; op(B) column j is B's column j when B is not.
        pack_lines(pa, g.a, g.a_type, g.lda, g.trans_a, g.m, g.k);
        pack_lines(pb, g.b, g.b_type, g.ldb, !g.trans_b, g.n, g.k);
    }
    const double alpha = g.alpha, beta = g.beta;
    for (int64_t j0 = 0; j0 < g.n; j0 += Block)
        for (int64_t i0 = 0; i0 < g.m; i0 += Block)
        {
            // Sixteen independent sums, each in p order.
            double sum[Block][Block] = {};
            if (product)
            {
                const double* a = &pa[(size_t)((i0 / Block) * g.k * Block)];
                const double* b = &pb[(size_t)((j0 / Block) * g.k * Block)];
                for (int64_t p = 0; p < g.k; p++, a += Block, b += Block)
                    for (int c = 0; c < Block; c++)
                        for (int r = 0; r < Block; r++) sum[c][r] += a[r] * b[c];
            }
            const int64_t rows = g.m - i0 < Block ? g.m - i0 : Block, cols = g.n - j0 < Block ? g.n - j0 : Block;
            for (int64_t c = 0; c < cols; c++)
                for (int64_t r = 0; r < rows; r++)
                {
                    const int64_t i = i0 + r, j = j0 + c;
                    double v = product ? alpha * sum[c][r] : 0.0;
                    if (beta != 0) v += beta * load_element(g.c, i + j * g.ldc, g.c_type);
                    if (g.bias != nullptr) v += load_element(g.bias, i, g.d_type);
                    store_element(g.d, i + j * g.ldd, g.d_type, v);
                }
        }
}

// A batch of GEMMs: the template's matrices advanced by element strides, or taken from arrays of matrix pointers (read
// when the batch runs, as a device would). With arrays, C is D.
struct Batch
{
    Gemm gemm;
    int64_t count = 1;
    int64_t stride_a = 0, stride_b = 0, stride_c = 0, stride_d = 0;
    const void* const* a_array = nullptr;
    const void* const* b_array = nullptr;
    void* const* c_array = nullptr;
};

inline const void* advance(const void* base, int64_t elements, int type)
{
    return base == nullptr ? nullptr : static_cast<const char*>(base) + elements * (int64_t)type_bytes(type);
}

// The work item given to the fake driver (signature of pxlemu_stream_enqueue's `work`).
inline int run_batch(const void* data, char*, size_t)
{
    Batch batch;
    std::memcpy(&batch, data, sizeof batch);
    for (int64_t index = 0; index < batch.count; index++)
    {
        Gemm g = batch.gemm;
        if (batch.c_array != nullptr)
        {
            g.a = batch.a_array[index];
            g.b = batch.b_array[index];
            g.c = g.d = batch.c_array[index];
        }
        else
        {
            g.a = advance(g.a, index * batch.stride_a, g.a_type);
            g.b = advance(g.b, index * batch.stride_b, g.b_type);
            g.c = advance(g.c, index * batch.stride_c, g.c_type);
            g.d = const_cast<void*>(advance(g.d, index * batch.stride_d, g.d_type));
        }
        run_gemm(g);
    }
    return 0;
}

// pxlemu_stream_enqueue of the emulator's fake driver (pxlemu.h), when that driver is the libcuda.so.1 in this process.
using StreamEnqueue = int (*)(void* stream, const char* what, int (*work)(const void* data, char* error, size_t error_size),
                              const void* data, size_t bytes);

inline StreamEnqueue find_stream_enqueue()
{
    static std::atomic<StreamEnqueue> found{nullptr};
    StreamEnqueue fn = found.load(std::memory_order_acquire);
    if (fn != nullptr) return fn;
    void* symbol = dlsym(RTLD_DEFAULT, "pxlemu_stream_enqueue");
    if (symbol == nullptr)
    {
        // The backend loads the driver by path without RTLD_GLOBAL; the loader still finds it by its soname. The
        // reference this takes is kept for good (the pointer is cached).
        if (void* driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD)) symbol = dlsym(driver, "pxlemu_stream_enqueue");
    }
    if (symbol == nullptr) return nullptr; // not cached: the driver may be loaded later
    fn = reinterpret_cast<StreamEnqueue>(symbol);
    found.store(fn, std::memory_order_release);
    return fn;
}

// Runs the batch on `stream`: through the fake driver when present (captured into a graph if the stream is capturing),
// otherwise at once on this thread.
inline int submit(void* stream, const char* what, const Batch& batch)
{
    if (StreamEnqueue enqueue = find_stream_enqueue())
        return enqueue(stream, what, &run_batch, &batch, sizeof batch) == 0 ? StatusSuccess : StatusExecutionFailed;
    run_batch(&batch, nullptr, 0);
    return StatusSuccess;
}

} // namespace fakeblas

#pragma GCC visibility pop
