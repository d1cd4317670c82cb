using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Execution;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Models;

/// <summary>
/// Each PixelLLM stage fed with the golden's own intermediate inputs, so a regression is localised to one stage:
/// image → (git, sam, fused); fused + prompts → (sparse tokens, adapter, projection, encoder); encoder output → decoding;
/// decoded tokens → teacher-forced pass; text features → points and boxes. Tolerances are the case's own rules.
/// </summary>
public sealed class PixelLlmStageTests : IDisposable
{
    private readonly CpuBackend backend = new();

    public static TheoryData<string> Cases => new(ScenicGolden.Cases);

    [Theory]
    [MemberData(nameof(Cases))]
    public void ImageStage(string caseName)
    {
        using var golden = ScenicGolden.Open(caseName);
        using var model = Model(golden);
        var trace = new Dictionary<string, HostTensor>();
        var image = model.EncodeImage(golden.Input("in.image"), trace);
        Assert.Equal(golden.Input("in.image").Shape[0], image.Height);
        AssertMatches(golden, trace, "mid.git_tokens", "mid.git_visual_features", "mid.sam_visual_features", "mid.fused_features", "mid.image_shape");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PromptStageFromGoldenFusedFeatures(string caseName)
    {
        using var golden = ScenicGolden.Open(caseName);
        using var model = Model(golden);
        var trace = new Dictionary<string, HostTensor>();
        model.EncodePrompts(golden.Input("mid.fused_features"), Boxes(golden), Rows(golden.Input("in.context_tokens")), trace);
        AssertMatches(golden, trace, "mid.sparse_prompt_embeddings", "mid.dense_pe", "mid.box_valid_mask", "mid.adapter_out",
            "mid.visual_features", "mid.encoder_output", "mid.encoder_valid_mask");
    }

    public static TheoryData<string, DecodeEngine> DecodeCases()
    {
        var data = new TheoryData<string, DecodeEngine>();
        foreach (var c in ScenicGolden.Cases)
            foreach (var e in Enum.GetValues<DecodeEngine>()) data.Add(c, e);
        return data;
    }

    [Theory]
    [MemberData(nameof(DecodeCases))]
    public void DecodeStageFromGoldenEncoderOutput(string caseName, DecodeEngine engine)
    {
        using var golden = ScenicGolden.Open(caseName);
        using var model = Model(golden);
        var encoding = GoldenEncoding(golden);
        int decoded = 0;
        foreach (var (prefix, setting) in Variants(golden))
        {
            if (setting.StartsWith("teacher", StringComparison.Ordinal)) continue;
            var result = model.Decode(encoding, PixelLlmRunner.ParseMode(setting), engine);
            int n = encoding.Prompts, l = model.Config.MaxCaptionLength;
            var ours = new Dictionary<string, HostTensor>
            {
                [$"out.{prefix}raw_text_tokens"] = HostTensor.FromArray(result.Raw.SelectMany(r => r).ToArray(), 1, n, l),
                [$"out.{prefix}log_probs"] = HostTensor.FromArray(result.LogProbs, 1, n),
                [$"out.{prefix}beam_text_tokens"] = HostTensor.FromArray(result.Beams.SelectMany(b => b.SelectMany(s => s)).ToArray(), 1, n, result.Beams[0].Length, l),
                [$"out.{prefix}beam_log_probs"] = HostTensor.FromArray(result.BeamScores.SelectMany(s => s).ToArray(), 1, n, result.BeamScores[0].Length),
            };
            if (result.GreedyMargins is { } m) ours[$"out.{prefix}greedy_margin"] = HostTensor.FromArray(m.SelectMany(r => r).ToArray(), n, m[0].Length);
            if (result.BeamFinished is { } f)
                ours[$"out.{prefix}beam_finished_flags"] = HostTensor.FromArray(f.SelectMany(r => r.Select(v => (byte)(v ? 1 : 0))).ToArray(), 1, n, f[0].Length);
            AssertMatches(golden, ours, [.. ours.Keys]);
            decoded++;
        }
        Assert.True(decoded > 0);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TeacherForcedStageFromGoldenTokens(string caseName)
    {
        using var golden = ScenicGolden.Open(caseName);
        using var model = Model(golden);
        var encoding = GoldenEncoding(golden);
        foreach (var (prefix, _) in Variants(golden))
        {
            var raw = Rows(golden.Input($"out.{prefix}raw_text_tokens"));
            var tokens = raw.Select(r => PixelLlmTokens.ZeroAfterFirstEos(r, model.Config.EndTokenId)).ToArray();
            Assert.Equal(Rows(golden.Input($"out.{prefix}text_tokens")), tokens);
            var text = model.TeacherForced(encoding, tokens);
            AssertMatches(golden, new Dictionary<string, HostTensor> { [$"mid.{prefix}text_feats"] = text.Features, [$"mid.{prefix}tf_logits"] = text.Logits! },
                $"mid.{prefix}text_feats", $"mid.{prefix}tf_logits");
            // What a caption request runs: the same features, the logits left on the device.
            var featuresOnly = model.TeacherForced(encoding, tokens, withLogits: false);
            Assert.Null(featuresOnly.Logits);
            Assert.Equal(text.Features.ToFloatArray(), featuresOnly.Features.ToFloatArray());
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PointStageFromGoldenTextFeatures(string caseName)
    {
        using var golden = ScenicGolden.Open(caseName);
        using var model = Model(golden);
        var shape = golden.Input("mid.image_shape").ToFloatArray();
        var validity = golden.Json.RootElement.GetProperty("task").GetString() == "referring" ? TokenValidity.Referring : TokenValidity.Trace;
        foreach (var (prefix, _) in Variants(golden))
        {
            var feats = golden.Input($"mid.{prefix}text_feats");
            int n = feats.Shape[1], l = feats.Shape[2];
            var points = model.Points(HostTensor.FromArray(feats.ToFloatArray(), n, l, feats.Shape[3]), Rows(golden.Input($"out.{prefix}text_tokens")),
                (int)shape[0], (int)shape[1], validity);
            AssertMatches(golden, new Dictionary<string, HostTensor>
            {
                [$"out.{prefix}point_coords"] = points.Coords,
                [$"out.{prefix}point_logits"] = points.Logits,
                [$"out.{prefix}point_valid_mask"] = HostTensor.FromArray(points.Valid.SelectMany(v => v.Select(b => (byte)(b ? 1 : 0))).ToArray(), n, l),
                [$"out.{prefix}point_detection_boxes"] = HostTensor.FromArray(points.Boxes.SelectMany(b => b).ToArray(), n, 4),
            }, $"out.{prefix}point_coords", $"out.{prefix}point_logits", $"out.{prefix}point_valid_mask", $"out.{prefix}point_detection_boxes");
        }
    }

    /// <summary>Fusion against an independent evaluation with the golden's JAX-bicubic matrices: out[j] = Σ_i in[i]·W[i, j] per axis.</summary>
    [Fact]
    public void FusionResizesSamWithTheJaxBicubicMatrices()
    {
        using var aux = Golden.Open(ScenicGolden.Component, "tiny_t5.aux.safetensors");
        var wh = aux.Get("aux.fusion_resize_h");
        var ww = aux.Get("aux.fusion_resize_w");
        int s = wh.Shape[0], gsz = wh.Shape[1], ce = 3, cs = 5;
        var rng = new Random(11);
        var eva = OpHarness.Random(rng, [1, gsz, gsz, ce]);
        var sam = OpHarness.Random(rng, [1, s, s, cs]);
        var g = new Graph();
        g.Output("fused", FeatureFusion.Build(g, g.Input("eva", DType.F32, 1, gsz, gsz, ce), g.Input("sam", DType.F32, 1, s, s, cs)));
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput("eva", eva);
        exec.SetInput("sam", sam);
        exec.Run();
        var fused = exec.FetchFloats("fused");

        var h = wh.ToFloatArray();
        var w = ww.ToFloatArray();
        var e = eva.ToFloatArray();
        var x = sam.ToFloatArray();
        for (int i = 0; i < gsz; i++)
            for (int j = 0; j < gsz; j++)
            {
                for (int c = 0; c < ce; c++) Assert.Equal(e[(i * gsz + j) * ce + c], fused[(i * gsz + j) * (ce + cs) + c]);
                for (int c = 0; c < cs; c++)
                {
                    double expected = 0;
                    for (int a = 0; a < s; a++)
                        for (int b = 0; b < s; b++) expected += (double)h[a * gsz + i] * w[b * gsz + j] * x[(a * s + b) * cs + c];
                    Assert.True(Math.Abs(expected - fused[(i * gsz + j) * (ce + cs) + ce + c]) <= 1e-5, $"({i}, {j}, {c})");
                }
            }
    }

    [Fact]
    public void DensePeEqualsTheGoldenTable()
    {
        using var golden = ScenicGolden.Open("caption_trace");
        using var model = Model(golden);
        using var aux = Golden.Open(ScenicGolden.Component, "tiny_t5.aux.safetensors");
        var check = GoldenComparison.CompareOne("aux.dense_pe", aux.Get("aux.dense_pe"), model.DensePe(), Tolerance.Default);
        Assert.True(check.Passed, $"max|err| {check.MaxAbsError:E2}");
    }

    private PixelLlm Model(GoldenCase golden) => PixelLlm.FromScenic(PixelLlmConfigJson.FromScenic(golden.Config), golden.Weights, backend);

    private static PromptEncoding GoldenEncoding(GoldenCase golden)
    {
        var valid = golden.Input("mid.encoder_valid_mask");
        int le = valid.Shape[1];
        var v = valid.ToFloatArray();
        var rows = Enumerable.Range(0, valid.Shape[0]).Select(r => v.Skip(r * le).Take(le).Select(x => x != 0).ToArray()).ToArray();
        return new PromptEncoding(golden.Input("mid.encoder_output"), rows);
    }

    private static IEnumerable<(string Prefix, string Setting)> Variants(GoldenCase golden) =>
        golden.Json.RootElement.GetProperty("decode_settings").EnumerateObject()
            .Select(p => (p.Name == "main" ? "" : p.Name + ".", p.Value.GetString() ?? "")).ToList();

    private static HostTensor Boxes(GoldenCase golden)
    {
        var b = golden.Input("in.prompt_boxes");
        return HostTensor.FromArray(b.ToFloatArray(), b.Shape[-2], 4);
    }

    private static int[][] Rows(HostTensor t)
    {
        int l = t.Shape[-1];
        var v = t.ToFloatArray();
        return Enumerable.Range(0, v.Length / l).Select(r => v.Skip(r * l).Take(l).Select(x => (int)x).ToArray()).ToArray();
    }

    /// <summary>Compares the named tensors (reshaped to the golden's shape when only a batch-1 axis differs) under the case rules.</summary>
    private static void AssertMatches(GoldenCase golden, IReadOnlyDictionary<string, HostTensor> ours, params string[] names)
    {
        var rules = CaseTolerances.Read(golden.Json);
        var failures = new List<string>();
        foreach (var name in names)
        {
            Assert.True(golden.Has(name), $"{golden.Name} has no {name}");
            Assert.True(ours.ContainsKey(name), $"stage produced no {name}");
            var reference = golden.Input(name);
            var mine = ours[name];
            if (mine.Desc.ElementCount == reference.Desc.ElementCount) mine = new HostTensor(new TensorDesc(mine.DType, reference.Shape), mine.Data);
            var check = GoldenComparison.CompareOne(name, reference, mine, rules.For(name), rules.ExemptBeamSlots(golden, name, reference));
            if (!check.Passed) failures.Add($"{name}: max|err| {check.MaxAbsError:E2} err/tol {check.WorstRatio:F2} {check.Note}");
        }
        Assert.True(failures.Count == 0, $"{golden.Name}: " + string.Join("; ", failures));
    }

    public void Dispose() => backend.Dispose();
}
