// fake_nvrtc.cpp → libnvrtc.so: a test double for NVRTC (written from its public API's documented behaviour; no NVIDIA
// code). "Compiling" a kernel file builds it for the host with g++ into an emulated module (a shared object run by
// libpxlemu.so, see pxlemu.h and emu.h); the PTX or CUBIN it hands back is PXLEMU_IMAGE_MAGIC + the module's path, which
// the fake driver's cuModuleLoadData opens. Modules are cached by a hash of everything that went into them, under
// $PIXELLLM_EMULATOR_CACHE (default: $XDG_CACHE_HOME/pixelllm-emulator, else /tmp/pixelllm-emulator-<uid>).
//
// Build: g++ -std=c++17 -O2 -fPIC -shared -Wl,-soname,libnvrtc.so.11.2 -o libnvrtc.so fake_nvrtc.cpp -ldl
// It expects emu.h, pxlemu.h, pxlemu_module.h and libpxlemu.so in its own directory (build.sh puts them there).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <dlfcn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pxlemu.h"

namespace {

enum Status
{
    Success = 0,
    OutOfMemory = 1,
    InvalidInput = 3,
    InvalidProgram = 4,
    InvalidOption = 5,
    Compilation = 6,
    InternalError = 11,
};

struct Program
{
    std::string source, name;
    std::vector<std::pair<std::string, std::string>> headers; // include name, text
    std::string log, image;
};

std::string own_directory()
{
    Dl_info info{};
    if (dladdr((void*)&own_directory, &info) == 0 || info.dli_fname == nullptr) return ".";
    std::string path = info.dli_fname;
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

bool write_file(const std::string& path, const std::string& text)
{
    std::ofstream out(path, std::ios::binary);
    out << text;
    return (bool)out;
}

// FNV-1a, 64 bits: a cache key, not a security boundary.
unsigned long long hash(const std::string& text, unsigned long long h = 1469598103934665603ull)
{
    for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
    return h;
}

std::string cache_directory()
{
    if (const char* dir = std::getenv("PIXELLLM_EMULATOR_CACHE"); dir != nullptr && *dir != 0) return dir;
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != 0) return std::string(xdg) + "/pixelllm-emulator";
    return "/tmp/pixelllm-emulator-" + std::to_string(getuid());
}

void make_directories(const std::string& path)
{
    for (size_t at = 1; at <= path.size(); at++)
        if (at == path.size() || path[at] == '/') mkdir(path.substr(0, at).c_str(), 0755);
}

// Runs argv with stdout and stderr into `output`; returns the exit status (or -1).
int run(const std::vector<std::string>& argv, std::string& output)
{
    std::string command;
    for (const std::string& a : argv)
    {
        command += '\'';
        for (char c : a) command += c == '\'' ? std::string("'\\''") : std::string(1, c);
        command += "' ";
    }
    command += "2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return -1;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
    const int status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// `extern __shared__` arrays become thread-local ones this module defines (emu.h: a block's shared memory is its host
// thread's).
std::string rewrite(const std::string& text) { return std::regex_replace(text, std::regex(R"(extern\s+__shared__)"), "extern __thread"); }

Status compile(Program& p, const std::vector<std::string>& options)
{
    const std::string tools = own_directory();
    std::vector<std::string> defines;
    for (const std::string& o : options)
        if (o.rfind("-D", 0) == 0 || o.rfind("--define-macro=", 0) == 0)
            defines.push_back(o.rfind("-D", 0) == 0 ? o : "-D" + o.substr(15));

    // kUnitFormat: what compile() itself adds to a module; raise it when that changes, so cached modules are rebuilt.
    constexpr const char* kUnitFormat = "pxlemu unit 2";
    std::string key = std::string(kUnitFormat) + '\0' + p.name + '\0' + p.source;
    for (const auto& [name, text] : p.headers) key += '\0' + name + '\0' + text;
    for (const std::string& d : defines) key += '\0' + d;
    for (const char* file : {"emu.h", "float16_bits.h", "pxlemu.h", "pxlemu_module.h"}) key += '\0' + read_file(tools + "/" + file);
    char digest[17];
    std::snprintf(digest, sizeof digest, "%016llx", hash(key));
    const std::string cache = cache_directory();
    make_directories(cache);
    std::string stem = p.name;
    for (char& c : stem)
        if (c == '/' || c == '.') c = '_';
    const std::string module = cache + "/" + stem + "-" + digest + ".so";

    struct stat seen{};
    if (stat(module.c_str(), &seen) != 0)
    {
        char work_template[] = "/tmp/pxlemu-build-XXXXXX";
        if (mkdtemp(work_template) == nullptr) return InternalError;
        const std::string work = work_template;
        // The build folder goes however this returns.
        struct RemoveOnExit
        {
            std::string path;
            ~RemoveOnExit() { std::filesystem::remove_all(path); }
        } remove_work{work};
        for (const auto& [name, text] : p.headers)
            if (!write_file(work + "/" + name, rewrite(text))) return InternalError;
        if (!write_file(work + "/" + p.name, rewrite(p.source))) return InternalError;

        std::vector<std::string> common = {"g++", "-std=c++17", "-x", "c++", "-include", tools + "/emu.h", "-I" + tools, "-I" + work};
        common.insert(common.end(), defines.begin(), defines.end());

        // The kernels' names and the dynamic shared arrays, from a preprocessed copy in which __global__ is visible.
        std::vector<std::string> list = common;
        list.insert(list.end(), {"-E", "-P", "-DPXLEMU_LIST_KERNELS", work + "/" + p.name});
        std::string preprocessed;
        if (run(list, preprocessed) != 0)
        {
            p.log = preprocessed;
            return Compilation;
        }
        std::set<std::string> kernels;
        const std::regex entry(R"(extern\s+"C"\s+PXLEMU_GLOBAL\s+void\s+(\w+)\s*\()");
        for (auto it = std::sregex_iterator(preprocessed.begin(), preprocessed.end(), entry); it != std::sregex_iterator(); ++it)
            kernels.insert((*it)[1]);
        std::set<std::pair<std::string, std::string>> dynamic; // (type, name)
        const std::regex shared(R"(extern\s+__thread\s+(?:__attribute__\s*\(\(\s*aligned\s*\(\s*\d+\s*\)\s*\)\)\s+)?(\w+)\s+(\w+)\s*\[\s*\])");
        for (auto it = std::sregex_iterator(preprocessed.begin(), preprocessed.end(), shared); it != std::sregex_iterator(); ++it)
            dynamic.insert({(*it)[1], (*it)[2]});

        std::string unit = "#include \"" + p.name + "\"\n#include \"pxlemu_module.h\"\n";
        for (const auto& [type, name] : dynamic)
            unit += "__thread __attribute__((aligned(16))) " + type + " " + name + "[PXLEMU_DYNAMIC_SHARED_BYTES / sizeof(" + type + ")];\n";
        unit += "static const PxlemuKernel pxlemu_kernels[] = {\n";
        for (const std::string& k : kernels) unit += "    PXLEMU_KERNEL(" + k + "),\n";
        unit += "    PxlemuKernel{nullptr, 0, nullptr, nullptr, nullptr}};\n";
        unit += "extern \"C\" __attribute__((visibility(\"default\"))) int " PXLEMU_MODULE_SYMBOL "(const PxlemuKernel** kernels)\n"
                "{\n    *kernels = pxlemu_kernels;\n    return " + std::to_string(kernels.size()) + ";\n}\n";
        if (!write_file(work + "/pxlemu_unit.cpp", unit)) return InternalError;

        const std::string partial = module + "." + std::to_string(getpid()) + ".tmp";
        std::vector<std::string> build = common;
        // -fvisibility=hidden, -fno-gnu-unique: a module shares no symbol with another (their headers define the same
        // helpers, perhaps differently). -fno-strict-aliasing: kernels reinterpret vectors of bits, as CUDA allows. -ffp-contract=off: a product and a sum
        // stay two roundings unless the kernel wrote fmaf.
        build.insert(build.end(), {"-O1", "-fPIC", "-shared", "-fvisibility=hidden", "-fno-gnu-unique", "-fno-strict-aliasing", "-ffp-contract=off", "-w", "-o", partial,
                                   work + "/pxlemu_unit.cpp", "-L" + tools, "-lpxlemu", "-Wl,-rpath," + tools});
        std::string output;
        const int status = run(build, output);
        if (status != 0)
        {
            p.log = output;
            unlink(partial.c_str());
            return Compilation;
        }
        if (rename(partial.c_str(), module.c_str()) != 0) return InternalError;
    }
    p.log = "emulated module: " + module + "\n";
    p.image = std::string(PXLEMU_IMAGE_MAGIC) + module + "\n";
    p.image.push_back('\0');
    return Success;
}

const char* status_text(int status)
{
    switch (status)
    {
    case Success: return "NVRTC_SUCCESS";
    case OutOfMemory: return "NVRTC_ERROR_OUT_OF_MEMORY";
    case InvalidInput: return "NVRTC_ERROR_INVALID_INPUT";
    case InvalidProgram: return "NVRTC_ERROR_INVALID_PROGRAM";
    case InvalidOption: return "NVRTC_ERROR_INVALID_OPTION";
    case Compilation: return "NVRTC_ERROR_COMPILATION";
    default: return "NVRTC_ERROR_INTERNAL_ERROR";
    }
}

} // namespace

#define EXPORT extern "C" __attribute__((visibility("default")))

EXPORT const char* nvrtcGetErrorString(int status) { return status_text(status); }

// 11.9 is no real NVRTC, so a kernel cache entry made by this one is never taken for a real CUBIN or the other way round.
EXPORT int nvrtcVersion(int* major, int* minor)
{
    if (major == nullptr || minor == nullptr) return InvalidInput;
    *major = 11;
    *minor = 9;
    return Success;
}

EXPORT int nvrtcGetNumSupportedArchs(int* count)
{
    if (count == nullptr) return InvalidInput;
    *count = 2;
    return Success;
}

EXPORT int nvrtcGetSupportedArchs(int* archs)
{
    if (archs == nullptr) return InvalidInput;
    archs[0] = 80;
    archs[1] = 90;
    return Success;
}

EXPORT int nvrtcCreateProgram(void** program, const char* source, const char* name, int header_count, const char* const* headers,
                              const char* const* include_names)
{
    if (program == nullptr || source == nullptr || header_count < 0) return InvalidInput;
    if (header_count > 0 && (headers == nullptr || include_names == nullptr)) return InvalidInput;
    auto* p = new Program;
    p->source = source;
    p->name = name != nullptr && *name != 0 ? name : "default_program.cu";
    for (int i = 0; i < header_count; i++) p->headers.emplace_back(include_names[i], headers[i]);
    *program = p;
    return Success;
}

EXPORT int nvrtcDestroyProgram(void** program)
{
    if (program == nullptr || *program == nullptr) return InvalidProgram;
    delete static_cast<Program*>(*program);
    *program = nullptr;
    return Success;
}

EXPORT int nvrtcCompileProgram(void* program, int option_count, const char* const* options)
{
    if (program == nullptr) return InvalidProgram;
    if (option_count < 0 || (option_count > 0 && options == nullptr)) return InvalidInput;
    std::vector<std::string> list(options, options + option_count);
    return compile(*static_cast<Program*>(program), list);
}

EXPORT int nvrtcGetProgramLogSize(void* program, size_t* size)
{
    if (program == nullptr || size == nullptr) return InvalidProgram;
    *size = static_cast<Program*>(program)->log.size() + 1;
    return Success;
}

EXPORT int nvrtcGetProgramLog(void* program, char* log)
{
    if (program == nullptr || log == nullptr) return InvalidProgram;
    const std::string& text = static_cast<Program*>(program)->log;
    std::memcpy(log, text.c_str(), text.size() + 1);
    return Success;
}

static int image_size(void* program, size_t* size)
{
    if (program == nullptr || size == nullptr) return InvalidProgram;
    const Program* p = static_cast<Program*>(program);
    if (p->image.empty()) return InvalidProgram;
    *size = p->image.size();
    return Success;
}

static int image(void* program, char* out)
{
    if (program == nullptr || out == nullptr) return InvalidProgram;
    const Program* p = static_cast<Program*>(program);
    if (p->image.empty()) return InvalidProgram;
    std::memcpy(out, p->image.data(), p->image.size());
    return Success;
}

EXPORT int nvrtcGetPTXSize(void* program, size_t* size) { return image_size(program, size); }
EXPORT int nvrtcGetPTX(void* program, char* ptx) { return image(program, ptx); }
EXPORT int nvrtcGetCUBINSize(void* program, size_t* size) { return image_size(program, size); }
EXPORT int nvrtcGetCUBIN(void* program, char* cubin) { return image(program, cubin); }
