using PixelLLM.Models.ModelFiles;

namespace PixelLLM.Cli;

/// <summary>The model-directory part of `pixelllm inspect DIR`: config summary and the tensors checked against the config.</summary>
internal static class ModelDirectoryInspection
{
    /// <summary>Writes the check when <paramref name="path"/> is a model directory; returns 1 when any tensor is missing, unexpected or mis-shaped.</summary>
    public static int Report(string path, bool json, TextWriter o)
    {
        if (!ModelDirectory.IsModelDirectory(path)) return 0;
        using var model = ModelDirectory.Open(path, checkTensors: false);
        var report = model.TensorReport;
        if (!json)
        {
            var c = model.Config;
            o.WriteLine($"model directory: {model.Name ?? "(unnamed config)"}, {ModelDirectoryManifest.DTypeName(model.StorageType)}, canvas {c.Canvas}, " +
                        $"EVA02 {c.Eva.Depth}×{c.Eva.EmbedDim}, SAM {c.Sam.Depth}×{c.Sam.EmbedDim}, {Language(c)}, " +
                        $"tokenizer {model.Manifest.Tokenizer} ({model.Tokenizer.VocabSize} ids)");
            var stored = ModelPrecision.StoredFloatType(model.StoredWeights);
            string At(ComputeBackend backend) => ModelPrecision.Label(ModelPrecision.Resolve(ComputePrecision.Auto, backend, stored));
            o.WriteLine($"runs at (--precision auto): cpu {At(ComputeBackend.Cpu)}, cuda {At(ComputeBackend.Cuda)} (most stored floats are {stored})");
            o.WriteLine($"check against config.json: {report.Missing.Count} missing, {report.Unexpected.Count} unexpected, {report.Misshaped.Count} mis-shaped");
            foreach (var name in report.Missing) o.WriteLine($"  missing     {name}");
            foreach (var name in report.Unexpected) o.WriteLine($"  unexpected  {name}");
            foreach (var m in report.Misshaped) o.WriteLine($"  mis-shaped  {m}");
        }
        return report.Passed ? 0 : 1;
    }

    private static string Language(Models.PixelLlmConfig c) => c.LanguageModel.Kind == Models.LanguageModelKind.T5
        ? $"T5 {c.T5.NumLayers}+{c.T5.NumDecoderLayers}×{c.T5.DModel}"
        : $"GIT decoder {c.Git.NumLayers}×{c.Git.Hidden}";
}
