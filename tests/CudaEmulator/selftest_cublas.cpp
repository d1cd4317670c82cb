// selftest_cublas.cpp: checks the CUDA emulator's fake cuBLAS and cuBLASLt (libcublas.so from fake_cublas.cpp,
// libcublasLt.so from fake_cublaslt.cpp) against a naive double-precision GEMM written here, independently of
// gemm_reference.h. It dlopens the two libraries the way the backend does (by path, C symbols), runs GEMMs over the
// shapes and options the backend uses, and prints one PASS or FAIL line per check; the exit status is the number of
// failures (capped at 100). Test code, not NVIDIA code. main and the loading are here; the rest is in
// selftest_cublas_{reference,gemm,checks}.cpp, and selftest_cublas.h has what they share.
//
// Expected values: operands are chosen so that every product and sum is exact in double (multiples of 1/16 in [-4, 4])
// wherever the output is 16-bit, so the expected output (the exact result rounded to float, then to the output type,
// to nearest even) must match bit for bit; f32 cases with arbitrary floats allow one float ulp.
//
// With a second argument, the emulator's fake driver (libcuda.so.1 from fake_driver.h and driver_*.cpp), it last checks
// that a GEMM issued while a stream is being captured lands in the CUDA graph: not run at the call, run at every graph
// launch.
//
// Build and run (libraries built into /tmp/fakecublas as their files' headers say):
//   g++ -std=c++17 -O2 -Wall -Wextra -o /tmp/fakecublas/selftest_cublas selftest_cublas.cpp selftest_cublas_reference.cpp
//       selftest_cublas_gemm.cpp selftest_cublas_checks.cpp -ldl
//   /tmp/fakecublas/selftest_cublas /tmp/fakecublas [<dir>/libcuda.so.1]
#include <dlfcn.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "selftest_cublas.h"

using namespace selftest;

namespace {

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
