using System.Text.Json;
using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.GoldenTests;

/// <summary>
/// The T5 PixelLLM goldens decoded both ways: the KV cache (now the default engine) and the reference's full decoder rerun
/// give the same tokens, beams, finished flags and points for every decode setting of every case; scores agree to float
/// rounding. (<see cref="PixelLlmGoldenTests"/> checks the default engine against the goldens themselves.)
/// </summary>
public class PixelLlmKvDecodingGoldenTests
{
    public static TheoryData<string> Cases => new(ScenicGolden.Cases);

    [Theory]
    [MemberData(nameof(Cases))]
    public void KvCacheDecodesAsTheFullRerun(string caseName)
    {
        using var golden = ScenicGolden.Open(caseName);
        var config = PixelLlmConfigJson.FromScenic(golden.Config);
        using var backend = new CpuBackend();
        using var model = PixelLlmWeights.Create(config, golden.Weights, backend);
        Assert.Equal(DecodeEngine.KvCache, model.DefaultDecodeEngine);
        var image = model.EncodeImage(golden.Input("in.image"));
        var boxesIn = golden.Input("in.prompt_boxes");
        int n = boxesIn.Shape[-2], lc = golden.Input("in.context_tokens").Shape[-1];
        var contextIds = golden.Input("in.context_tokens").ToFloatArray().Select(v => (int)v).ToArray();
        var context = Enumerable.Range(0, n).Select(i => contextIds.AsSpan(i * lc, lc).ToArray()).ToArray();
        var encoding = model.EncodePrompts(image.Fused, HostTensor.FromArray(boxesIn.ToFloatArray(), n, 4), context);

        int decoded = 0;
        foreach (var setting in DecodeSettings(golden.Json.RootElement).Where(s => !s.StartsWith("teacher", StringComparison.Ordinal)))
        {
            var mode = PixelLlmRunner.ParseMode(setting);
            var kv = model.Decode(encoding, mode, DecodeEngine.KvCache);
            var full = model.Decode(encoding, mode, DecodeEngine.FullRerun);
            Assert.Equal(full.Raw, kv.Raw);
            Assert.Equal(full.Beams, kv.Beams);
            Assert.Equal(full.BeamFinished, kv.BeamFinished);
            for (int i = 0; i < n; i++) Assert.Equal(full.LogProbs[i], kv.LogProbs[i], 1e-4);
            foreach (var (f, k) in full.BeamScores.SelectMany(s => s).Zip(kv.BeamScores.SelectMany(s => s))) Assert.Equal(f, k, 1e-4);

            var tokens = kv.Raw.Select(r => PixelLlmTokens.ZeroAfterFirstEos(r, config.EndTokenId)).ToArray();
            var expectedPoints = Points(model, encoding, full.Raw, image);
            Assert.Equal(expectedPoints, Points(model, encoding, kv.Raw, image));
            Assert.Contains(tokens, row => row.Skip(1).Any(t => t > config.EndTokenId));     // real words were decoded
            decoded++;
        }
        Assert.True(decoded > 0, $"{caseName}: no decode setting");
    }

    private static float[] Points(PixelLlm model, PromptEncoding encoding, int[][] raw, ImageFeatures image)
    {
        var tokens = raw.Select(r => PixelLlmTokens.ZeroAfterFirstEos(r, model.Config.EndTokenId)).ToArray();
        var text = model.TeacherForced(encoding, tokens);
        return model.Points(text.Features, tokens, image.Height, image.Width, TokenValidity.Trace).Coords.ToFloatArray();
    }

    private static IEnumerable<string> DecodeSettings(JsonElement root)
    {
        var settings = root.GetProperty("decode_settings");
        return settings.ValueKind == JsonValueKind.String ? [settings.GetString()!] : settings.EnumerateObject().Select(v => v.Value.GetString()!).ToList();
    }
}
