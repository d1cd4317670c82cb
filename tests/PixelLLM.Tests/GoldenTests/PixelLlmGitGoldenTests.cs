using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Checkpoints;
using PixelLLM.Models.Tokenizers;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;
using Xunit.Abstractions;

namespace PixelLLM.Tests.GoldenTests;

/// <summary>
/// The whole PixelLLM with the BERT/GIT language model against the <c>pixelllm_git</c> goldens, through the same path as
/// `pixelllm verify` (every out.* and mid.* within the case's tolerances, ids and masks exact), with both decoding engines,
/// from both weight files, and with the config's special ids checked against the golden vocab.txt.
/// </summary>
public class PixelLlmGitGoldenTests(ITestOutputHelper log)
{
    private const string Component = "pixelllm_git";
    private static string Dir => Path.Combine(Golden.Root, Component);

    public static TheoryData<string> Cases => new() { "caption_trace", "loca_caption" };

    public static TheoryData<string, DecodeEngine> EngineCases()
    {
        var data = new TheoryData<string, DecodeEngine>();
        foreach (var c in new[] { "caption_trace", "loca_caption" })
            foreach (var e in Enum.GetValues<DecodeEngine>()) data.Add(c, e);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesScenicEndToEnd(string caseName)
    {
        var report = GoldenCaseAssert.Passes(Component, caseName);
        foreach (var c in report.Checks) log.WriteLine($"{c.Name} {c.Shape}: max abs {c.MaxAbsError:E2}, err/tol {c.WorstRatio:F3} {c.Note}");
        foreach (var expected in new[] { "text_tokens", "point_coords", "point_detection_boxes", "tf_logits", "text_feats", "mid.memory", "memory_valid_mask", "git_tokens" })
            Assert.Contains(report.Checks, c => c.Name.EndsWith(expected, StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(EngineCases))]
    public void BothDecodeEnginesReproduceTheGoldenTokens(string caseName, DecodeEngine engine)
    {
        using var golden = GoldenCase.Open(Path.Combine(Dir, caseName));
        using var backend = new CpuBackend();
        using var model = PixelLlm.FromScenic(PixelLlmConfigJson.FromScenic(golden.Config), golden.Weights, backend);
        Assert.Equal(LanguageModelKind.Git, model.Config.LanguageModel.Kind);
        Assert.Equal(DecodeEngine.KvCache, model.DefaultDecodeEngine);
        var encoding = model.EncodePrompts(golden.Input("mid.fused_features"), Boxes(golden), Rows(golden.Input("in.context_tokens")));
        var setting = golden.Json.RootElement.GetProperty("decode_settings").GetString()!;
        var decoded = model.Decode(encoding, PixelLlmRunner.ParseMode(setting), engine);
        var expected = golden.Input("out.raw_text_tokens").AsSpan<int>().ToArray();
        Assert.Equal(expected, decoded.Raw.SelectMany(r => r).ToArray());
        var scores = GoldenComparison.CompareOne("out.log_probs", golden.Input("out.log_probs"),
            HostTensor.FromArray(decoded.LogProbs, golden.Input("out.log_probs").Shape.ToArray()), new Tolerance(2e-4, 1e-4));
        Assert.True(scores.Passed, $"log_probs max|err| {scores.MaxAbsError:E2}");
    }

    [Theory]
    [InlineData("tiny_git.weights.safetensors")]
    [InlineData("tiny_git.scenic.msgpack")]
    public void LoadsFromAConfigAndAScenicWeightsFile(string weightsFile)
    {
        using var backend = new CpuBackend();
        using var model = PixelLlm.Load(Path.Combine(Dir, "loca_caption.json"), Path.Combine(Dir, weightsFile), backend);
        using var golden = GoldenCase.Open(Path.Combine(Dir, "loca_caption"));
        var trace = new Dictionary<string, HostTensor>();
        model.EncodePrompts(golden.Input("mid.fused_features"), Boxes(golden), Rows(golden.Input("in.context_tokens")), trace);
        foreach (var name in new[] { "mid.memory", "mid.visual_features", "mid.memory_valid_mask" })
        {
            var check = GoldenComparison.CompareOne(name, golden.Input(name), Reshaped(trace[name], golden.Input(name)), Tolerance.Default);
            Assert.True(check.Passed, $"{name}: max|err| {check.MaxAbsError:E2} {check.Note}");
        }
    }

    [Fact]
    public void ScenicWeightsMapEveryGitParameter()
    {
        using var golden = GoldenCase.Open(Path.Combine(Dir, "caption_trace"));
        var config = PixelLlmConfigJson.FromScenic(golden.Config);
        var weights = new ScenicWeights(golden.Weights, new ScenicWeightsOptions(1f));
        Assert.Empty(weights.Unmapped);
        var expected = ScenicParameterShapes.For(config);
        Assert.Equal(golden.Weights.Names.Order(StringComparer.Ordinal), expected.Keys.Order(StringComparer.Ordinal));
        weights.Validate(expected);
        Assert.Equal(ScenicGitNames.EngineNames(config.Git.NumLayers).Order(StringComparer.Ordinal),
            weights.Names.Where(n => n.StartsWith("git.", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        // Dense kernels arrive transposed to (out, in): the projection takes the adapter's 40 channels to 32.
        Assert.Equal([32, 40], weights.Get("git.visual_projection.weight").Shape.ToArray());
    }

    [Fact]
    public void SpecialIdsOfTheConfigAgreeWithTheVocabulary()
    {
        using var golden = GoldenCase.Open(Path.Combine(Dir, "caption_trace"));
        var config = PixelLlmConfigJson.FromScenic(golden.Config);
        var vocabPath = Path.Combine(Dir, "vocab.txt");
        var tokenizer = BertWordPieceTokenizer.Load(vocabPath);
        var vocab = File.ReadAllLines(vocabPath);
        config.CheckTokenizer(tokenizer, vocabPath);
        Assert.Equal(("[CLS]", "[SEP]", "[PAD]", "[UNK]"),
            (vocab[config.BeginTokenId], vocab[config.EndTokenId], vocab[config.PadTokenId], vocab[config.UnkTokenId!.Value]));
        Assert.NotEmpty(config.SpecialNonEosIds);
        foreach (var id in config.SpecialNonEosIds) Assert.Matches(@"^\[[A-Z]+\]$", vocab[id]);
        var e = Assert.Throws<ModelFileException>(() => (config with { EndTokenId = config.EndTokenId + 1 }).CheckTokenizer(tokenizer, vocabPath));
        Assert.Contains("end_token_id", e.Message);
        Assert.Throws<ModelFileException>(() => (config with { UnkTokenId = 7 }).CheckTokenizer(tokenizer, vocabPath));

        // The T5 set: spiece.model against tiny_t5's (defaulted) ids.
        using var t5Golden = ScenicGolden.Open("caption_trace");
        var t5Path = Path.Combine(Golden.Root, ScenicGolden.Component, "spiece.model");
        PixelLlmConfigJson.FromScenic(t5Golden.Config).CheckTokenizer(T5SentencePieceTokenizer.Load(t5Path), t5Path);
    }

    private static HostTensor Boxes(GoldenCase golden)
    {
        var boxes = golden.Input("in.prompt_boxes");
        return HostTensor.FromArray(boxes.ToFloatArray(), boxes.Shape[-2], 4);
    }

    private static int[][] Rows(HostTensor t)
    {
        int length = t.Shape[-1];
        var v = t.AsSpan<int>().ToArray();
        return Enumerable.Range(0, v.Length / length).Select(r => v[(r * length)..((r + 1) * length)]).ToArray();
    }

    private static HostTensor Reshaped(HostTensor ours, HostTensor reference) =>
        new(new TensorDesc(ours.DType, reference.Shape), ours.Data);
}
