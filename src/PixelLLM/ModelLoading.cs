using System.Text.Json;
using PixelLLM.Models;
using PixelLLM.Models.Checkpoints;
using PixelLLM.Models.Tokenizers;
using PixelLLM.Runtime;
using PixelLLM.Models.ModelFiles;
using PixelLLM.Runtime.Weights;

namespace PixelLLM;

/// <summary>
/// What a loaded model directory provides: config, weights under engine names (f32 on read; at <see cref="ComputePrecision.BFloat16"/>
/// Linear weights also in bf16), tokenizer, and the precision the model runs at.
/// </summary>
internal sealed record LoadedModelFiles(string Path, string? Name, PixelLlmConfig Config, IWeightSource Weights, ITextTokenizer Tokenizer,
    IReadOnlyList<IDisposable> OpenFiles, WeightMemory Memory, ComputePrecision Precision);

/// <summary>
/// THE place the API opens a model directory: <see cref="ModelDirectory"/> (config.json "pixelllm-native/1", memory-mapped
/// safetensors, tokenizer) validates config, files and dtypes. Engine-named tensors (what <c>pixelllm convert</c> and
/// <c>pixelllm init</c> write) must fit the config exactly; a directory whose safetensors hold scenic names ('/'-joined Flax
/// paths, LoRA unmerged — e.g. a trainer's export) is mapped through <see cref="ScenicWeights"/> and validated against the
/// scenic checklist instead.
/// </summary>
internal static class ModelLoading
{
    /// <summary>Opens <paramref name="directory"/> for <paramref name="backend"/> at the <paramref name="requested"/> precision.</summary>
    public static LoadedModelFiles Open(string directory, ComputePrecision requested = ComputePrecision.Auto, ComputeBackend backend = ComputeBackend.Cpu)
    {
        if (!Directory.Exists(directory))
            throw new ModelFileException($"{directory}: model directory not found (expected a folder with config.json, weights and a tokenizer)");
        if (!ModelDirectory.IsModelDirectory(directory))
            throw new ModelFileException($"{directory}: not a model directory (config.json not found)");
        var model = ModelDirectory.Open(directory, checkTensors: false);
        try
        {
            var precision = ModelPrecision.Resolve(requested, backend, ModelPrecision.StoredFloatType(model.StoredWeights));
            bool bf16Linear = precision == ComputePrecision.BFloat16;
            IWeightSource weights;
            WeightMemory memory;
            if (model.Weights.Names.Any(n => n.Contains('/')))
            {
                var config = model.Config;
                var scenic = new ScenicWeights(model.Weights, ScenicWeightsOptions.For(config));
                scenic.Validate(ScenicParameterShapes.For(config));
                weights = bf16Linear ? new Float32Weights(scenic, bf16Linear: true) : scenic;
                memory = WeightMemory.OfScenic(scenic, model.StoredWeights);
            }
            else if (!model.TensorReport.Passed)
                throw new ModelFileException($"{directory}: the weights do not fit config.json's model: {model.TensorReport.Summary()}");
            else (weights, memory) = (bf16Linear ? new Float32Weights(model.StoredWeights, bf16Linear: true) : model.Weights,
                WeightMemory.OfEngineTensors(model.StoredWeights, bf16Linear));
            return new LoadedModelFiles(model.Path, model.Name, model.Config, weights, model.Tokenizer, [model], memory, precision);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
