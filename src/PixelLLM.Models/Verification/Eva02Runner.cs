using System.Text.Json;
using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models.Verification;

/// <summary>
/// Golden runner for component "eva02" (timm <c>Eva</c> with EVA02 options): in.image (B, 3, H, W) is permuted to
/// channels-last, <see cref="Eva02Encoder"/> runs with timm semantics from the case config, and out.features,
/// out.pre_logits, out.logits and every mid.* the case lists are fetched.
/// </summary>
public sealed class Eva02Runner : IGoldenRunner
{
    public string Component => "eva02";

    public IReadOnlyDictionary<string, HostTensor> Run(GoldenCase golden, IBackend backend)
    {
        var cfg = ConfigFrom(golden.Config);
        var image = golden.Input("in.image");
        if (image.Shape.Rank != 4) throw new InvalidInputException($"eva02: in.image must be (B, 3, H, W), got {image.Shape}");

        var g = new Graph();
        var input = g.Input("in.image", image.DType, image.Shape.ToArray());
        var outputs = Eva02Encoder.Build(new ParamScope(g, golden.Weights), cfg, g.Permute(input, 0, 2, 3, 1));
        g.Output("out.features", outputs.Features);
        if (outputs.PreLogits is { } preLogits) g.Output("out.pre_logits", preLogits);
        if (outputs.Logits is { } logits) g.Output("out.logits", logits);

        return GoldenGraph.Run(golden, g, backend, new Dictionary<string, HostTensor> { ["in.image"] = image });
    }

    /// <summary>The encoder config for a case's timm config; unsupported timm options are rejected by name.</summary>
    public static Eva02Config ConfigFrom(JsonElement c)
    {
        if (c.TryGetProperty("rope_type", out var rt) && rt.GetString() != "cat")
            throw new InvalidInputException($"eva02: rope_type '{rt.GetString()}' is not supported (only 'cat')");
        RejectUnsupported(c);
        int[]? reference = c.TryGetProperty("ref_feat_shape", out var r) && r.ValueKind == JsonValueKind.Array
            ? r.EnumerateArray().Select(e => e.GetInt32()).ToArray() : null;
        return Eva02Config.Timm(
            embedDim: c.GetProperty("embed_dim").GetInt32(),
            depth: c.GetProperty("depth").GetInt32(),
            numHeads: c.GetProperty("num_heads").GetInt32(),
            patchSize: c.GetProperty("patch_size").GetInt32(),
            mlpRatio: c.GetProperty("mlp_ratio").GetDouble(),
            globalPool: c.GetProperty("global_pool").GetString() ?? "",
            numClasses: c.GetProperty("num_classes").GetInt32(),
            scaleAttnInner: Flag(c, "scale_attn_inner", false),
            ropeReferenceGrid: reference,
            useRope: Flag(c, "use_rot_pos_emb", true),
            scaleMlp: Flag(c, "scale_mlp", true),
            swiGluMlp: Flag(c, "swiglu_mlp", true),
            qkvFused: Flag(c, "qkv_fused", false),
            layerScale: c.TryGetProperty("init_values", out var iv) && iv.ValueKind == JsonValueKind.Number,
            postNorm: Flag(c, "use_post_norm", false),
            absPosEmbed: Flag(c, "use_abs_pos_emb", true),
            noEmbedClass: Flag(c, "no_embed_class", false),
            preNorm: Flag(c, "use_pre_transformer_norm", false),
            fcNorm: OptionalFlag(c, "use_fc_norm"),
            finalNorm: OptionalFlag(c, "use_post_transformer_norm"),
            ropeTemperature: c.TryGetProperty("rope_temperature", out var temperature) && temperature.ValueKind == JsonValueKind.Number
                ? temperature.GetSingle() : 10000f,
            classToken: Flag(c, "class_token", true),
            registerTokens: c.TryGetProperty("num_reg_tokens", out var reg) && reg.ValueKind == JsonValueKind.Number ? reg.GetInt32() : 0);
    }

    /// <summary>
    /// timm Eva options whose non-default values this encoder does not run, with their defaults as JSON: each fails with
    /// its name and value instead of being ignored (an ignored option would give wrong numbers, not an error).
    /// </summary>
    private static readonly (string Name, string[] Defaults)[] Unsupported =
    [
        ("attn_type", ["\"eva\""]), ("rope_rotate_half", ["false"]), ("gated_attn", ["false"]), ("swiglu_align_to", ["0"]),
        ("rope_grid_indexing", ["\"ij\""]), ("rope_grid_offset", ["0", "0.0"]), ("dynamic_img_pad", ["false"]),
    ];

    private static void RejectUnsupported(JsonElement c)
    {
        foreach (var (name, defaults) in Unsupported)
            if (c.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null && !defaults.Contains(value.GetRawText()))
                throw new InvalidInputException($"eva02: {name} = {value.GetRawText()} is not supported (timm's default only)");
    }

    private static bool? OptionalFlag(JsonElement c, string name) =>
        c.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

    private static bool Flag(JsonElement c, string name, bool fallback) =>
        c.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;
}
