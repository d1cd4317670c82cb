using System.Text.Json;
using PixelLLM.Runtime;

namespace PixelLLM.CApi;

/// <summary>
/// pixelllm_open's options: a JSON object with the CLI's names, <c>{"backend": "cpu"|"cpu-f64"|"cuda", "precision":
/// "auto"|"f32"|"bf16"|"f16", "threads": N, "parallel": N, "max_image_pixels": N}</c>, every key optional.
/// </summary>
internal static class OpenOptions
{
    private static readonly string[] Keys = ["backend", "precision", "threads", "parallel", "max_image_pixels"];

    /// <param name="json">null or empty: the defaults (CPU, the directory's own precision, every core, 2 requests at once).</param>
    public static PixelLlmOptions Parse(string? json)
    {
        var options = new PixelLlmOptions();
        if (string.IsNullOrWhiteSpace(json)) return options;
        JsonElement root;
        try { root = JsonDocument.Parse(json, ServeRequest.JsonOptions).RootElement; }
        catch (JsonException e) { throw new InvalidInputException($"options_json: not a JSON object without repeated keys ({e.Message})"); }
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidInputException($"options_json: expected a JSON object, got {root.ValueKind}");
        foreach (var option in root.EnumerateObject())
        {
            options = option.Name switch
            {
                "backend" => options with { Backend = ComputeNames.Backend(Text(option), "options_json.backend") },
                "precision" => options with { Precision = ComputeNames.Precision(Text(option), "options_json.precision") },
                "threads" => options with { Threads = (int)Integer(option, 0, 1024) },
                "parallel" => options with { MaxConcurrentRequests = (int)Integer(option, 1, ServeProtocol.MaxParallel) },
                "max_image_pixels" => options with { MaxImagePixels = Integer(option, 1, long.MaxValue) },
                _ => throw new InvalidInputException($"options_json: unknown key '{option.Name}' (expected {string.Join(", ", Keys)})"),
            };
        }
        return options;
    }

    private static string Text(JsonProperty option) => option.Value.ValueKind == JsonValueKind.String ? option.Value.GetString()!
        : throw new InvalidInputException($"options_json.{option.Name}: expected a string, got {option.Value.GetRawText()}");

    private static long Integer(JsonProperty option, long min, long max) =>
        option.Value.ValueKind == JsonValueKind.Number && option.Value.TryGetInt64(out long n) && n >= min && n <= max ? n
            : throw new InvalidInputException($"options_json.{option.Name}: expected an integer from {min} to {max}, got {option.Value.GetRawText()}");
}
