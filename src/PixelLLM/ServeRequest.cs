using System.Text.Json;
using PixelLLM.Runtime;

namespace PixelLLM;

/// <summary>
/// One line of <c>pixelllm serve</c>'s input: a JSON object naming the task, the image (a path or base64 bytes) and the
/// task's prompts. Every field is checked here, by name, before the model sees the request.
/// </summary>
internal sealed partial record ServeRequest(JsonElement? Id, string Task, string? ImagePath, byte[]? ImageBytes, IReadOnlyList<Box> Boxes,
    IReadOnlyList<string> Texts, bool DecodeText, bool TeacherForced, int? Beams, bool Stream = false)
{
    public static readonly string[] Tasks = ["caption", "refer", "segment", "densecap", "info"];

    private static readonly HashSet<string> Fields =
        ["id", "task", "image", "image_base64", "boxes", "texts", "decode_text", "teacher_forced", "beams", "stream"];

    /// <summary>The request on <paramref name="line"/>; its id (when it got that far) travels with any error.</summary>
    /// <param name="line">one JSON object.</param>
    /// <param name="id">the request's "id", once read.</param>
    /// <param name="pixelsGiven">the caller passes the image's pixels beside the line, so it names no image itself.</param>
    public static ServeRequest Parse(string line, out JsonElement? id, bool pixelsGiven = false)
    {
        id = null;
        JsonElement root;
        try { root = JsonDocument.Parse(line, JsonOptions).RootElement; }
        catch (JsonException e) { throw new InvalidInputException($"request: {Describe(e)}"); }
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidInputException($"request: expected a JSON object, got {root.ValueKind}");
        if (root.TryGetProperty("id", out var given)) id = given.Clone();
        foreach (var field in root.EnumerateObject())
            if (!Fields.Contains(field.Name))
                throw new InvalidInputException($"request field '{field.Name}': unknown (expected {string.Join(", ", Fields)})");

        var task = String(root, "task") ?? throw new InvalidInputException($"request field 'task': missing (one of {string.Join(", ", Tasks)})");
        if (!Tasks.Contains(task)) throw new InvalidInputException($"request field 'task': unknown '{task}' (one of {string.Join(", ", Tasks)})");
        var path = String(root, "image");
        byte[]? bytes = null;
        if (String(root, "image_base64") is { } encoded)
        {
            try { bytes = Convert.FromBase64String(encoded); }
            catch (FormatException) { throw new InvalidInputException("request field 'image_base64': not base64"); }
        }
        if (pixelsGiven && (path is not null || bytes is not null))
            throw new InvalidInputException($"request field '{(path is null ? "image_base64" : "image")}': the image is the pixels passed with the request; give no other");
        if (!pixelsGiven && task != "info" && (path is null) == (bytes is null))
            throw new InvalidInputException("request: give the image as 'image' (a file path) or 'image_base64', exactly one");

        var boxes = Array(root, "boxes").Select((b, i) => ParseBox(b, i)).ToArray();
        var texts = Array(root, "texts").Select((t, i) => t.ValueKind == JsonValueKind.String ? t.GetString()!
            : throw new InvalidInputException($"request field 'texts[{i}]': expected a string, got {t.ValueKind}")).ToArray();
        if (boxes.Length > 0 && task != "caption") throw new InvalidInputException($"request field 'boxes': only for task caption, not {task}");
        if (task is "refer" or "segment" && texts.Length == 0) throw new InvalidInputException($"request field 'texts': {task} needs at least one expression");
        if (task is not ("refer" or "segment") && texts.Length > 0) throw new InvalidInputException($"request field 'texts': only for tasks refer and segment, not {task}");
        bool decodeText = Flag(root, "decode_text"), teacherForced = Flag(root, "teacher_forced");
        if (decodeText && task != "refer") throw new InvalidInputException("request field 'decode_text': only for task refer");
        if (teacherForced && task != "segment") throw new InvalidInputException("request field 'teacher_forced': only for task segment");
        int? beams = null;
        if (root.TryGetProperty("beams", out var b))
            beams = b.ValueKind == JsonValueKind.Number && b.TryGetInt32(out var n) && n is >= 1 and <= RequestOptions.MaxBeams ? n
                : throw new InvalidInputException($"request field 'beams': expected an integer from 1 to {RequestOptions.MaxBeams}, got {b.GetRawText()}");
        bool stream = Flag(root, "stream");
        if (stream && task == "info") throw new InvalidInputException("request field 'stream': info has no events");
        return new ServeRequest(id, task, path, bytes, boxes, texts, decodeText, teacherForced, beams, stream);
    }

    private static string? String(JsonElement root, string name) =>
        !root.TryGetProperty(name, out var v) ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString() : throw new InvalidInputException($"request field '{name}': expected a string, got {v.ValueKind}");

    private static bool Flag(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && (v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean()
            : throw new InvalidInputException($"request field '{name}': expected true or false, got {v.ValueKind}"));

    private static IEnumerable<JsonElement> Array(JsonElement root, string name) =>
        !root.TryGetProperty(name, out var v) ? []
        : v.ValueKind == JsonValueKind.Array ? v.EnumerateArray() : throw new InvalidInputException($"request field '{name}': expected an array, got {v.ValueKind}");

    private static Box ParseBox(JsonElement box, int index)
    {
        var values = box.ValueKind == JsonValueKind.Array ? box.EnumerateArray().ToArray() : [];
        if (values.Length != 4 || values.Any(v => v.ValueKind != JsonValueKind.Number || !float.IsFinite(v.GetSingle())))
            throw new InvalidInputException($"request field 'boxes[{index}]': expected [x0, y0, x1, y1] (four finite numbers), got {box.GetRawText()}");
        return new Box(values[0].GetSingle(), values[1].GetSingle(), values[2].GetSingle(), values[3].GetSingle());
    }

    /// <summary>The request's image, from its path or its base64 bytes, at most <paramref name="maxPixels"/> pixels.</summary>
    public PixelImage LoadImage(long maxPixels) =>
        ImagePath is { } path ? PixelImage.Load(path, maxPixels) : PixelImage.Decode(ImageBytes!, "image_base64", maxPixels);

    /// <summary>Duplicate keys are refused: which of two "id"s or "image"s a reader keeps differs between JSON libraries.</summary>
    internal static readonly JsonDocumentOptions JsonOptions = new() { AllowDuplicateProperties = false };

    /// <summary>Why a request line did not parse, in words.</summary>
    internal static string Describe(JsonException e) => DuplicateKey().Match(e.Message) is { Success: true } m
        ? $"key '{m.Groups[1].Value}' appears twice (give each key once)" : $"not JSON ({e.Message})";

    [System.Text.RegularExpressions.GeneratedRegex("^Duplicate property '(.*)' encountered")]
    private static partial System.Text.RegularExpressions.Regex DuplicateKey();
}
