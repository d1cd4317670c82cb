using PixelLLM.Backends.Cpu;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.Cli;

/// <summary>Backend selection by name for every command's --backend option.</summary>
internal static class Backends
{
    /// <param name="name">cpu, cpu-f64 (float64-accumulated GEMMs) or cuda.</param>
    /// <param name="cudaFloatStorage">how the CUDA backend stores f32-declared tensors (activations too); the CPU backend is fp32 always.</param>
    public static IBackend Create(string name, DType cudaFloatStorage = DType.F32) => name switch
    {
        "cpu" => new CpuBackend(),
        "cpu-f64" => new CpuBackend(accumulation: CpuAccumulation.Float64),
        "cuda" => PixelLLM.Backends.Cuda.CudaBackend.Create(cudaFloatStorage),
        _ => throw new InvalidInputException($"--backend: unknown backend '{name}' (expected cpu, cpu-f64 or cuda)"),
    };
}
