#!/usr/bin/env bash
# Builds the CUDA emulator's libraries into OUT (default: .build/cuda-emulator under the repository root):
#   libpxlemu.so    the runtime: a grid's blocks on host threads, their threads as fibers (runtime.cpp)
#   libcuda.so.1    the driver API the CUDA backend binds (fake_driver.h, driver_*.cpp); PIXELLLM_EMULATOR_MEMCHECK=1
#                   guards each device allocation's end with an inaccessible page (driver_memcheck.cpp)
#   libnvrtc.so     NVRTC: builds a kernel file for the host with g++ (fake_nvrtc.cpp, emu.h)
#   libcublas.so, libcublasLt.so   the GEMMs the backend asks cuBLAS(Lt) for (fake_cublas.cpp, fake_cublaslt.cpp,
#                   gemm_reference.h)
#   libcupti.so     CUPTI's activity API for kernel records (fake_cupti.cpp): what bench --kernel-trace reads
# and prints the environment that points the backend at them. With --selftest after OUT it also builds and runs the
# libraries' own checks: the driver's (selftest_driver*.cpp on selftest_module.cpp's hand-written kernels) and the GEMMs'
# (selftest_cublas*.cpp, against their own double-precision reference) and the runtime's (selftest_runtime.cpp: small
# kernels through the fake NVRTC against kernels/prelude.cuh and mma.cuh). Needs g++ (C++17).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/../../.build/cuda-emulator}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cxx=(g++ -std=c++17 -O2 -fPIC -shared -Wall -Wextra -Werror)
cp "$here/emu.h" "$here/float16_bits.h" "$here/pxlemu.h" "$here/pxlemu_module.h" "$out/"
"${cxx[@]}" -Wl,-soname,libpxlemu.so -o "$out/libpxlemu.so" "$here/runtime.cpp" -ldl -lpthread
"${cxx[@]}" -Wl,-soname,libnvrtc.so.11.2 -o "$out/libnvrtc.so" "$here/fake_nvrtc.cpp" -ldl
"${cxx[@]}" -Wl,-soname,libcuda.so.1 -o "$out/libcuda.so.1" "$here"/driver_{device,memory,memcheck,modules,streams,graphs}.cpp -L"$out" -lpxlemu \
    -Wl,-rpath,"$out" -ldl -lpthread
"${cxx[@]}" -Wl,-soname,libcublas.so.11 -o "$out/libcublas.so" "$here/fake_cublas.cpp" -ldl
"${cxx[@]}" -Wl,-soname,libcublasLt.so.11 -o "$out/libcublasLt.so" "$here/fake_cublaslt.cpp" -ldl
"${cxx[@]}" -Wl,-soname,libcupti.so.11.8 -o "$out/libcupti.so" "$here/fake_cupti.cpp" -ldl
if [[ ${2:-} == --selftest ]]; then
    g++ -std=c++17 -O2 -fPIC -shared -Wall -Wextra -Werror -o "$out/selftest_module.so" "$here/selftest_module.cpp" -L"$out" \
        -Wl,--no-as-needed -lpxlemu -Wl,-rpath,"$out"
    g++ -std=c++17 -O2 -Wall -Wextra -Werror -o "$out/selftest_driver" "$here"/selftest_driver{,_memory,_launch,_capture,_memcheck}.cpp -ldl -lpthread
    # It checks the default device: 4 SMs, whatever PIXELLLM_EMULATOR_SMS says.
    env -u PIXELLLM_EMULATOR_SMS "$out/selftest_driver" "$out/libcuda.so.1" "$out/selftest_module.so" >&2
    g++ -std=c++17 -O2 -Wall -Wextra -Werror -o "$out/selftest_cublas" "$here"/selftest_cublas{,_reference,_gemm,_checks}.cpp -ldl
    "$out/selftest_cublas" "$out" "$out/libcuda.so.1" >&2
    g++ -std=c++17 -O2 -Wall -Wextra -Werror -o "$out/selftest_runtime" "$here/selftest_runtime.cpp" -ldl
    env -u PIXELLLM_EMULATOR_ORDER PIXELLLM_EMULATOR_CACHE="$out/modules" "$out/selftest_runtime" "$out" "$here/../../kernels" >&2
fi
cat <<ENV
PIXELLLM_CUDA_DRIVER=$out/libcuda.so.1
PIXELLLM_NVRTC=$out/libnvrtc.so
PIXELLLM_CUBLAS=$out/libcublas.so
PIXELLLM_CUBLASLT_LIB=$out/libcublasLt.so
PIXELLLM_CUPTI=$out/libcupti.so
PIXELLLM_EMULATOR_CACHE=$out/modules
ENV
