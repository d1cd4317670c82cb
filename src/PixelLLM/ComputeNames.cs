using PixelLLM.Runtime;

namespace PixelLLM;

/// <summary>The names the CLI and the C library give backends and precisions (what <c>info</c> and answers print).</summary>
internal static class ComputeNames
{
    /// <param name="name">cpu, cpu-f64 or cuda.</param>
    /// <param name="field">what the name was given as (<c>--backend</c>, <c>options.backend</c>), for the error line.</param>
    public static ComputeBackend Backend(string name, string field) => name switch
    {
        "cpu" => ComputeBackend.Cpu,
        "cpu-f64" => ComputeBackend.CpuFloat64,
        "cuda" => ComputeBackend.Cuda,
        _ => throw new InvalidInputException($"{field}: unknown backend '{name}' (expected cpu, cpu-f64 or cuda)"),
    };

    /// <param name="name">auto, f32, bf16 or f16.</param>
    /// <param name="field">what the name was given as (<c>--precision</c>, <c>options.precision</c>), for the error line.</param>
    public static ComputePrecision Precision(string name, string field) => name switch
    {
        "auto" => ComputePrecision.Auto,
        "f32" => ComputePrecision.Float32,
        "bf16" => ComputePrecision.BFloat16,
        "f16" => ComputePrecision.Float16,
        _ => throw new InvalidInputException($"{field}: unknown precision '{name}' (expected auto, f32, bf16 or f16)"),
    };
}
