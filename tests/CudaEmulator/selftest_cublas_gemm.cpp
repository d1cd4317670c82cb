// selftest_cublas_gemm.cpp: part of the GEMM self-test (see selftest_cublas.cpp): the GEMM cases, through
// cublasGemmStridedBatchedEx, cublasGemmBatchedEx and cublasLtMatmul, and the rounding of the output.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "selftest_cublas.h"

namespace selftest {

// ---- cublasGemmStridedBatchedEx -------------------------------------------------------------------------------------

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

} // namespace selftest
