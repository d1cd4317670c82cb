// selftest_cublas.h: what the files of the GEMM self-test (selftest_cublas*.cpp; see selftest_cublas.cpp) share: the
// libraries' entry points as loaded, the report, the element types and the independent reference the cases are
// checked against (selftest_cublas_reference.cpp), and the cases and checks (selftest_cublas_gemm.cpp,
// selftest_cublas_checks.cpp) main runs.
#pragma once
#include <dlfcn.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace selftest {

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

inline Api api;
inline void* handle = nullptr;    // cuBLAS
inline void* lt_handle = nullptr; // cuBLASLt
inline int failures = 0;

template <typename F>
bool bind(void* library, const char* name, F* target)
{
    void* symbol = dlsym(library, name);
    if (symbol == nullptr) std::fprintf(stderr, "missing export %s\n", name);
    *target = reinterpret_cast<F>(symbol);
    return symbol != nullptr;
}

inline void report(const std::string& name, bool pass, const std::string& detail = "")
{
    std::printf("%s %s%s%s\n", pass ? "PASS" : "FAIL", name.c_str(), detail.empty() ? "" : ": ", detail.c_str());
    if (!pass) failures++;
}

// ---- element types, written from the formats' definitions (selftest_cublas_reference.cpp) ---------------------------

constexpr int F32 = 0, F16 = 2, BF16 = 14;
constexpr int OpN = 0, OpT = 1;

size_t bytes_of(int type);
const char* type_name(int type);
double expected_in(int type, double exact);
double decode(const void* base, size_t index, int type);
void encode(void* base, size_t index, int type, double value);
void fill_nan(std::vector<unsigned char>& storage);
std::vector<unsigned char> random_matrix(size_t elements, int type, bool exact);

// ---- the independent reference (selftest_cublas_reference.cpp) ----------------------------------------------------------

struct Operand
{
    const void* data;
    int type;
    int trans;
    long long ld;
};

double exact_element(const Operand& a, const Operand& b, int k, double alpha, double beta, const void* c, int c_type, long long ldc,
                     const void* bias, int bias_type, long long i, long long j);
bool same(double got, double want, bool exact, int type);
std::string compare(const void* d, int type, long long ldd, int m, int n, const std::function<double(long long, long long)>& exact_value,
                    bool exact);
std::string untouched(const std::vector<unsigned char>& before, const std::vector<unsigned char>& after, int type,
                      const std::vector<bool>& written);

// ---- the GEMM cases (selftest_cublas_gemm.cpp) ---------------------------------------------------------------------------

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

void strided_case(Strided s);
void pointer_array_case(const std::string& name, int in_type, int out_type, int trans_a, int trans_b, int m, int n, int k, int lda, int ldb,
                        int ldc, int batch, float alpha, float beta);

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

int lt_case(LtCase s);
void rounding_case(int type, const std::vector<double>& values);

// ---- the other checks (selftest_cublas_checks.cpp) -----------------------------------------------------------------------

void status_checks();
void heuristic_checks();
void timing();
void capture_check(const char* driver_path);

} // namespace selftest
