namespace PixelLLM.Models.Checkpoints;

/// <summary>One engine tensor and the scenic tensors it is made from.</summary>
/// <param name="EngineName">The engine's name (module prefix + public-reference name).</param>
/// <param name="Layout">How the sources become the engine tensor.</param>
/// <param name="Sources">Scenic '/'-joined paths: one, or kernel, kernel_left_lora, kernel_right_lora for LoRA.</param>
public sealed record ScenicMapping(string EngineName, ScenicLayout Layout, IReadOnlyList<string> Sources);

/// <summary>
/// The scenic → engine name rules (see <see cref="ScenicWeights"/> for the table). Pure string work: given the set of scenic
/// paths it says, per path, which engine tensor it becomes, that it is consumed by another mapping (LoRA factors), that
/// it is a known unused parameter, or that no rule knows it.
/// </summary>
internal static class ScenicNameMap
{
    public const string SamEncoder = "sam.image_encoder.";
    public const string SamPrompt = "sam.prompt_encoder.";
    public const string Eva = "eva02.";
    public const string Adapter = "prompt_adapter.";
    public const string T5 = "t5.";
    public const string Projection = "visual_projection.";
    public const string PointHead = "point_head.";

    private const string LoraLeft = "/kernel_left_lora", LoraRight = "/kernel_right_lora";

    /// <summary>
    /// Scenic parameters PixelLLM computes but never reads into an output (errata A5): the prompt adapter's dense output,
    /// unless the config fuses the dense prompt features (<paramref name="denseFuse"/>, scenic prompt_fuse_fn 'dense').
    /// </summary>
    public static bool IsKnownUnused(string path, bool denseFuse = false) =>
        !denseFuse && path.StartsWith("prompt_adapter/dense_output_mlp/", StringComparison.Ordinal);

    /// <summary>True for LoRA factors; they are consumed by the mapping of their base kernel.</summary>
    public static bool IsLoraFactor(string path) =>
        path.EndsWith(LoraLeft, StringComparison.Ordinal) || path.EndsWith(LoraRight, StringComparison.Ordinal);

    /// <summary>The mapping for <paramref name="path"/>, or null when no rule covers it.</summary>
    public static ScenicMapping? Map(string path, Func<string, bool> exists)
    {
        if (ScenicMaskNames.Map(path) is { } maskBranch) return maskBranch;
        if (ScenicBoxDecoderNames.Map(path) is { } boxDecoder) return boxDecoder;
        var engine = EngineName(path);
        if (engine is null) return null;
        var leaf = path[(path.LastIndexOf('/') + 1)..];
        if (leaf == "kernel")
        {
            var stem = path[..^"/kernel".Length];
            if (exists(stem + LoraLeft) && exists(stem + LoraRight))
                return new ScenicMapping(engine, ScenicLayout.LoraDenseKernel, [path, stem + LoraLeft, stem + LoraRight]);
        }
        var layout = leaf switch
        {
            "kernel" => path.StartsWith("sam_backbone/", StringComparison.Ordinal) || path.StartsWith("git_backbone/", StringComparison.Ordinal)
                ? KernelLayoutByName(path) : ScenicLayout.DenseKernel,
            "rel_embedding" => ScenicLayout.RelativeEmbedding,
            _ => ScenicLayout.AsIs,
        };
        return new ScenicMapping(engine, layout, [path]);
    }

    // The backbones hold both convolutions (patch embedding, SAM neck) and Dense layers under 'kernel'.
    private static ScenicLayout KernelLayoutByName(string path) =>
        path.Contains("/patch_embed.proj/", StringComparison.Ordinal) || path.StartsWith("sam_backbone/neck/", StringComparison.Ordinal)
            ? ScenicLayout.ConvKernel : ScenicLayout.DenseKernel;

    private static string? EngineName(string path)
    {
        var parts = path.Split('/');
        return parts[0] switch
        {
            "sam_backbone" => SamEncoder + Generic(parts[1..]),
            "prompt_encoder" => SamPrompt + Generic(parts[1..]),
            "git_backbone" => Eva + EvaName(parts[1..]),
            "prompt_adapter" => AdapterName(parts[1..]),
            "visual_project_layers" => ProjectionName(parts[1..]),
            "point_predictor" => PointHeadName(parts[1..]),
            "textual" when parts.Length > 2 && parts[1] == "t5_module" => T5Name(parts[2..]),
            "textual" => ScenicGitNames.FromScenic(path),
            _ => null,
        };
    }

    /// <summary>segment-anything style: components joined by '.', Flax leaves kernel/scale → weight.</summary>
    private static string Generic(string[] parts)
    {
        if (parts.Length == 0) return "";
        var names = (string[])parts.Clone();
        names[^1] = Leaf(names[^1]);
        return string.Join('.', names);
    }

    private static string Leaf(string leaf) => leaf is "kernel" or "scale" ? "weight" : leaf;

    /// <summary>scenic EVA02 → timm Eva names (spec §3.3 mapping).</summary>
    private static string? EvaName(string[] parts)
    {
        if (parts.Length == 3 && parts[1] == "attn" && parts[2] is "q_bias" or "v_bias")
            return $"{parts[0]}.attn.{parts[2][0]}_proj.bias";
        if (parts.Length == 1) return parts[0];                                  // cls_token, pos_embed
        if (parts[0] == "ln_post") return Generic(["norm", .. parts[1..]]);
        if (parts.Length == 4 && parts[1] == "mlp")
        {
            var module = parts[2] switch { "w1" => "fc1_g", "w2" => "fc1_x", "w3" => "fc2", "ffn_ln" => "norm", _ => null };
            return module is null ? null : Generic([parts[0], "mlp", module, parts[3]]);
        }
        return Generic(parts);
    }

    private static string? AdapterName(string[] parts)
    {
        if (parts.Length == 0) return null;
        if (parts[0] == "transformer") return Adapter + Generic(parts);
        if (parts.Length == 1) return parts[0] == "output_tokens.weight" ? Adapter + "output_tokens.weight" : null;
        var module = parts[0] switch
        {
            "prompt_embedding_projection_mlp" => "prompt_projection",
            "image_pe_projection_mlp" => "image_pe_projection",
            "image_projection_mlp" => "image_projection",
            "dense_output_mlp" => "dense_output",
            _ when parts[0].StartsWith("output_hypernetworks_mlps.", StringComparison.Ordinal)
                => "output_projections." + parts[0]["output_hypernetworks_mlps.".Length..],
            _ => null,
        };
        return module is null || parts.Length != 3 ? null : $"{Adapter}{module}.{parts[1]}.{Leaf(parts[2])}";
    }

    private static string? ProjectionName(string[] parts) => parts switch
    {
        ["visual_projection.0", var leaf] => Projection + "dense." + Leaf(leaf),
        ["visual_projection.1", var leaf] => Projection + "norm." + Leaf(leaf),
        _ => null,
    };

    private static string? PointHeadName(string[] parts) => parts switch
    {
        ["LayerNorm_0", var leaf] => PointHead + "norm." + Leaf(leaf),
        ["mlp", var layer, var leaf] when layer.StartsWith("layers.", StringComparison.Ordinal) => $"{PointHead}{layer}.{Leaf(leaf)}",
        _ => null,
    };

    /// <summary>t5x names → Hugging Face T5ForConditionalGeneration names (spec §5.1 mapping).</summary>
    private static string? T5Name(string[] parts)
    {
        switch (parts)
        {
            case ["token_embedder", "embedding"]: return T5 + "shared.weight";
            case [var stack and ("encoder" or "decoder"), "relpos_bias", "rel_embedding"]:
                return $"{T5}{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
            case ["encoder", "encoder_norm", "scale"]: return T5 + "encoder.final_layer_norm.weight";
            case ["decoder", "decoder_norm", "scale"]: return T5 + "decoder.final_layer_norm.weight";
            case ["decoder", "logits_dense", "kernel"]: return T5 + "lm_head.weight";
        }
        if (parts.Length < 4 || !parts[1].StartsWith("layers_", StringComparison.Ordinal)) return null;
        bool decoder = parts[0] == "decoder";
        if (!decoder && parts[0] != "encoder") return null;
        var block = $"{T5}{parts[0]}.block.{parts[1]["layers_".Length..]}.";
        string ffnLayer = decoder ? "layer.2" : "layer.1";
        switch (parts[2..])
        {
            case [var norm, "scale"]:
                var layer = (decoder, norm) switch
                {
                    (false, "pre_attention_layer_norm") or (true, "pre_self_attention_layer_norm") => "layer.0",
                    (true, "pre_cross_attention_layer_norm") => "layer.1",
                    (_, "pre_mlp_layer_norm") => ffnLayer,
                    _ => null,
                };
                return layer is null ? null : block + layer + ".layer_norm.weight";
            case ["mlp", var dense and ("wi" or "wi_0" or "wi_1" or "wo"), "kernel"]:
                return $"{block}{ffnLayer}.DenseReluDense.{dense}.weight";
            case [var attention, var projection, "kernel"]:
                var module = (decoder, attention) switch
                {
                    (false, "attention") or (true, "self_attention") => "layer.0.SelfAttention",
                    (true, "encoder_decoder_attention") => "layer.1.EncDecAttention",
                    _ => null,
                };
                var hf = projection switch { "query" => "q", "key" => "k", "value" => "v", "out" => "o", _ => null };
                return module is null || hf is null ? null : $"{block}{module}.{hf}.weight";
            default:
                return null;
        }
    }
}
