using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.Models.Verification;

/// <summary>
/// End-to-end PixelLLM cases (T5 or GIT variant, from the case config), component "pixelllm": the model config and scenic-named weights of the case,
/// in.image / in.prompt_boxes / in.context_tokens (+ in.gt_text_tokens), and one decoding variant per entry of
/// "decode_settings" ("main" writes out.*, any other name out.&lt;variant&gt;.* and mid.&lt;variant&gt;.*). Every variant runs
/// decode (or takes the ground-truth tokens) → tokens after the first EOS set to 0 → teacher-forced pass → point head.
/// </summary>
public sealed partial class PixelLlmRunner : IGoldenRunner
{
    public string Component => "pixelllm";

    public IReadOnlyDictionary<string, HostTensor> Run(GoldenCase golden, IBackend backend)
    {
        if (IsDenseCaptioning(golden)) return RunDenseCaptioning(golden, backend);
        var config = ModelConfig(golden);
        using var model = PixelLlmWeights.Create(config, golden.Weights, backend);
        var results = new Dictionary<string, HostTensor>(StringComparer.Ordinal);

        var image = model.EncodeImage(golden.Input("in.image"), results);
        var boxesIn = golden.Input("in.prompt_boxes");
        int n = boxesIn.Shape[-2];
        var boxes = HostTensor.FromArray(boxesIn.ToFloatArray(), n, 4);
        var context = Rows(golden.Input("in.context_tokens"));
        var encoding = model.EncodePrompts(image, boxes, context, results);
        var validity = Validity(golden);

        foreach (var (variantName, setting) in DecodeSettings(golden.Root))
        {
            var prefix = variantName == "main" ? "" : variantName + ".";
            int[][] raw;
            if (setting.StartsWith("teacher", StringComparison.Ordinal))
                raw = Rows(golden.Input("in.gt_text_tokens"));
            else
            {
                var decoded = model.Decode(encoding, ParseMode(setting));
                raw = decoded.Raw;
                Put(results, $"out.{prefix}log_probs", decoded.LogProbs, 1, n);
                Put(results, $"out.{prefix}beam_text_tokens", decoded.Beams.SelectMany(b => b.SelectMany(s => s)).ToArray(), 1, n, decoded.Beams[0].Length, config.MaxCaptionLength);
                Put(results, $"out.{prefix}beam_log_probs", decoded.BeamScores.SelectMany(s => s).ToArray(), 1, n, decoded.BeamScores[0].Length);
                if (decoded.BeamFinished is { } finished)
                    Put(results, $"out.{prefix}beam_finished_flags", finished.SelectMany(f => f.Select(v => (byte)(v ? 1 : 0))).ToArray(), 1, n, finished[0].Length);
                if (decoded.GreedyMargins is { } margins)
                    Put(results, $"out.{prefix}greedy_margin", margins.SelectMany(m => m).ToArray(), n, margins[0].Length);
            }
            var tokens = raw.Select(r => PixelLlmTokens.ZeroAfterFirstEos(r, config.EndTokenId)).ToArray();
            Put(results, $"out.{prefix}raw_text_tokens", raw.SelectMany(r => r).ToArray(), 1, n, config.MaxCaptionLength);
            Put(results, $"out.{prefix}text_tokens", tokens.SelectMany(r => r).ToArray(), 1, n, config.MaxCaptionLength);

            var text = model.TeacherForced(encoding, tokens);
            results[$"mid.{prefix}text_feats"] = text.Features;
            results[$"mid.{prefix}tf_logits"] = text.Logits!;
            if (config.PointHead is null) continue;
            var points = model.Points(text.Features, tokens, image.Height, image.Width, validity);
            results[$"out.{prefix}point_coords"] = points.Coords;
            results[$"out.{prefix}point_logits"] = points.Logits;
            Put(results, $"out.{prefix}point_valid_mask", points.Valid.SelectMany(v => v.Select(b => (byte)(b ? 1 : 0))).ToArray(), 1, n, config.MaxCaptionLength);
            Put(results, $"out.{prefix}point_detection_boxes", points.Boxes.SelectMany(b => b).ToArray(), 1, n, 4);
            if (config.MaskBranch is not null) Segment(model, image, encoding, text, points, prefix, results);
        }
        return WithGoldenShapes(golden, results);
    }

    /// <summary>"decode_settings": an object of variant → setting, or one setting string (the variant "main").</summary>
    private static IEnumerable<(string Variant, string Setting)> DecodeSettings(CaseJson root)
    {
        if (root.Element.TryGetProperty("decode_settings", out var one) && one.ValueKind == JsonValueKind.String) return [("main", one.GetString()!)];
        var variants = root.Object("decode_settings");
        return variants.Element.EnumerateObject().Select(v => (v.Name, variants.Text(v.Name))).ToList();
    }

    /// <summary>The case's model config; a malformed one names the case file and the key (as model directories do).</summary>
    private static PixelLlmConfig ModelConfig(GoldenCase golden)
    {
        try { return PixelLlmConfigJson.FromScenic(golden.Config); }
        catch (ModelFileException e)
        {
            // FromScenic's messages name the key (ConfigReader); the case file is what the user gave.
            throw new ModelFileException($"{golden.JsonPath}: config: {e.Message}", e);
        }
    }

    /// <summary>"greedy…" or "beam B / per-node P / alpha A" (the case JSON's decode_settings strings).</summary>
    public static DecodeMode ParseMode(string setting)
    {
        if (setting.StartsWith("greedy", StringComparison.Ordinal)) return new DecodeMode.Greedy();
        var m = BeamSetting().Match(setting);
        if (!m.Success) throw new ModelFileException($"pixelllm case: unknown decode setting '{setting}'");
        return new DecodeMode.Beam(new BeamOptions(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture),
            int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), float.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture)));
    }

    /// <summary>The point valid rule: "point_output_ignore" when the case states it, else the task's scenic config.</summary>
    private static TokenValidity Validity(GoldenCase golden)
    {
        if (golden.Fields.OptionalText("point_output_ignore") is { } s) return new TokenValidity(s);
        var task = golden.Root.OptionalText("task");
        return task switch
        {
            "caption_trace" or "loca_caption" => TokenValidity.Trace,
            "referring" or "referring_segmentation" => TokenValidity.Referring,
            _ => throw new ModelFileException($"pixelllm case: no point_output_ignore for task '{task}'"),
        };
    }

    /// <summary>Our tensors keep their natural shapes; the case stores some with a leading batch of 1 (same elements).</summary>
    private static Dictionary<string, HostTensor> WithGoldenShapes(GoldenCase golden, Dictionary<string, HostTensor> ours)
    {
        foreach (var name in ours.Keys.ToList())
        {
            if (!golden.Has(name)) continue;
            var shape = golden.Input(name).Shape;
            var t = ours[name];
            if (t.Shape != shape && t.Desc.ElementCount == shape.ElementCount)
                ours[name] = new HostTensor(new TensorDesc(t.DType, shape), t.Data);
        }
        return ours;
    }

    private static int[][] Rows(HostTensor t)
    {
        int length = t.Shape[-1], rows = (int)(t.Desc.ElementCount / length);
        var v = t.ToFloatArray();
        return Enumerable.Range(0, rows).Select(r => v.Skip(r * length).Take(length).Select(x => (int)x).ToArray()).ToArray();
    }

    private static void Put<T>(Dictionary<string, HostTensor> results, string name, T[] values, params int[] shape) where T : unmanaged =>
        results[name] = HostTensor.FromArray(values, shape);

    [GeneratedRegex(@"^beam (\d+) / per-node (\d+) / alpha ([0-9.]+)")]
    private static partial Regex BeamSetting();
}
