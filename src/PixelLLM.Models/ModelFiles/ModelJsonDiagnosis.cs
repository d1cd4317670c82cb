using System.Text.Json;

namespace PixelLLM.Models.ModelFiles;

/// <summary>
/// Names the key behind a failed <see cref="PixelLlmConfigJson.FromScenic"/> (whose errors come from System.Text.Json and
/// do not say which key): the first required key, in schema order, that is missing or not of its JSON kind. Only asked
/// after a parse failed, so a schema that grows never makes a valid config fail here.
/// </summary>
internal static class ModelJsonDiagnosis
{
    private static readonly (string Path, JsonValueKind Kind)[] Required =
    [
        ("canvas", JsonValueKind.Number), ("max_caption_length", JsonValueKind.Number),
        ("git", JsonValueKind.Object), ("git.embed_dim", JsonValueKind.Number), ("git.depth", JsonValueKind.Number),
        ("git.num_heads", JsonValueKind.Number), ("git.patch_size", JsonValueKind.Number),
        ("sam", JsonValueKind.Object), ("sam.depth", JsonValueKind.Number), ("sam.embed_dim", JsonValueKind.Number),
        ("sam.num_heads", JsonValueKind.Number), ("sam.patch_size", JsonValueKind.Number), ("sam.out_chans", JsonValueKind.Number),
        ("sam.window_size", JsonValueKind.Number), ("sam.window_block_indexes", JsonValueKind.Array),
        ("prompt_encoder", JsonValueKind.Object), ("prompt_encoder.embed_dim", JsonValueKind.Number),
        ("prompt_adapter", JsonValueKind.Object), ("prompt_adapter.depth", JsonValueKind.Number),
        ("prompt_adapter.transformer_dim", JsonValueKind.Number), ("prompt_adapter.input_embedding_dim", JsonValueKind.Number),
        ("prompt_adapter.num_outputs", JsonValueKind.Number), ("prompt_adapter.output_dim", JsonValueKind.Number),
        ("t5", JsonValueKind.Object), ("t5.vocab_size", JsonValueKind.Number), ("t5.emb_dim", JsonValueKind.Number),
        ("t5.head_dim", JsonValueKind.Number), ("t5.mlp_dim", JsonValueKind.Number), ("t5.num_heads", JsonValueKind.Number),
        ("t5.num_encoder_layers", JsonValueKind.Number), ("t5.num_decoder_layers", JsonValueKind.Number),
    ];

    /// <summary>"key 'a.b' is missing" / "key 'a.b' must be a number, got string", or null when every required key looks right.</summary>
    public static string? FirstProblem(JsonElement model)
    {
        if (model.ValueKind != JsonValueKind.Object) return $"must be an object, got {model.ValueKind}";
        foreach (var (path, kind) in Required)
        {
            var node = model;
            foreach (var part in path.Split('.'))
            {
                if (node.ValueKind != JsonValueKind.Object || !node.TryGetProperty(part, out node)) return $"key '{path}' is missing";
            }
            if (node.ValueKind != kind) return $"key '{path}' must be {Describe(kind)}, got {node.ValueKind.ToString().ToLowerInvariant()}";
        }
        return null;
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Number => "a number",
        JsonValueKind.Array => "an array",
        _ => "an object",
    };
}
