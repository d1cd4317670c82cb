using PixelLLM.Runtime;
using PixelLLM.Models.ModelFiles;

namespace PixelLLM;

/// <summary>Which <see cref="ComputePrecision"/> a model runs at, from what was asked, the backend and what its files store.</summary>
internal static class ModelPrecision
{
    /// <summary>The float type most of the stored float elements have (F32 when there are none).</summary>
    public static DType StoredFloatType(SafeTensorsSetWeights stored)
    {
        long f32 = 0, bf16 = 0, f16 = 0;
        foreach (var name in stored.Names)
        {
            var desc = stored.Describe(name);
            switch (desc.DType)
            {
                case DType.F32: f32 += desc.ElementCount; break;
                case DType.BF16: bf16 += desc.ElementCount; break;
                case DType.F16: f16 += desc.ElementCount; break;
            }
        }
        return bf16 > f32 && bf16 >= f16 ? DType.BF16 : f16 > f32 ? DType.F16 : DType.F32;
    }

    /// <summary>
    /// <see cref="ComputePrecision.Auto"/> follows the stored type where the backend has it (the CPU holds no f16 and the
    /// float64 CPU only f32); an explicit choice was validated by <see cref="PixelLlmOptions"/>.
    /// </summary>
    public static ComputePrecision Resolve(ComputePrecision requested, ComputeBackend backend, DType stored) =>
        requested != ComputePrecision.Auto ? requested : (backend, stored) switch
        {
            (ComputeBackend.Cuda or ComputeBackend.Cpu, DType.BF16) => ComputePrecision.BFloat16,
            (ComputeBackend.Cuda, DType.F16) => ComputePrecision.Float16,
            _ => ComputePrecision.Float32,
        };

    /// <summary>The CUDA backend's storage for f32-declared tensors.</summary>
    public static DType CudaStorage(ComputePrecision precision) => precision switch
    {
        ComputePrecision.BFloat16 => DType.BF16,
        ComputePrecision.Float16 => DType.F16,
        _ => DType.F32,
    };

    /// <summary>"f32", "bf16", "f16" (the command line's spelling).</summary>
    public static string Label(ComputePrecision precision) => precision switch
    {
        ComputePrecision.BFloat16 => "bf16",
        ComputePrecision.Float16 => "f16",
        ComputePrecision.Float32 => "f32",
        _ => "auto",
    };
}
