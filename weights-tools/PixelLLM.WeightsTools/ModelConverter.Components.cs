using PixelLLM.Models.ModelFiles;
using PixelLLM.Runtime;
using PixelLLM.Runtime.SafeTensors;

namespace PixelLLM.WeightsTools;

public static partial class ModelConverter
{
    /// <summary>
    /// One public backbone → a component directory: <c>model.safetensors</c> under engine names (metadata "component"),
    /// plus spiece.model for T5. Not a full model directory (no config.json); <c>assemble</c> combines components.
    /// </summary>
    private static ConvertResult ConvertComponent(ConvertRequest request)
    {
        using var source = CheckpointSource.Open(Single(request));
        var (component, plan) = request.From switch
        {
            SourceFormat.Sam => ("sam", ComponentPlans.Sam(source)),
            SourceFormat.TimmEva02 => ("eva02", ComponentPlans.TimmEva02(source)),
            SourceFormat.HfT5 => ("t5", ComponentPlans.HfT5(source)),
            _ => throw new ArgumentOutOfRangeException(nameof(request), request.From, "not a component format"),
        };
        var tokenizer = request.From == SourceFormat.HfT5 ? TokenizerFor(request, SentencePieceFile) : null;
        var storage = request.StorageType;
        var stored = plan.Tensors.Select(t => new PlannedTensor(t.Name, t.Desc.DType.IsFloat() ? t.Desc with { DType = storage } : t.Desc,
            () => ModelDirectory.ToStorage(t.Produce(), storage, t.Name))).ToList();
        var byName = plan.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        Directory.CreateDirectory(request.OutDir);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["format"] = ModelDirectoryManifest.Format, ["component"] = component };
        SafeTensorsStreamWriter.Write(Path.Combine(request.OutDir, ModelDirectoryManifest.WeightsFileName), stored, metadata, t => plan.Written(byName[t.Name]));
        if (tokenizer is not null) File.Copy(tokenizer, Path.Combine(request.OutDir, SentencePieceFile), overwrite: true);
        return new ConvertResult(request.OutDir, stored.Count, stored.Sum(t => t.Desc.ElementCount), plan.Notes);
    }
}
