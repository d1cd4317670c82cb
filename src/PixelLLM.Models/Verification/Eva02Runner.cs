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
        var cfg = ConfigFrom(golden.Fields);
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
    public static Eva02Config ConfigFrom(JsonElement c) => ConfigFrom(SamGoldenSupport.Fields(c));

    /// <summary>The same from a case file's "config": a malformed field is a <see cref="ModelFileException"/> naming it.</summary>
    public static Eva02Config ConfigFrom(CaseJson c)
    {
        if (c.OptionalText("rope_type") is { } ropeType && ropeType != "cat")
            throw new InvalidInputException($"eva02: rope_type '{ropeType}' is not supported (only 'cat')");
        RejectUnsupported(c.Element);
        // timm builds LayerScale whenever init_values is a number (null: none); the gammas themselves are in the weights.
        bool layerScale = c.Has("init_values") && double.IsFinite(c.Number("init_values"));
        return Eva02Config.Timm(
            embedDim: c.Size("embed_dim"),
            depth: c.Count("depth"),
            numHeads: c.Size("num_heads"),
            patchSize: c.Size("patch_size"),
            mlpRatio: c.Number("mlp_ratio"),
            globalPool: c.Text("global_pool"),
            numClasses: c.Count("num_classes"),
            scaleAttnInner: c.Flag("scale_attn_inner", false),
            ropeReferenceGrid: c.Has("ref_feat_shape") ? c.Ints("ref_feat_shape", 1) : null,
            useRope: c.Flag("use_rot_pos_emb", true),
            scaleMlp: c.Flag("scale_mlp", true),
            swiGluMlp: c.Flag("swiglu_mlp", true),
            qkvFused: c.Flag("qkv_fused", false),
            layerScale: layerScale,
            postNorm: c.Flag("use_post_norm", false),
            absPosEmbed: c.Flag("use_abs_pos_emb", true),
            noEmbedClass: c.Flag("no_embed_class", false),
            preNorm: c.Flag("use_pre_transformer_norm", false),
            fcNorm: c.OptionalFlag("use_fc_norm"),
            finalNorm: c.OptionalFlag("use_post_transformer_norm"),
            ropeTemperature: c.Single("rope_temperature", 10000f),
            classToken: c.Flag("class_token", true),
            registerTokens: c.Count("num_reg_tokens", 0));
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
}
