// driver_modules.cpp: part of the fake CUDA driver, libcuda.so.1 (see fake_driver.h): loading emulated modules (what
// the fake NVRTC built, dlopened), their functions and attributes, and kernel and host-function launches.
#include <algorithm>
#include <cstdlib>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>

#include <dlfcn.h>

#include "fake_driver.h"

namespace fake_driver {
namespace {

// ---- launches ------------------------------------------------------------------------------------------------------------

CUresult launch(CUfunction f, const unsigned grid[3], const unsigned block[3], unsigned shared, CUstream s, void** params)
{
    CHECK(ready_with_context());
    const PxlemuKernel* kernel = reinterpret_cast<const PxlemuKernel*>(f);
    const char* name = "?";
    Op op;
    {
        Driver& d = driver();
        std::lock_guard<std::mutex> hold(d.lock);
        auto fn = d.functions.find(kernel);
        if (fn == d.functions.end()) return CUDA_ERROR_INVALID_HANDLE;
        name = kernel->name;
        bool fits = (unsigned long long)block[0] * block[1] * block[2] <= kMaxThreadsPerBlock;
        for (int i = 0; i < 3; i++)
            fits = fits && grid[i] >= 1 && grid[i] <= kMaxGridDim[i] && block[i] >= 1 && block[i] <= kMaxBlockDim[i];
        if (!fits)
        {
            complain("launch of %s: grid (%u,%u,%u) of blocks (%u,%u,%u) is out of the device's limits", name, grid[0], grid[1], grid[2],
                     block[0], block[1], block[2]);
            return CUDA_ERROR_INVALID_VALUE;
        }
        if (shared > (unsigned)fn->second.max_dynamic_shared)
        {
            complain("launch of %s: %u bytes of dynamic shared memory, but the kernel allows %d (cuFuncSetAttribute "
                     "MAX_DYNAMIC_SHARED_SIZE_BYTES raises it up to %d)",
                     name, shared, fn->second.max_dynamic_shared, kMaxSharedPerBlockOptIn);
            return CUDA_ERROR_INVALID_VALUE;
        }
        if (kernel->arg_count > 0 && params == nullptr) return CUDA_ERROR_INVALID_VALUE;
        Route route;
        CHECK(route_locked(s, &route));
        if (route == Route::Record)
        {
            // The caller reuses its argument buffers: keep the values themselves.
            op.kind = Op::Kind::Kernel;
            op.kernel = kernel;
            std::copy(grid, grid + 3, op.grid);
            std::copy(block, block + 3, op.block);
            op.shared = shared;
            size_t total = 0;
            for (int i = 0; i < kernel->arg_count; i++)
            {
                total = (total + alignof(std::max_align_t) - 1) / alignof(std::max_align_t) * alignof(std::max_align_t);
                op.offsets.push_back(total);
                total += kernel->arg_sizes[i];
            }
            op.values.resize(total);
            for (int i = 0; i < kernel->arg_count; i++)
                std::memcpy((char*)op.values.data() + op.offsets[i], params[i], kernel->arg_sizes[i]);
            record_locked(s, std::move(op));
            return CUDA_SUCCESS;
        }
    }
    return run_grid(kernel, params, grid, block, shared);
}

} // namespace
} // namespace fake_driver

using namespace fake_driver;

// ==== the exported API =================================================================================================
extern "C" {

// ---- modules -----------------------------------------------------------------------------------------------------------

CUresult cuModuleLoadData(CUmodule* module, const void* image)
{
    CHECK(ready_with_context());
    if (module == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
    const char* text = static_cast<const char*>(image);
    const size_t magic = std::strlen(PXLEMU_IMAGE_MAGIC);
    if (std::strncmp(text, PXLEMU_IMAGE_MAGIC, magic) != 0)
    {
        complain("cuModuleLoadData: the image does not start with \"%s\" (not an emulated module)", PXLEMU_IMAGE_MAGIC);
        return CUDA_ERROR_INVALID_IMAGE;
    }
    const char* path = text + magic;
    size_t length = 0;
    while (length < 4096 && path[length] != '\n' && path[length] != '\0') length++;
    if (path[0] != '/' || length >= 4096 || path[length] != '\n')
    {
        complain("cuModuleLoadData: the image does not name a module by absolute path and a newline");
        return CUDA_ERROR_INVALID_IMAGE;
    }
    const std::string file(path, length);
    void* library = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr)
    {
        const char* why = dlerror();
        complain("cuModuleLoadData: cannot load %s: %s", file.c_str(), why != nullptr ? why : "?");
        return CUDA_ERROR_INVALID_IMAGE;
    }
    const PxlemuKernel* kernels = nullptr;
    auto list = reinterpret_cast<PxlemuModuleKernelsFn>(dlsym(library, PXLEMU_MODULE_SYMBOL));
    const int count = list != nullptr ? list(&kernels) : -1;
    bool valid = count >= 0 && (count == 0 || kernels != nullptr);
    for (int i = 0; valid && i < count; i++)
    {
        const PxlemuKernel& k = kernels[i];
        valid = k.name != nullptr && k.invoke != nullptr && k.arg_count >= 0 && (k.arg_count == 0 || k.arg_sizes != nullptr);
    }
    if (!valid)
    {
        complain("cuModuleLoadData: %s has no valid %s table", file.c_str(), PXLEMU_MODULE_SYMBOL);
        dlclose(library);
        return CUDA_ERROR_INVALID_IMAGE;
    }
    CUmodule m = new CUmod_st{library, file, kernels, count};
    Driver& d = driver();
    std::lock_guard<std::mutex> hold(d.lock);
    d.modules.insert(m);
    for (int i = 0; i < count; i++) d.functions[&kernels[i]].modules++;
    *module = m;
    return CUDA_SUCCESS;
}

CUresult cuModuleUnload(CUmodule module)
{
    CHECK(ready_with_context());
    Driver& d = driver();
    {
        std::lock_guard<std::mutex> hold(d.lock);
        if (d.modules.erase(module) == 0) return CUDA_ERROR_INVALID_HANDLE;
        for (int i = 0; i < module->count; i++)
        {
            auto fn = d.functions.find(&module->kernels[i]);
            if (fn != d.functions.end() && --fn->second.modules == 0) d.functions.erase(fn);
        }
    }
    dlclose(module->library);
    delete module;
    return CUDA_SUCCESS;
}

CUresult cuModuleGetFunction(CUfunction* function, CUmodule module, const char* name)
{
    CHECK(ready_with_context());
    if (function == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
    // Fault injection for the tests of what handles a broken path (tune): kernels whose name holds this are not found.
    if (const char* missing = std::getenv("PIXELLLM_EMULATOR_MISSING_KERNEL"); missing != nullptr && *missing != 0 && std::strstr(name, missing) != nullptr)
        return CUDA_ERROR_NOT_FOUND;
    std::lock_guard<std::mutex> hold(driver().lock);
    if (driver().modules.count(module) == 0) return CUDA_ERROR_INVALID_HANDLE;
    for (int i = 0; i < module->count; i++)
    {
        if (std::strcmp(module->kernels[i].name, name) == 0)
        {
            *function = reinterpret_cast<CUfunction>(const_cast<PxlemuKernel*>(&module->kernels[i]));
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_NOT_FOUND;
}

// MAX_DYNAMIC_SHARED_SIZE_BYTES is kept (launches are checked against it); the carveout is range-checked; the rest is
// accepted and ignored.
CUresult cuFuncSetAttribute(CUfunction function, int attribute, int value)
{
    CHECK(ready_with_context());
    Driver& d = driver();
    std::lock_guard<std::mutex> hold(d.lock);
    auto fn = d.functions.find(reinterpret_cast<const PxlemuKernel*>(function));
    if (fn == d.functions.end()) return CUDA_ERROR_INVALID_HANDLE;
    if (attribute == kFuncAttributeMaxDynamicShared)
    {
        if (value < 0 || value > kMaxSharedPerBlockOptIn) return CUDA_ERROR_INVALID_VALUE;
        fn->second.max_dynamic_shared = std::max(value, kDefaultSharedPerBlock);
    }
    else if (attribute == kFuncAttributeCarveout && (value < -1 || value > 100))
        return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
}

// ---- launches ------------------------------------------------------------------------------------------------------------

CUresult cuLaunchKernel(CUfunction function, unsigned gridDimX, unsigned gridDimY, unsigned gridDimZ, unsigned blockDimX,
                        unsigned blockDimY, unsigned blockDimZ, unsigned sharedMemBytes, CUstream stream, void** kernelParams,
                        void** extra)
{
    if (extra != nullptr)
    {
        complain("cuLaunchKernel: the emulator takes parameters through kernelParams only (extra must be null)");
        return CUDA_ERROR_INVALID_VALUE;
    }
    const unsigned grid[3] = {gridDimX, gridDimY, gridDimZ}, block[3] = {blockDimX, blockDimY, blockDimZ};
    return launch(function, grid, block, sharedMemBytes, stream, kernelParams);
}

CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction function, void** kernelParams, void** extra)
{
    if (config == nullptr || (config->numAttrs > 0 && config->attrs == nullptr)) return CUDA_ERROR_INVALID_VALUE;
    if (extra != nullptr)
    {
        complain("cuLaunchKernelEx: the emulator takes parameters through kernelParams only (extra must be null)");
        return CUDA_ERROR_INVALID_VALUE;
    }
    const unsigned grid[3] = {config->gridDimX, config->gridDimY, config->gridDimZ};
    const unsigned block[3] = {config->blockDimX, config->blockDimY, config->blockDimZ};
    return launch(function, grid, block, config->sharedMemBytes, config->hStream, kernelParams);
}

CUresult cuLaunchHostFunc(CUstream stream, CUhostFn fn, void* userData)
{
    CHECK(ready_with_context());
    if (fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Op op;
    op.kind = Op::Kind::HostFunc;
    op.host_fn = fn;
    op.user = userData;
    return submit(stream, std::move(op));
}

} // extern "C"
