using System.Text.Json;
using PixelLLM.Models.Tokenizers;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models.ModelFiles;

/// <summary>
/// The engine's model directory: <c>config.json</c> (format tag, scenic-style model config, storage dtype, weights files,
/// tokenizer), one or more safetensors files holding every tensor under the ENGINE's names (LoRA merged, position tables
/// resized for the canvas; see <see cref="EngineParameterShapes"/>), and the tokenizer file. <see cref="Open(string)"/> maps
/// the weights (nothing is read twice or copied until used) and validates the whole directory; <see cref="Write(string,
/// ModelDirectoryManifest, IEnumerable{ValueTuple{string, HostTensor}}, string)"/> creates one atomically, streaming tensors.
/// </summary>
public sealed partial class ModelDirectory : IDisposable
{
    private readonly SafeTensorsSetWeights files;

    private ModelDirectory(string path, ModelConfigFile file, PixelLlmConfig config, JsonElement modelJson, SafeTensorsSetWeights files,
        ITextTokenizer tokenizer, TensorChecklistReport report)
    {
        Path = path; Manifest = file.Manifest; Config = config; ModelJson = modelJson; this.files = files;
        Tokenizer = tokenizer; TensorReport = report;
        WeightFiles = [.. file.WeightFiles.Select(f => System.IO.Path.Combine(path, f))];
        Weights = new Float32Weights(files);
    }

    /// <summary>The directory.</summary>
    public string Path { get; }

    /// <summary>Everything config.json says (model JSON, dtype, tokenizer kind, name).</summary>
    public ModelDirectoryManifest Manifest { get; }

    /// <summary>The named config the model came from, if config.json states one.</summary>
    public string? Name => Manifest.Name;

    /// <summary>The model, parsed from config.json's "model" object.</summary>
    public PixelLlmConfig Config { get; }

    /// <summary>config.json's "model" object (scenic-style; what <see cref="PixelLlmConfigJson.FromScenic"/> read).</summary>
    public JsonElement ModelJson { get; }

    /// <summary>dtype of the stored float tensors.</summary>
    public DType StorageType => Manifest.StorageType;

    /// <summary>Every tensor under its engine name, converted to f32 on first use (views into the mapped files until then).</summary>
    public IWeightSource Weights { get; }

    /// <summary>The stored tensors as they are (no conversion), e.g. for inspection or copying.</summary>
    public SafeTensorsSetWeights StoredWeights => files;

    /// <summary>Full paths of the weights files, in config.json's order.</summary>
    public IReadOnlyList<string> WeightFiles { get; }

    /// <summary>The directory's tokenizer.</summary>
    public ITextTokenizer Tokenizer { get; }

    /// <summary>How the stored tensors compare with what <see cref="Config"/> needs (always passed after a checked open).</summary>
    public TensorChecklistReport TensorReport { get; }

    /// <summary>Opens and fully validates <paramref name="dir"/>; any problem is a <see cref="ModelFileException"/> naming the file and field or tensor.</summary>
    public static ModelDirectory Open(string dir) => Open(dir, checkTensors: true);

    /// <summary>
    /// Opens <paramref name="dir"/>. With <paramref name="checkTensors"/> false, tensors that do not fit the config are
    /// reported in <see cref="TensorReport"/> instead of thrown (for inspection); config, files and dtypes are always checked.
    /// </summary>
    public static ModelDirectory Open(string dir, bool checkTensors)
    {
        ArgumentNullException.ThrowIfNull(dir);
        if (!Directory.Exists(dir)) throw new ModelFileException($"{dir}: model directory not found");
        var configPath = System.IO.Path.Combine(dir, ModelConfigFile.FileName);
        var file = ModelConfigFile.Read(configPath);
        var (config, modelJson) = ParseModel(configPath, file.Manifest);
        foreach (var weightsFile in file.WeightFiles.Where(f => !File.Exists(System.IO.Path.Combine(dir, f))))
            throw new ModelFileException($"{configPath}: field 'weights' names '{weightsFile}', which is not in the directory");
        var weights = new SafeTensorsSetWeights(file.WeightFiles.Select(f => System.IO.Path.Combine(dir, f)));
        try
        {
            CheckDTypes(configPath, file.Manifest.StorageType, weights);
            var report = TensorChecklist.Compare(EngineParameterShapes.For(config), weights.Names.Select(n => (n, weights.Describe(n).Shape)));
            if (checkTensors && !report.Passed)
                throw new ModelFileException($"{dir}: the weights do not fit config.json's model: {report.Summary()}");
            var tokenizer = LoadTokenizer(System.IO.Path.Combine(dir, file.TokenizerFile), file.Manifest.Tokenizer);
            if (tokenizer.VocabSize > config.LanguageModel.VocabSize)
                throw new ModelFileException($"{dir}: the tokenizer has {tokenizer.VocabSize} ids, more than the model's vocab_size {config.LanguageModel.VocabSize}");
            return new ModelDirectory(System.IO.Path.GetFullPath(dir), file, config, modelJson, weights, tokenizer, report);
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    /// <summary>True when <paramref name="path"/> is a directory with a config.json (cheap; nothing is validated).</summary>
    public static bool IsModelDirectory(string path) =>
        Directory.Exists(path) && File.Exists(System.IO.Path.Combine(path, ModelConfigFile.FileName));

    /// <summary>Parses a scenic-style model object; errors name config.json's "model" field.</summary>
    public static (PixelLlmConfig Config, JsonElement Json) ParseModel(string configPath, ModelDirectoryManifest manifest)
    {
        var json = JsonDocument.Parse(manifest.Model.ToJsonString()).RootElement.Clone();
        try
        {
            return (PixelLlmConfigJson.FromScenic(json), json);
        }
        catch (ModelFileException e)
        {
            // FromScenic's messages name the key (ConfigReader), so they are passed on as they are.
            throw new ModelFileException($"{configPath}: field 'model': {e.Message}", e);
        }
    }

    private static void CheckDTypes(string configPath, DType storage, SafeTensorsSetWeights weights)
    {
        foreach (var name in weights.Names)
        {
            var dtype = weights.Describe(name).DType;
            if (dtype.IsFloat() && dtype != storage)
                throw new ModelFileException($"{weights.FileOf(name).Path}: tensor '{name}' is {dtype.SafetensorsName()}, but {configPath} field 'dtype' says {ModelDirectoryManifest.DTypeName(storage)}");
        }
    }

    private static ITextTokenizer LoadTokenizer(string path, TokenizerKind kind)
    {
        if (!File.Exists(path)) throw new ModelFileException($"{path}: tokenizer file not found");
        return kind == TokenizerKind.SentencePiece ? T5SentencePieceTokenizer.Load(path) : BertWordPieceTokenizer.Load(path);
    }

    /// <summary>Unmaps the weights files; <see cref="Weights"/> must not be used afterwards.</summary>
    public void Dispose() => files.Dispose();
}
