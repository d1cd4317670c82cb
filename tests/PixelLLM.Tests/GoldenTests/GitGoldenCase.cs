using System.Text.Json;
using System.Text.RegularExpressions;
using PixelLLM.Models;
using PixelLLM.Models.Decoding;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Runtime.Weights;
using PixelLLM.Tests.Models;

namespace PixelLLM.Tests.GoldenTests;

/// <summary>
/// One case of <c>shared/golden/pixelllm_git</c> seen from the GIT decoder: its config, tolerances, decode settings, io
/// tensors and the model's <c>textual/</c> weights under engine names.
/// </summary>
internal sealed partial class GitGoldenCase : IDisposable
{
    public const string Component = "pixelllm_git";

    private readonly JsonDocument json;
    private readonly SafeTensorsFile io;
    private readonly SafeTensorsFile weightsFile;

    public GitGoldenCase(string caseName)
    {
        Dir = Path.Combine(Support.Golden.Root, Component);
        Name = caseName;
        json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Dir, caseName + ".json")));
        io = SafeTensorsFile.Open(Path.Combine(Dir, caseName + ".io.safetensors"));
        weightsFile = SafeTensorsFile.Open(Path.Combine(Dir, Root.GetProperty("model_weights").GetString()!));
        ScenicWeights = new SafeTensorsWeights(weightsFile);
        Weights = new ScenicGitWeights(ScenicWeights);

        var cfg = Root.GetProperty("config");
        var text = cfg.GetProperty("git_text");
        Config = new GitDecoderConfig(
            VocabSize: text.GetProperty("vocab_size").GetInt32(),
            Hidden: text.GetProperty("hidden").GetInt32(),
            NumHeads: text.GetProperty("num_heads").GetInt32(),
            NumLayers: text.GetProperty("num_layers").GetInt32(),
            PositionTable: text.GetProperty("position_table").GetInt32());
        Decode = new DecodeOptions(cfg.GetProperty("begin_token_id").GetInt32(), cfg.GetProperty("end_token_id").GetInt32(),
            cfg.GetProperty("max_caption_length").GetInt32());
        PadId = cfg.GetProperty("pad_token_id").GetInt32();
        var tol = Root.GetProperty("tolerance");
        FloatTolerance = ReadTolerance(tol.GetProperty("float_default"));
        LogitTolerance = ReadTolerance(tol.GetProperty("tf_logits_and_log_probs"));
        Beam = ParseBeam(Root.GetProperty("decode_settings").GetString()!);
    }

    public string Dir { get; }
    public string Name { get; }
    public JsonElement Root => json.RootElement;
    public IWeightSource ScenicWeights { get; }
    public IWeightSource Weights { get; }
    public GitDecoderConfig Config { get; }
    public DecodeOptions Decode { get; }
    public int PadId { get; }
    public Tolerance FloatTolerance { get; }
    public Tolerance LogitTolerance { get; }
    /// <summary>Beam settings, or null for greedy decoding.</summary>
    public BeamOptions? Beam { get; }
    public string VocabPath => Path.Combine(Dir, Root.GetProperty("tokenizer").GetString()!);
    public IEnumerable<string> IoNames => io.Names;

    public HostTensor Tensor(string name) => io.Get(name);
    public bool Has(string name) => io.Contains(name);

    /// <summary>io names <c>&lt;kind&gt;.&lt;leaf&gt;</c> or <c>&lt;kind&gt;.&lt;variant&gt;.&lt;leaf&gt;</c> (the README's optional infix).</summary>
    public IReadOnlyList<string> Variants(string kind, string leaf) =>
        [.. io.Names.Where(n => n == $"{kind}.{leaf}" || (n.StartsWith(kind + ".", StringComparison.Ordinal)
            && n.EndsWith("." + leaf, StringComparison.Ordinal) && n.Count(ch => ch == '.') == 2)).Order(StringComparer.Ordinal)];

    /// <summary>Prompt-adapter tokens as (N, K, Dv): the decoder's visual input, before <c>visual_projection</c>.</summary>
    public HostTensor VisualTokens()
    {
        var t = io.Get("mid.visual_features");
        return HostTensor.FromArray(t.ToFloatArray(), t.Shape[1], t.Shape[2], t.Shape[3]);
    }

    /// <summary>(N, Lc) context ids.</summary>
    public HostTensor ContextTokens()
    {
        var t = io.Get("in.context_tokens");
        return HostTensor.FromArray(t.AsSpan<int>().ToArray(), t.Shape[1], t.Shape[2]);
    }

    /// <summary>(N, L) ids of an out.* token tensor shaped (1, N, L).</summary>
    public HostTensor Tokens(string name)
    {
        var t = io.Get(name);
        return HostTensor.FromArray(t.AsSpan<int>().ToArray(), t.Shape[1], t.Shape[2]);
    }

    private static Tolerance ReadTolerance(JsonElement e) => new(e.GetProperty("atol").GetDouble(), e.GetProperty("rtol").GetDouble());

    private static BeamOptions? ParseBeam(string settings)
    {
        if (settings.Trim() == "greedy") return null;
        var m = BeamSettings().Match(settings);
        if (!m.Success) throw new FormatException($"unknown decode_settings '{settings}'");
        return new BeamOptions(int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value),
            float.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"^beam (\d+) / per-node (\d+) / alpha ([0-9.]+)$")]
    private static partial Regex BeamSettings();

    public void Dispose()
    {
        io.Dispose();
        weightsFile.Dispose();
        json.Dispose();
    }
}
