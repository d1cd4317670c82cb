using PixelLLM.Models.Checkpoints;
using PixelLLM.Models.ModelFiles;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;

namespace PixelLLM;

/// <summary>
/// What a model's weights take in host memory once every tensor has been read, counted from the headers only (nothing is
/// read to know it). Two kinds of bytes, because they behave differently:
/// <list type="bullet">
/// <item><see cref="MappedBytes"/>: tensors used in place from the memory-mapped files (stored f32, integer tables). They are
/// file pages: the kernel can drop and re-read them, but a model that runs needs them resident.</item>
/// <item><see cref="MaterialisedBytes"/>: f32 copies the engine makes and keeps — stored bf16/f16 tensors widened to f32 (twice
/// the file's bytes), and every tensor of a scenic-named directory (re-laid out, LoRA merged).</item>
/// </list>
/// </summary>
internal sealed record WeightMemory(long MappedBytes, long MaterialisedBytes)
{
    /// <summary>
    /// An engine-named directory: f32 and integer tensors are mapped; bf16/f16 are widened by <c>Float32Weights</c>. With
    /// <paramref name="bf16Linear"/> the matrices are read by Linear in bf16: a bf16 one in place from its file, an f32/f16
    /// one as a bf16 copy (half its f32 bytes).
    /// </summary>
    public static WeightMemory OfEngineTensors(SafeTensorsSetWeights stored, bool bf16Linear = false)
    {
        long mapped = 0, materialised = 0;
        foreach (var name in stored.Names)
        {
            var desc = stored.Describe(name);
            if (bf16Linear && desc.DType.IsFloat() && desc.Shape.Rank == 2)
            {
                if (desc.DType == DType.BF16) mapped += desc.ByteSize;
                else materialised += desc.ElementCount * sizeof(ushort);
            }
            else if (desc.DType is DType.BF16 or DType.F16) materialised += desc.ElementCount * sizeof(float);
            else mapped += desc.ByteSize;
        }
        return new WeightMemory(mapped, materialised);
    }

    /// <summary>A scenic-named directory: every mapped engine tensor is an f32 copy of its (first) scenic source's size.</summary>
    public static WeightMemory OfScenic(ScenicWeights scenic, SafeTensorsSetWeights stored) =>
        new(0, scenic.Mappings.Sum(m => stored.Describe(m.Sources[0]).ElementCount * sizeof(float)));

    /// <summary>
    /// Bytes that must fit in available host memory: on the CPU every weight stays in use; a GPU backend uploads the weights,
    /// so only the materialised host copies stay (the mapped pages are read once and can be dropped).
    /// </summary>
    public long RequiredBytes(ComputeBackend backend) => backend is ComputeBackend.Cpu or ComputeBackend.CpuFloat64 ? MappedBytes + MaterialisedBytes : MaterialisedBytes;

    /// <summary>"1.2 GiB mapped f32 used in place + 0.3 GiB materialised f32 copies".</summary>
    public string Describe() =>
        $"{AllocationBudget.Bytes(MappedBytes)} of tensors used in place from the mapped files + {AllocationBudget.Bytes(MaterialisedBytes)} of copies (bf16/f16 widened, scenic layouts, bf16 Linear weights)";
}

/// <summary>Refuses a model whose weights do not fit the memory the process has, before anything is read.</summary>
internal static class ModelMemoryCheck
{
    public static void Check(string directory, WeightMemory weights, PixelLlmOptions options)
    {
        var available = options.AvailableMemoryBytes is long bytes
            ? new MemoryAvailability(bytes, $"PixelLlmOptions.AvailableMemoryBytes {AllocationBudget.Bytes(bytes)}")
            : AvailableMemory.Resolve();
        if (available is null) return; // no way to know on this platform
        long required = weights.RequiredBytes(options.Backend);
        if (required <= available.Bytes) return;
        throw new ResourceLimitException(
            $"{directory}: the weights need {AllocationBudget.Bytes(required)} of host memory ({weights.Describe()}), " +
            $"more than the {AllocationBudget.Bytes(available.Bytes)} available ({available.Source}); free memory, or override with " +
            $"PixelLlmOptions.AvailableMemoryBytes or {AvailableMemory.EnvironmentVariable} (e.g. 64G, or 'unlimited')", "available memory");
    }
}
