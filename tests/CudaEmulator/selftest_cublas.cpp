// selftest_cublas.cpp: checks the CUDA emulator's fake cuBLAS and cuBLASLt (libcublas.so from fake_cublas.cpp,
// libcublasLt.so from fake_cublaslt.cpp) against a naive double-precision GEMM written here, independently of
// gemm_reference.h. It dlopens the two libraries the way the backend does (by path, C symbols), runs GEMMs over the
// shapes and options the backend uses, and prints one PASS or FAIL line per check; the exit status is the number of
// failures (capped at 100). Test code, not NVIDIA code.
//
// Expected values: operands are chosen so that every product and sum is exact in double (multiples of 1/16 in [-4, 4])
// wherever the output is 16-bit, so the expected output (the exact result rounded to float, then to the output type,
// to nearest even) must match bit for bit; f32 cases with arbitrary floats allow one float ulp.
//
// With a second argument, the emulator's fake driver (libcuda.so.1 from fake_driver.cpp), it last checks that a GEMM
// issued while a stream is being captured lands in the CUDA graph: not run at the call, run at every graph launch.
//
// Build and run (libraries built into /tmp/fakecublas as their files' headers say):
//   g++ -std=c++17 -O2 -Wall -Wextra -o /tmp/fakecublas/selftest_cublas selftest_cublas.cpp -ldl
//   /tmp/fakecublas/selftest_cublas /tmp/fakecublas [<dir>/libcuda.so.1]
#include <dlfcn.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

// ---- the libraries under test ---------------------------------------------------------------------------------------

using GemmStridedBatchedEx = int (*)(void*, int, int, int, int, int, const void*, const void*, int, int, long long, const void*, int, int,
                                     long long, const void*, void*, int, int, long long, int, int, int);
using GemmBatchedEx = int (*)(void*, int, int, int, int, int, const void*, const void* const*, int, int, const void* const*, int, int,
                              const void*, void* const*, int, int, int, int, int);

struct HeuristicResult
{
    uint64_t algo[8];
    size_t workspace_size;
    int state;
    float waves_count;
    int reserved[4];
};

struct Api
{
    int (*create)(void**);
    int (*destroy)(void*);
    int (*set_stream)(void*, void*);
    int (*set_math_mode)(void*, int);
    int (*set_workspace)(void*, void*, size_t);
    GemmStridedBatchedEx gemm_strided;
    GemmBatchedEx gemm_batched;
    const char* (*status_string)(int);
    int (*get_property)(int, int*);

    size_t (*lt_version)();
    int (*lt_create)(void**);
    int (*lt_destroy)(void*);
    int (*desc_create)(void**, int, int);
    int (*desc_destroy)(void*);
    int (*desc_set)(void*, int, const void*, size_t);
    int (*layout_create)(void**, int, uint64_t, uint64_t, int64_t);
    int (*layout_destroy)(void*);
    int (*pref_create)(void**);
    int (*pref_destroy)(void*);
    int (*pref_set)(void*, int, const void*, size_t);
    int (*heuristic)(void*, void*, void*, void*, void*, void*, void*, int, HeuristicResult*, int*);
    int (*matmul)(void*, void*, const void*, const void*, void*, const void*, void*, const void*, const void*, void*, void*, void*,
                  const void*, void*, size_t, void*);
};

Api api;
void* handle = nullptr;    // cuBLAS
void* lt_handle = nullptr; // cuBLASLt
int failures = 0;

template <typename F>
bool bind(void* library, const char* name, F* target)
{
    void* symbol = dlsym(library, name);
    if (symbol == nullptr) std::fprintf(stderr, "missing export %s\n", name);
    *target = reinterpret_cast<F>(symbol);
    return symbol != nullptr;
}

bool load(const std::string& dir)
{
    void* blas = dlopen((dir + "/libcublas.so").c_str(), RTLD_NOW | RTLD_LOCAL);
    void* lt = dlopen((dir + "/libcublasLt.so").c_str(), RTLD_NOW | RTLD_LOCAL);
    if (blas == nullptr || lt == nullptr)
    {
        std::fprintf(stderr, "dlopen failed: %s\n", dlerror());
        return false;
    }
    bool ok = true;
    ok &= bind(blas, "cublasCreate_v2", &api.create);
    ok &= bind(blas, "cublasDestroy_v2", &api.destroy);
    ok &= bind(blas, "cublasSetStream_v2", &api.set_stream);
    ok &= bind(blas, "cublasSetMathMode", &api.set_math_mode);
    ok &= bind(blas, "cublasSetWorkspace_v2", &api.set_workspace);
    ok &= bind(blas, "cublasGemmStridedBatchedEx", &api.gemm_strided);
    ok &= bind(blas, "cublasGemmBatchedEx", &api.gemm_batched);
    ok &= bind(blas, "cublasGetStatusString", &api.status_string);
    ok &= bind(blas, "cublasGetProperty", &api.get_property);
    ok &= bind(lt, "cublasLtGetVersion", &api.lt_version);
    ok &= bind(lt, "cublasLtCreate", &api.lt_create);
    ok &= bind(lt, "cublasLtDestroy", &api.lt_destroy);
    ok &= bind(lt, "cublasLtMatmulDescCreate", &api.desc_create);
    ok &= bind(lt, "cublasLtMatmulDescDestroy", &api.desc_destroy);
    ok &= bind(lt, "cublasLtMatmulDescSetAttribute", &api.desc_set);
    ok &= bind(lt, "cublasLtMatrixLayoutCreate", &api.layout_create);
    ok &= bind(lt, "cublasLtMatrixLayoutDestroy", &api.layout_destroy);
    ok &= bind(lt, "cublasLtMatmulPreferenceCreate", &api.pref_create);
    ok &= bind(lt, "cublasLtMatmulPreferenceDestroy", &api.pref_destroy);
    ok &= bind(lt, "cublasLtMatmulPreferenceSetAttribute", &api.pref_set);
    ok &= bind(lt, "cublasLtMatmulAlgoGetHeuristic", &api.heuristic);
    ok &= bind(lt, "cublasLtMatmul", &api.matmul);
    return ok;
}

void report(const std::string& name, bool pass, const std::string& detail = "")
{
    std::printf("%s %s%s%s\n", pass ? "PASS" : "FAIL", name.c_str(), detail.empty() ? "" : ": ", detail.c_str());
    if (!pass) failures++;
}

// ---- element types, written from the formats' definitions --------------------------------------------------------------

constexpr int F32 = 0, F16 = 2, BF16 = 14;
constexpr int OpN = 0, OpT = 1;

size_t bytes_of(int type) { return type == F32 ? 4 : 2; }
const char* type_name(int type) { return type == F32 ? "f32" : type == F16 ? "f16" : "bf16"; }

// Rounds to the nearest value with `bits` significant bits, ties to even, with exponents clamped below at min_exponent
// (so values under it are quantised like subnormals); above max_finite it is infinity.
double round_to_format(double x, int bits, int min_exponent, double max_finite)
{
    if (std::isnan(x) || std::isinf(x) || x == 0) return x;
    int exponent = std::ilogb(x);
    if (exponent < min_exponent) exponent = min_exponent;
    const double quantum = std::ldexp(1.0, exponent - (bits - 1));
    const double rounded = std::nearbyint(x / quantum) * quantum; // default rounding mode: to nearest, ties to even
    if (std::fabs(rounded) > max_finite) return std::copysign(std::numeric_limits<double>::infinity(), x);
    return rounded;
}

const double Bf16Max = std::ldexp(255.0, 127 - 7); // (2 − 2^-7) · 2^127
const double F16Max = 65504.0;

// The value an output of `type` must hold: the exact result rounded to float, then to the type.
double expected_in(int type, double exact)
{
    const double f = (double)(float)exact;
    if (type == F32) return f;
    if (type == BF16) return round_to_format(f, 8, -126, Bf16Max);
    return round_to_format(f, 11, -14, F16Max);
}

double decode(const void* base, size_t index, int type)
{
    if (type == F32)
    {
        float f;
        std::memcpy(&f, static_cast<const char*>(base) + index * 4, 4);
        return f;
    }
    uint16_t h;
    std::memcpy(&h, static_cast<const char*>(base) + index * 2, 2);
    if (type == BF16)
    {
        const uint32_t widened = (uint32_t)h << 16;
        float f;
        std::memcpy(&f, &widened, 4);
        return f;
    }
    const int exponent = (h >> 10) & 31, mantissa = h & 1023;
    const double sign = (h & 0x8000) != 0 ? -1.0 : 1.0;
    if (exponent == 31) return mantissa != 0 ? std::numeric_limits<double>::quiet_NaN() : sign * std::numeric_limits<double>::infinity();
    if (exponent == 0) return sign * std::ldexp((double)mantissa, -24);
    return sign * std::ldexp(1024.0 + mantissa, exponent - 25);
}

// Stores a value the type holds exactly (the test's operands are all such values).
void encode(void* base, size_t index, int type, double value)
{
    char* at = static_cast<char*>(base) + index * bytes_of(type);
    if (type == F32)
    {
        const float f = (float)value;
        std::memcpy(at, &f, 4);
        return;
    }
    uint16_t h;
    if (type == BF16)
    {
        const float f = (float)value;
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        h = (uint16_t)(bits >> 16);
    }
    else
    {
        const double magnitude = std::fabs(value);
        const uint16_t sign = std::signbit(value) ? 0x8000 : 0;
        if (magnitude == 0) h = sign;
        else if (magnitude < std::ldexp(1.0, -14)) h = (uint16_t)(sign | (uint16_t)std::ldexp(magnitude, 24));
        else
        {
            const int exponent = std::ilogb(magnitude);
            h = (uint16_t)(sign | ((exponent + 15) << 10) | ((uint16_t)(std::ldexp(magnitude, 10 - exponent)) - 1024));
        }
    }
    if (decode(&h, 0, type) != value && !std::isnan(value))
    {
        std::fprintf(stderr, "test bug: %.17g is not exact in %s\n", value, type_name(type));
        std::abort();
    }
    std::memcpy(at, &h, 2);
}

void fill_nan(std::vector<unsigned char>& storage) { std::memset(storage.data(), 0xff, storage.size()); } // NaN in every type

std::mt19937 rng(12345);

// A multiple of 1/16 in [-4, 4]: exact in every type, products and k-long sums exact in double.
double small_value() { return (double)((int)(rng() % 129) - 64) / 16.0; }

double any_float()
{
    std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
    return (double)dist(rng);
}

std::vector<unsigned char> random_matrix(size_t elements, int type, bool exact)
{
    std::vector<unsigned char> storage(elements * bytes_of(type));
    for (size_t i = 0; i < elements; i++) encode(storage.data(), i, type, exact ? small_value() : any_float());
    return storage;
}

// ---- the independent reference ----------------------------------------------------------------------------------------

struct Operand
{
    const void* data;
    int type;
    int trans;
    long long ld;
};

// op(X)(row, col) of a column-major X.
double op_element(const Operand& x, long long row, long long col)
{
    const long long index = x.trans == OpN ? row + col * x.ld : col + row * x.ld;
    return decode(x.data, (size_t)index, x.type);
}

// The exact (double) value α·Σ op(A)(i, p)·op(B)(p, j) + β·C(i, j) + bias(i); C is not read when β is 0.
double exact_element(const Operand& a, const Operand& b, int k, double alpha, double beta, const void* c, int c_type, long long ldc,
                     const void* bias, int bias_type, long long i, long long j)
{
    double sum = 0;
    for (int p = 0; p < k; p++) sum += op_element(a, i, p) * op_element(b, p, j);
    double v = alpha * sum;
    if (beta != 0) v += beta * decode(c, (size_t)(i + j * ldc), c_type);
    if (bias != nullptr) v += decode(bias, (size_t)i, bias_type);
    return v;
}

bool same(double got, double want, bool exact, int type)
{
    if (std::isnan(want)) return std::isnan(got);
    if (exact || std::isinf(want)) return got == want;
    // One ulp of the output type (f32 with arbitrary operands: the sum of k products is exact to far below this).
    const int bits = type == F32 ? 24 : type == BF16 ? 8 : 11;
    const double ulp = want == 0 ? 1e-30 : std::ldexp(1.0, std::ilogb(want) - (bits - 1));
    return std::fabs(got - want) <= ulp;
}

// Compares one m × n output at `d` (leading dimension ldd) with the expected values; returns a description of the
// first mismatch, or "" when all match.
std::string compare(const void* d, int type, long long ldd, int m, int n, const std::function<double(long long, long long)>& exact_value,
                    bool exact)
{
    int bad = 0;
    std::string first;
    for (long long j = 0; j < n; j++)
        for (long long i = 0; i < m; i++)
        {
            const double want = expected_in(type, exact_value(i, j));
            const double got = decode(d, (size_t)(i + j * ldd), type);
            if (same(got, want, exact, type)) continue;
            if (bad++ == 0)
            {
                char text[160];
                std::snprintf(text, sizeof text, "(%lld, %lld) got %.9g want %.9g", i, j, got, want);
                first = text;
            }
        }
    if (bad == 0) return "";
    return std::to_string(bad) + " wrong, first " + first;
}

// Elements of `after` outside the written set must be unchanged from `before` (padding rows, gaps between batches).
std::string untouched(const std::vector<unsigned char>& before, const std::vector<unsigned char>& after, int type,
                      const std::vector<bool>& written)
{
    const size_t size = bytes_of(type);
    for (size_t e = 0; e < written.size(); e++)
        if (!written[e] && std::memcmp(&before[e * size], &after[e * size], size) != 0)
            return "element " + std::to_string(e) + " outside the output was written";
    return "";
}

// ---- cublasGemmStridedBatchedEx -------------------------------------------------------------------------------------

struct Strided
{
    std::string name;
    int in_type, out_type;
    int trans_a, trans_b;
    int m, n, k;
    int lda, ldb, ldc; // 0: the minimum
    long long stride_a, stride_b, stride_c; // -1: packed (ld · columns), 0: broadcast
    int batch;
    float alpha, beta;
    bool exact;
};

void strided_case(Strided s)
{
    const int a_rows = s.trans_a == OpN ? s.m : s.k, a_cols = s.trans_a == OpN ? s.k : s.m;
    const int b_rows = s.trans_b == OpN ? s.k : s.n, b_cols = s.trans_b == OpN ? s.n : s.k;
    if (s.lda == 0) s.lda = a_rows;
    if (s.ldb == 0) s.ldb = b_rows;
    if (s.ldc == 0) s.ldc = s.m;
    if (s.stride_a < 0) s.stride_a = (long long)s.lda * a_cols;
    if (s.stride_b < 0) s.stride_b = (long long)s.ldb * b_cols;
    if (s.stride_c < 0) s.stride_c = (long long)s.ldc * s.n;
    const size_t a_elements = (size_t)(s.stride_a * (s.batch - 1) + (long long)s.lda * a_cols);
    const size_t b_elements = (size_t)(s.stride_b * (s.batch - 1) + (long long)s.ldb * b_cols);
    const size_t c_elements = (size_t)(s.stride_c * (s.batch - 1) + (long long)s.ldc * s.n);
    const auto a = random_matrix(a_elements, s.in_type, s.exact), b = random_matrix(b_elements, s.in_type, s.exact);
    std::vector<unsigned char> c = random_matrix(c_elements, s.out_type, s.exact);
    if (s.beta == 0) fill_nan(c); // must not be read
    const std::vector<unsigned char> before = c;
    const int status = api.gemm_strided(handle, s.trans_a, s.trans_b, s.m, s.n, s.k, &s.alpha, a.data(), s.in_type, s.lda, s.stride_a,
                                        b.data(), s.in_type, s.ldb, s.stride_b, &s.beta, c.data(), s.out_type, s.ldc, s.stride_c, s.batch,
                                        68, -1);
    if (status != 0)
    {
        report(s.name, false, "status " + std::to_string(status));
        return;
    }
    std::vector<bool> written(c_elements, false);
    std::string problem;
    for (int batch = 0; batch < s.batch && problem.empty(); batch++)
    {
        const Operand oa{a.data() + s.stride_a * batch * (long long)bytes_of(s.in_type), s.in_type, s.trans_a, s.lda};
        const Operand ob{b.data() + s.stride_b * batch * (long long)bytes_of(s.in_type), s.in_type, s.trans_b, s.ldb};
        const size_t c_offset = (size_t)(s.stride_c * batch) * bytes_of(s.out_type);
        problem = compare(c.data() + c_offset, s.out_type, s.ldc, s.m, s.n,
                          [&](long long i, long long j) {
                              return exact_element(oa, ob, s.k, s.alpha, s.beta, before.data() + c_offset, s.out_type, s.ldc, nullptr, 0, i, j);
                          },
                          s.exact);
        for (long long j = 0; j < s.n; j++)
            for (long long i = 0; i < s.m; i++) written[(size_t)(s.stride_c * batch + i + j * s.ldc)] = true;
        if (!problem.empty()) problem = "batch " + std::to_string(batch) + ": " + problem;
    }
    if (problem.empty()) problem = untouched(before, c, s.out_type, written);
    report(s.name, problem.empty(), problem);
}

// ---- cublasGemmBatchedEx: every matrix its own allocation, at an address no stride reaches ---------------------------

void pointer_array_case(const std::string& name, int in_type, int out_type, int trans_a, int trans_b, int m, int n, int k, int lda, int ldb,
                        int ldc, int batch, float alpha, float beta)
{
    const int a_cols = trans_a == OpN ? k : m, b_cols = trans_b == OpN ? n : k;
    std::vector<std::vector<unsigned char>> as, bs, cs, befores;
    std::vector<const void*> a_ptrs, b_ptrs;
    std::vector<void*> c_ptrs;
    for (int i = 0; i < batch; i++)
    {
        as.push_back(random_matrix((size_t)lda * a_cols, in_type, true));
        bs.push_back(random_matrix((size_t)ldb * b_cols, in_type, true));
        cs.push_back(random_matrix((size_t)ldc * n, out_type, true));
        if (beta == 0) fill_nan(cs.back());
        befores.push_back(cs.back());
    }
    // The batch in reverse order of allocation, so that the arrays, not any stride, place each matrix.
    for (int i = batch - 1; i >= 0; i--)
    {
        a_ptrs.push_back(as[i].data());
        b_ptrs.push_back(bs[i].data());
        c_ptrs.push_back(cs[i].data());
    }
    const int status = api.gemm_batched(handle, trans_a, trans_b, m, n, k, &alpha, a_ptrs.data(), in_type, lda, b_ptrs.data(), in_type, ldb,
                                        &beta, c_ptrs.data(), out_type, ldc, batch, 68, -1);
    if (status != 0)
    {
        report(name, false, "status " + std::to_string(status));
        return;
    }
    std::string problem;
    for (int i = 0; i < batch && problem.empty(); i++)
    {
        const Operand oa{as[i].data(), in_type, trans_a, lda}, ob{bs[i].data(), in_type, trans_b, ldb};
        problem = compare(cs[i].data(), out_type, ldc, m, n,
                          [&](long long r, long long c) {
                              return exact_element(oa, ob, k, alpha, beta, befores[i].data(), out_type, ldc, nullptr, 0, r, c);
                          },
                          true);
        if (!problem.empty()) problem = "matrix " + std::to_string(i) + ": " + problem;
        std::vector<bool> written((size_t)ldc * n, false);
        for (long long c = 0; c < n; c++)
            for (long long r = 0; r < m; r++) written[(size_t)(r + c * ldc)] = true;
        if (problem.empty()) problem = untouched(befores[i], cs[i], out_type, written);
    }
    report(name, problem.empty(), problem);
}

// ---- cublasLtMatmul ----------------------------------------------------------------------------------------------------

struct LtCase
{
    std::string name;
    int in_type, out_type;
    int trans_a, trans_b;
    int m, n, k;
    int lda, ldb, ldc, ldd; // 0: the minimum
    float alpha, beta;
    bool bias;
    bool c_is_d;
};

int lt_case(LtCase s)
{
    const int a_rows = s.trans_a == OpN ? s.m : s.k, a_cols = s.trans_a == OpN ? s.k : s.m;
    const int b_rows = s.trans_b == OpN ? s.k : s.n, b_cols = s.trans_b == OpN ? s.n : s.k;
    if (s.lda == 0) s.lda = a_rows;
    if (s.ldb == 0) s.ldb = b_rows;
    if (s.ldd == 0) s.ldd = s.m;
    if (s.c_is_d) s.ldc = s.ldd;
    if (s.ldc == 0) s.ldc = s.m;
    const auto a = random_matrix((size_t)s.lda * a_cols, s.in_type, true), b = random_matrix((size_t)s.ldb * b_cols, s.in_type, true);
    const auto bias = random_matrix((size_t)s.m, s.out_type, true);
    std::vector<unsigned char> d = random_matrix((size_t)s.ldd * s.n, s.out_type, true);
    std::vector<unsigned char> c_separate = random_matrix((size_t)s.ldc * s.n, s.out_type, true);
    if (s.beta == 0 || !s.c_is_d) fill_nan(d); // with a separate C, D is only written; with β 0, C is never read
    const std::vector<unsigned char> d_before = d, c_before = s.c_is_d ? d : c_separate;
    const void* c_pointer = s.c_is_d ? d.data() : c_separate.data();

    void *desc = nullptr, *la = nullptr, *lb = nullptr, *lc = nullptr, *ld = nullptr, *pref = nullptr;
    int status = api.desc_create(&desc, 68, F32);
    const int trans_a = s.trans_a, trans_b = s.trans_b;
    const uint32_t epilogue = s.bias ? 4 : 1;
    const void* bias_pointer = bias.data();
    if (status == 0) status = api.desc_set(desc, 3, &trans_a, sizeof trans_a);
    if (status == 0) status = api.desc_set(desc, 4, &trans_b, sizeof trans_b);
    if (status == 0) status = api.desc_set(desc, 7, &epilogue, sizeof epilogue);
    if (status == 0 && s.bias) status = api.desc_set(desc, 8, &bias_pointer, sizeof bias_pointer);
    if (status == 0) status = api.layout_create(&la, s.in_type, (uint64_t)a_rows, (uint64_t)a_cols, s.lda);
    if (status == 0) status = api.layout_create(&lb, s.in_type, (uint64_t)b_rows, (uint64_t)b_cols, s.ldb);
    if (status == 0) status = api.layout_create(&lc, s.out_type, (uint64_t)s.m, (uint64_t)s.n, s.ldc);
    if (status == 0) status = api.layout_create(&ld, s.out_type, (uint64_t)s.m, (uint64_t)s.n, s.ldd);
    if (status == 0) status = api.pref_create(&pref);
    const uint64_t max_workspace = 1 << 20;
    const uint32_t reductions = 3, alignment = 16;
    if (status == 0) status = api.pref_set(pref, 1, &max_workspace, sizeof max_workspace);
    if (status == 0) status = api.pref_set(pref, 3, &reductions, sizeof reductions);
    for (int attr = 5; attr <= 8 && status == 0; attr++) status = api.pref_set(pref, attr, &alignment, sizeof alignment);
    HeuristicResult results[3];
    int found = -1;
    if (status == 0) status = api.heuristic(lt_handle, desc, la, lb, lc, ld, pref, 3, results, &found);
    if (status == 0 && (found != 1 || results[0].state != 0 || results[0].workspace_size != 0)) status = -1;
    if (status == 0)
        status = api.matmul(lt_handle, desc, &s.alpha, a.data(), la, b.data(), lb, &s.beta, c_pointer, lc, d.data(), ld, results[0].algo,
                            nullptr, 0, nullptr);
    for (void* layout : {la, lb, lc, ld})
        if (layout != nullptr) api.layout_destroy(layout);
    if (pref != nullptr) api.pref_destroy(pref);
    if (desc != nullptr) api.desc_destroy(desc);
    if (s.name.empty()) return status; // a status probe, not a checked case
    if (status != 0)
    {
        report(s.name, false, "status " + std::to_string(status));
        return status;
    }
    const Operand oa{a.data(), s.in_type, s.trans_a, s.lda}, ob{b.data(), s.in_type, s.trans_b, s.ldb};
    std::string problem = compare(d.data(), s.out_type, s.ldd, s.m, s.n,
                                  [&](long long i, long long j) {
                                      return exact_element(oa, ob, s.k, s.alpha, s.beta, c_before.data(), s.out_type, s.ldc,
                                                           s.bias ? bias.data() : nullptr, s.out_type, i, j);
                                  },
                                  true);
    std::vector<bool> written((size_t)s.ldd * s.n, false);
    for (long long j = 0; j < s.n; j++)
        for (long long i = 0; i < s.m; i++) written[(size_t)(i + j * s.ldd)] = true;
    if (problem.empty()) problem = untouched(d_before, d, s.out_type, written);
    if (problem.empty() && !s.c_is_d && c_separate != c_before) problem = "C was written";
    report(s.name, problem.empty(), problem);
    return status;
}

// ---- rounding of the output: 1 × 1 × 1 GEMMs whose result is exactly α --------------------------------------------------
// (α is never ±0 here: α = 0 is BLAS's quick return, which writes β·C, not α·A·B, so its sign is that of +0.)

void rounding_case(int type, const std::vector<double>& values)
{
    std::string problem;
    for (double value : values)
    {
        std::vector<unsigned char> one(bytes_of(type)), out(bytes_of(type));
        encode(one.data(), 0, type, 1.0);
        fill_nan(out);
        const float alpha = (float)value, beta = 0;
        const int status = api.gemm_strided(handle, OpN, OpN, 1, 1, 1, &alpha, one.data(), type, 1, 0, one.data(), type, 1, 0, &beta, out.data(),
                                            type, 1, 0, 1, 68, -1);
        const double want = expected_in(type, (double)alpha), got = decode(out.data(), 0, type);
        const bool sign_ok = std::isnan(want) || std::signbit(got) == std::signbit(want);
        if (status != 0 || !same(got, want, true, type) || !sign_ok)
        {
            char text[160];
            std::snprintf(text, sizeof text, "α %.9g: status %d, got %.9g want %.9g", (double)alpha, status, got, want);
            problem = text;
            break;
        }
    }
    report(std::string("rounding to ") + type_name(type) + " (ties to even, subnormals, overflow, NaN, signed zero)", problem.empty(),
           problem);
}

// ---- statuses ----------------------------------------------------------------------------------------------------------

void status_checks()
{
    std::vector<unsigned char> buffer(4096 * 4, 0);
    const float one = 1, zero = 0;
    auto strided = [&](int m, int n, int k, int type, int lda, int ldb, int ldc, int out_type, int batch) {
        return api.gemm_strided(handle, OpN, OpN, m, n, k, &one, buffer.data(), type, lda, 0, buffer.data(), type, ldb, 0, &zero, buffer.data(),
                                out_type, ldc, 0, batch, 68, -1);
    };
    std::string problem;
    auto expect = [&](const char* what, int got, int want) {
        if (problem.empty() && got != want) problem = std::string(what) + ": got " + std::to_string(got) + ", want " + std::to_string(want);
    };
    expect("f64 operands", strided(4, 4, 4, 1, 4, 4, 4, 1, 1), 15);
    expect("f32 operands, bf16 output", strided(4, 4, 4, F32, 4, 4, 4, BF16, 1), 15);
    expect("bf16 operands, f16 output", strided(4, 4, 4, BF16, 4, 4, 4, F16, 1), 15);
    expect("negative m", strided(-1, 4, 4, F32, 4, 4, 4, F32, 1), 7);
    expect("negative batch", strided(4, 4, 4, F32, 4, 4, 4, F32, -2), 7);
    expect("lda < m", strided(8, 4, 4, F32, 4, 4, 8, F32, 1), 7);
    expect("ldc < m", strided(8, 4, 4, F32, 8, 4, 4, F32, 1), 7);
    expect("empty problem", strided(0, 0, 0, F32, 1, 1, 1, F32, 1), 0);
    expect("null handle", api.gemm_strided(nullptr, 0, 0, 1, 1, 1, &one, buffer.data(), F32, 1, 0, buffer.data(), F32, 1, 0, &zero,
                                           buffer.data(), F32, 1, 0, 1, 68, -1),
           1);
    expect("math mode 16", api.set_math_mode(handle, 16), 0);
    expect("math mode 99", api.set_math_mode(handle, 99), 7);
    expect("workspace", api.set_workspace(handle, buffer.data(), buffer.size()), 0);
    expect("stream", api.set_stream(handle, nullptr), 0);
    int value = -1;
    expect("property major", api.get_property(0, &value), 0);
    expect("major 11", value, 11);
    expect("property minor", api.get_property(1, &value), 0);
    expect("minor 8", value, 8);
    expect("property patch", api.get_property(2, &value), 0);
    expect("patch 0", value, 0);
    expect("property 7", api.get_property(7, &value), 7);
    expect("status string 15", std::strstr(api.status_string(15), "NOT_SUPPORTED") != nullptr, 1);
    expect("status string 7", std::strstr(api.status_string(7), "INVALID_VALUE") != nullptr, 1);
    expect("Lt version", (int)api.lt_version(), 110800);

    void *desc = nullptr, *layout = nullptr, *pref = nullptr;
    expect("desc create", api.desc_create(&desc, 68, F32), 0);
    const int trans = 1;
    const int bad_operation = 5;
    const uint64_t wide = 1;
    expect("TRANSA of 8 bytes", api.desc_set(desc, 3, &wide, sizeof wide), 7);
    expect("TRANSA 5", api.desc_set(desc, 3, &bad_operation, sizeof bad_operation), 7);
    expect("TRANSB", api.desc_set(desc, 4, &trans, sizeof trans), 0);
    expect("unknown desc attribute", api.desc_set(desc, 999, &trans, sizeof trans), 0);
    expect("desc destroy", api.desc_destroy(desc), 0);
    expect("layout ld < rows", api.layout_create(&layout, F32, 8, 4, 4), 7);
    expect("layout negative ld", api.layout_create(&layout, F32, 8, 4, -8), 7);
    expect("layout negative rows", api.layout_create(&layout, F32, (uint64_t)-8, 4, 8), 7);
    expect("pref create", api.pref_create(&pref), 0);
    expect("workspace of 4 bytes", api.pref_set(pref, 1, &trans, sizeof trans), 7);
    expect("unknown pref attribute", api.pref_set(pref, 999, &trans, sizeof trans), 0);
    expect("pref destroy", api.pref_destroy(pref), 0);
    report("statuses (unsupported types, bad sizes and leading dims, attributes, versions)", problem.empty(), problem);
}

void heuristic_checks()
{
    void *desc = nullptr, *l4x4 = nullptr, *l4x5 = nullptr;
    std::string problem;
    auto expect = [&](const char* what, long long got, long long want) {
        if (problem.empty() && got != want) problem = std::string(what) + ": got " + std::to_string(got) + ", want " + std::to_string(want);
    };
    expect("desc", api.desc_create(&desc, 68, F32), 0);
    expect("layout", api.layout_create(&l4x4, BF16, 4, 4, 4), 0);
    expect("layout", api.layout_create(&l4x5, BF16, 4, 5, 4), 0);
    HeuristicResult results[8];
    std::memset(results, 0x5a, sizeof results);
    int found = -1;
    expect("8 requested", api.heuristic(lt_handle, desc, l4x4, l4x4, l4x4, l4x4, nullptr, 8, results, &found), 0);
    expect("found", found, 1);
    expect("state", results[0].state, 0);
    expect("workspace", (long long)results[0].workspace_size, 0);
    expect("0 requested", api.heuristic(lt_handle, desc, l4x4, l4x4, l4x4, l4x4, nullptr, 0, results, &found), 7);
    expect("k mismatch (A 4×5, B 4×4)", api.heuristic(lt_handle, desc, l4x5, l4x4, l4x4, l4x4, nullptr, 1, results, &found), 7);
    const uint32_t relu = 2; // CUBLASLT_EPILOGUE_RELU: not emulated
    expect("epilogue", api.desc_set(desc, 7, &relu, sizeof relu), 0);
    expect("RELU epilogue", api.heuristic(lt_handle, desc, l4x4, l4x4, l4x4, l4x4, nullptr, 1, results, &found), 15);
    api.layout_destroy(l4x4);
    api.layout_destroy(l4x5);
    api.desc_destroy(desc);
    report("Lt heuristic: one algorithm of state 0 and no workspace, however many requested; bad shapes refused", problem.empty(), problem);
}

void timing()
{
    const int n = 512;
    auto a = random_matrix((size_t)n * n, F32, false), b = random_matrix((size_t)n * n, F32, false);
    std::vector<unsigned char> c((size_t)n * n * 4);
    const float one = 1, zero = 0;
    const auto start = std::chrono::steady_clock::now();
    const int status = api.gemm_strided(handle, OpT, OpN, n, n, n, &one, a.data(), F32, n, 0, b.data(), F32, n, 0, &zero, c.data(), F32, n,
                                        0, 1, 68, -1);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    char text[96];
    std::snprintf(text, sizeof text, "%.3f s (%.2f GFLOP/s)", seconds, 2.0 * n * n * n / seconds / 1e9);
    report("speed: 512 × 512 × 512 f32 in under 5 s", status == 0 && seconds < 5, text);
}

// The driver is loaded by path and privately, as the backend loads it; the fake cuBLAS(Lt) must still find it.
void capture_check(const char* driver_path)
{
    void* cuda = dlopen(driver_path, RTLD_NOW | RTLD_LOCAL);
    if (cuda == nullptr)
    {
        report("GEMMs captured into a CUDA graph", false, dlerror());
        return;
    }
    int (*init)(unsigned) = nullptr, (*device_get)(int*, int) = nullptr, (*retain)(void**, int) = nullptr;
    int (*set_current)(void*) = nullptr, (*stream_create)(void**, unsigned) = nullptr, (*begin)(void*, int) = nullptr;
    int (*end)(void*, void**) = nullptr, (*instantiate)(void**, void*, unsigned long long) = nullptr;
    int (*launch)(void*, void*) = nullptr, (*synchronize)(void*) = nullptr;
    bool ok = bind(cuda, "cuInit", &init) && bind(cuda, "cuDeviceGet", &device_get) && bind(cuda, "cuDevicePrimaryCtxRetain", &retain) &&
              bind(cuda, "cuCtxSetCurrent", &set_current) && bind(cuda, "cuStreamCreate", &stream_create) &&
              bind(cuda, "cuStreamBeginCapture_v2", &begin) && bind(cuda, "cuStreamEndCapture", &end) &&
              bind(cuda, "cuGraphInstantiateWithFlags", &instantiate) && bind(cuda, "cuGraphLaunch", &launch) &&
              bind(cuda, "cuStreamSynchronize", &synchronize);
    int device = 0, status = ok ? 0 : -1;
    void *context = nullptr, *stream = nullptr, *graph = nullptr, *exec = nullptr, *desc = nullptr, *layout = nullptr;
    if (status == 0) status = init(0) | device_get(&device, 0) | retain(&context, device) | set_current(context) | stream_create(&stream, 1);
    if (status == 0) status = api.set_stream(handle, stream) | api.desc_create(&desc, 68, F32) | api.layout_create(&layout, F32, 2, 2, 2);
    const float nan = std::numeric_limits<float>::quiet_NaN(), a[4] = {1, 2, 3, 4}, b[4] = {0, 1, 1, 0}, two = 2, zero = 0;
    float c[4] = {nan, nan, nan, nan}, d[4] = {nan, nan, nan, nan};
    std::string problem;
    if (status == 0) status = begin(stream, 0);
    if (status == 0)
        status = api.gemm_strided(handle, OpN, OpN, 2, 2, 2, &two, a, F32, 2, 0, b, F32, 2, 0, &zero, c, F32, 2, 0, 1, 68, -1) |
                 api.matmul(lt_handle, desc, &two, a, layout, b, layout, &zero, nullptr, layout, d, layout, nullptr, nullptr, 0, stream);
    if (status == 0 && !(std::isnan(c[0]) && std::isnan(d[0]))) problem = "ran during the capture";
    if (status == 0) status = end(stream, &graph) | instantiate(&exec, graph, 0);
    for (int replay = 0; replay < 2 && status == 0 && problem.empty(); replay++)
    {
        c[0] = d[0] = nan;
        status = launch(exec, stream) | synchronize(stream);
        // 2·A·B with B swapping columns: (2·A(:, 1), 2·A(:, 0)) = 6 8 2 4.
        if (status == 0 && !(c[0] == 6 && c[1] == 8 && c[2] == 2 && c[3] == 4 && d[0] == 6 && d[3] == 4)) problem = "wrong after a launch";
    }
    if (status != 0 && problem.empty()) problem = "status " + std::to_string(status);
    if (layout != nullptr) api.layout_destroy(layout);
    if (desc != nullptr) api.desc_destroy(desc);
    report("GEMMs issued during stream capture run at each graph launch (through the fake driver)", problem.empty(), problem);
}

} // namespace

int main(int argc, char** argv)
{
    const std::string dir = argc > 1 ? argv[1] : "/tmp/fakecublas";
    std::setvbuf(stdout, nullptr, _IOLBF, 0); // every line out before a crash
    if (!load(dir)) return 100;
    if (api.create(&handle) != 0 || api.lt_create(&lt_handle) != 0 || api.set_math_mode(handle, 16) != 0)
    {
        std::fprintf(stderr, "handle creation failed\n");
        return 100;
    }

    // cublasGemmStridedBatchedEx: transposes, leading dims above the minimum, strides with gaps, broadcasts, types.
    //           name                                                      in    out   tA   tB   m   n   k  lda ldb ldc  sA   sB   sC  batch α      β    exact
    strided_case({"strided f32 NN, lds above minimum, β 0 over NaN C", F32, F32, OpN, OpN, 37, 29, 41, 40, 46, 39, -1, -1, -1, 1, 1.25f, 0.0f, false});
    strided_case({"strided f32 TN, batch 3, strides with gaps, β 0.5", F32, F32, OpT, OpN, 19, 23, 57, 60, 0, 21, 1500, 1400, 500, 3, 0.75f, 0.5f, false});
    strided_case({"strided f32 NT, batch 2, β 1", F32, F32, OpN, OpT, 33, 17, 9, 0, 20, 0, -1, -1, -1, 2, -1.0f, 1.0f, false});
    strided_case({"strided f32 TT, k 300 (double accumulation)", F32, F32, OpT, OpT, 13, 11, 300, 0, 0, 0, -1, -1, -1, 1, 1.0f, 0.0f, false});
    strided_case({"strided bf16→bf16 NN, batch 4", BF16, BF16, OpN, OpN, 24, 40, 32, 0, 0, 0, -1, -1, -1, 4, 1.0f, 0.0f, true});
    strided_case({"strided bf16→bf16 TN (row-major NN), lds above minimum", BF16, BF16, OpT, OpN, 31, 18, 45, 50, 47, 33, -1, -1, -1, 2, 0.125f, 0.0f, true});
    strided_case({"strided bf16→bf16 NT, β 1 (accumulate)", BF16, BF16, OpN, OpT, 16, 16, 64, 0, 0, 0, -1, -1, -1, 1, 1.0f, 1.0f, true});
    strided_case({"strided bf16→f32 TT, A broadcast (stride 0), batch 3", BF16, F32, OpT, OpT, 20, 12, 28, 0, 0, 22, 0, -1, 300, 3, 0.5f, 0.0f, true});
    strided_case({"strided f16→f16 NN, batch 2", F16, F16, OpN, OpN, 15, 27, 22, 17, 0, 0, -1, -1, -1, 2, 1.0f, 0.0f, true});
    strided_case({"strided f16→f32 TN, β 0.25", F16, F32, OpT, OpN, 9, 14, 70, 0, 0, 0, -1, -1, -1, 1, 2.0f, 0.25f, true});
    strided_case({"strided f32 k 0 (C = β·C)", F32, F32, OpN, OpN, 5, 6, 0, 5, 1, 5, -1, -1, -1, 1, 1.0f, 0.5f, true});
    strided_case({"strided bf16 α 0 (A and B not used)", BF16, BF16, OpN, OpN, 7, 3, 5, 0, 0, 0, -1, -1, -1, 1, 0.0f, 1.0f, true});

    // cublasGemmBatchedEx: pointer arrays.
    pointer_array_case("pointer arrays bf16→bf16 TN, batch 5, β 0 over NaN C", BF16, BF16, OpT, OpN, 12, 20, 16, 16, 18, 13, 5, 1.0f, 0.0f);
    pointer_array_case("pointer arrays bf16→f32 NT, batch 3, β 1", BF16, F32, OpN, OpT, 8, 9, 10, 8, 9, 8, 3, 0.5f, 1.0f);
    pointer_array_case("pointer arrays f32 NN, batch 2", F32, F32, OpN, OpN, 6, 7, 8, 6, 8, 6, 2, 1.0f, 0.0f);

    // cublasLtMatmul: bias epilogue, residual C different from D, layouts with their own leading dims.
    //     name                                                        in    out   tA   tB   m   n   k  lda ldb ldc ldd  α     β     bias   C is D
    lt_case({"Lt bf16 TN with bias epilogue, β 0 over NaN D", BF16, BF16, OpT, OpN, 40, 24, 36, 0, 0, 0, 0, 1.0f, 0.0f, true, true});
    lt_case({"Lt bf16 NN, residual C ≠ D (β 1), own leading dims", BF16, BF16, OpN, OpN, 21, 14, 30, 25, 33, 27, 23, 1.0f, 1.0f, false, false});
    lt_case({"Lt bf16 TN, bias + residual C ≠ D", BF16, BF16, OpT, OpN, 32, 10, 48, 50, 0, 40, 0, 0.5f, 1.0f, true, false});
    lt_case({"Lt bf16 NT, residual in place (C = D)", BF16, BF16, OpN, OpT, 17, 19, 23, 0, 0, 0, 20, 1.0f, 1.0f, false, true});
    lt_case({"Lt bf16→f32 with f32 bias", BF16, F32, OpT, OpN, 18, 7, 64, 0, 0, 0, 0, 1.0f, 0.0f, true, true});
    lt_case({"Lt f16 TT with bias", F16, F16, OpT, OpT, 11, 13, 15, 0, 0, 0, 12, 1.0f, 0.0f, true, true});
    lt_case({"Lt f32 TN with bias, residual C ≠ D", F32, F32, OpT, OpN, 29, 31, 27, 0, 0, 0, 0, 2.0f, 1.0f, true, false});

    heuristic_checks();
    {
        const int missing_bias = [&] {
            void *desc = nullptr, *l = nullptr;
            api.desc_create(&desc, 68, F32);
            const uint32_t bias_epilogue = 4;
            api.desc_set(desc, 7, &bias_epilogue, sizeof bias_epilogue);
            api.layout_create(&l, F32, 2, 2, 2);
            float x[4] = {1, 2, 3, 4}, y[4];
            const float one = 1, zero = 0;
            const int status = api.matmul(lt_handle, desc, &one, x, l, x, l, &zero, y, l, y, l, nullptr, nullptr, 0, nullptr);
            api.layout_destroy(l);
            api.desc_destroy(desc);
            return status;
        }();
        report("Lt bias epilogue without a bias pointer is refused", missing_bias == 7, "status " + std::to_string(missing_bias));
    }

    const double tiny_bf16 = std::ldexp(1.0, -133), tiny_f16 = std::ldexp(1.0, -24);
    rounding_case(BF16, {1.0, 1 + std::ldexp(1.0, -8), 1 + 3 * std::ldexp(1.0, -8), 1 + std::ldexp(1.0, -8) + std::ldexp(1.0, -20),
                         -(1 + std::ldexp(1.0, -8)), -(1 + 3 * std::ldexp(1.0, -8)), 3.0e38, 3.395e38,
                         (double)std::numeric_limits<float>::max(), -(double)std::numeric_limits<float>::max(), 0.1, -7.3e-5,
                         1.5 * tiny_bf16, 2.5 * tiny_bf16, 0.5 * tiny_bf16, 0.75 * tiny_bf16, -0.25 * tiny_bf16, 1e-39,
                         std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                         std::numeric_limits<double>::quiet_NaN()});
    rounding_case(F16, {1.0, 1 + std::ldexp(1.0, -11), 1 + 3 * std::ldexp(1.0, -11), 1 + std::ldexp(1.0, -11) + std::ldexp(1.0, -22),
                        -(1 + 3 * std::ldexp(1.0, -11)), 65504, 65519.99, 65520, 65536, -70000, 1e10, 0.1, -3.14159,
                        std::ldexp(1.0, -14), std::ldexp(1023.0, -24), std::ldexp(1023.5, -24), std::ldexp(1022.5, -24),
                        0.5 * tiny_f16, 0.5000001 * tiny_f16, 1.5 * tiny_f16, 2.5 * tiny_f16, -2.5 * tiny_f16, 0.25 * tiny_f16, -0.25 * tiny_f16, -1e-30,
                        std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()});
    rounding_case(F32, {0.1, 1e-40, 3.0e38, -2.5, std::numeric_limits<double>::quiet_NaN()});

    status_checks();
    timing();

    if (argc > 2) capture_check(argv[2]);

    const int destroyed = api.destroy(handle) | api.lt_destroy(lt_handle);
    report("handles destroyed", destroyed == 0);
    std::printf("%d failure(s)\n", failures);
    return failures > 100 ? 100 : failures;
}
