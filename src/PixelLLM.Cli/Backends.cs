using PixelLLM.Backends.Cpu;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.Cli;

/// <summary>Backend selection by name for every command's --backend option.</summary>
internal static class Backends
{
    public static IBackend Create(string name) => name switch
    {
        "cpu" => new CpuBackend(),
        "cuda" => PixelLLM.Backends.Cuda.CudaBackend.Create(),
        _ => throw new InvalidInputException($"--backend: unknown backend '{name}' (expected cpu or cuda)"),
    };
}
