using System.Text.Json;
using PixelLLM.Runtime;

namespace PixelLLM.Cli.Evaluation;

/// <summary>
/// Reads and checks a scenes.py folder before any model work: the schema version, every field eval.py reads, mask runs that
/// cover their image, word/object indices in range and every PNG present. Problems are one line naming the file and field.
/// </summary>
internal static class SceneSetReader
{
    public static SyntheticSceneSet Read(string directory)
    {
        if (!Directory.Exists(directory))
            throw new InvalidInputException($"{directory}: data folder not found (expected annotations.json and PNGs written by scenes.py)");
        var path = Path.Combine(directory, "annotations.json");
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: not found (the data folder needs scenes.py's annotations.json)");
        JsonDocument document;
        FileKind.RequireRegularInput(path, "annotations.json");
        try { document = JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new InvalidInputException($"{path}: not valid JSON ({e.Message})"); }
        using (document)
        {
            var fields = new Fields(path);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw fields.Error("(root)", "expected an object");
            var format = fields.String(root, "format", "format");
            if (format != SyntheticSceneSet.Format)
                throw fields.Error("format", $"'{format}' is not a supported schema (expected '{SyntheticSceneSet.Format}')");
            var prompts = fields.Property(root, "prompts", "prompts", JsonValueKind.Object);
            var scenePrompts = new ScenePrompts(fields.String(prompts, "trace", "prompts.trace"), fields.String(prompts, "loca", "prompts.loca"),
                fields.String(prompts, "refer_prefix", "prompts.refer_prefix"));
            var scenes = fields.Property(root, "scenes", "scenes", JsonValueKind.Array);
            var list = scenes.EnumerateArray().Select((s, i) => ReadScene(fields, directory, s, i)).ToList();
            if (list.Count == 0) throw fields.Error("scenes", "the set has no scenes");
            return new SyntheticSceneSet(path, scenePrompts, list);
        }
    }

    private static SyntheticScene ReadScene(Fields f, string directory, JsonElement s, int index)
    {
        var at = $"scenes[{index}]";
        if (s.ValueKind != JsonValueKind.Object) throw f.Error(at, "expected an object");
        var image = f.String(s, "image", $"{at}.image");
        int width = f.Int(s, "width", $"{at}.width"), height = f.Int(s, "height", $"{at}.height");
        if (width < 1 || height < 1) throw f.Error($"{at}.width", $"image size {width}×{height} must be positive");
        var objects = f.Property(s, "objects", $"{at}.objects", JsonValueKind.Array).EnumerateArray()
            .Select((o, k) => ReadObject(f, o, $"{at}.objects[{k}]", width, height)).ToList();
        if (objects.Count == 0) throw f.Error($"{at}.objects", "a scene needs at least one object");
        var words = f.Property(s, "caption_words", $"{at}.caption_words", JsonValueKind.Array).EnumerateArray()
            .Select((w, k) => w.ValueKind == JsonValueKind.String ? w.GetString()! : throw f.Error($"{at}.caption_words[{k}]", "expected a string")).ToList();
        var traceObject = f.IntArray(s, "trace_object", $"{at}.trace_object");
        if (words.Count == 0) throw f.Error($"{at}.caption_words", "the caption has no words");
        if (traceObject.Length != words.Count)
            throw f.Error($"{at}.trace_object", $"{traceObject.Length} entries for {words.Count} caption words");
        for (int k = 0; k < traceObject.Length; k++)
            if (traceObject[k] < -1 || traceObject[k] >= objects.Count)
                throw f.Error($"{at}.trace_object[{k}]", $"{traceObject[k]} is not an object index (0…{objects.Count - 1}) or −1");
        var referrals = f.Property(s, "referring", $"{at}.referring", JsonValueKind.Array).EnumerateArray().Select((r, k) =>
        {
            var where = $"{at}.referring[{k}]";
            int obj = f.Int(r, "object", $"{where}.object");
            if (obj < 0 || obj >= objects.Count) throw f.Error($"{where}.object", $"{obj} is not an object index (0…{objects.Count - 1})");
            return new SceneReferral(obj, f.Text(r, "text", $"{where}.text"));
        }).ToList();
        var imagePath = Path.Combine(directory, image);
        if (!File.Exists(imagePath)) throw f.Error($"{at}.image", $"image {imagePath} not found");
        return new SyntheticScene(index, imagePath, width, height, objects, f.Text(s, "caption", $"{at}.caption"), words, traceObject, referrals);
    }

    private static SceneObject ReadObject(Fields f, JsonElement o, string at, int width, int height)
    {
        if (o.ValueKind != JsonValueKind.Object) throw f.Error(at, "expected an object");
        var box = f.IntArray(o, "box", $"{at}.box");
        if (box.Length != 4 || box[0] >= box[2] || box[1] >= box[3] || box[0] < 0 || box[1] < 0 || box[2] > width || box[3] > height)
            throw f.Error($"{at}.box", $"expected [x0, y0, x1, y1] with 0 ≤ x0 < x1 ≤ {width} and 0 ≤ y0 < y1 ≤ {height}");
        var runs = f.IntArray(o, "mask_rle", $"{at}.mask_rle");
        try { MaskRle.Validate(runs, width, height, $"{at}.mask_rle"); }
        catch (InvalidInputException e) { throw new InvalidInputException($"{f.File}: {e.Message}"); }
        return new SceneObject(f.String(o, "shape", $"{at}.shape"), f.String(o, "color", $"{at}.color"), f.String(o, "size", $"{at}.size"),
            new Box(box[0], box[1], box[2], box[3]), f.String(o, "region_caption", $"{at}.region_caption"), runs);
    }

    /// <summary>Typed field access whose errors name the file and the field's path.</summary>
    private sealed class Fields(string file)
    {
        public string File => file;

        public InvalidInputException Error(string field, string what) => new($"{file}: {field}: {what}");

        public JsonElement Property(JsonElement parent, string name, string field, JsonValueKind kind)
        {
            if (!parent.TryGetProperty(name, out var value)) throw Error(field, "missing");
            if (value.ValueKind != kind) throw Error(field, $"expected {Describe(kind)}, got {Describe(value.ValueKind)}");
            return value;
        }

        public string String(JsonElement parent, string name, string field) => Property(parent, name, field, JsonValueKind.String).GetString()!;

        /// <summary>A string a model reads (a caption, an expression): it must hold a word.</summary>
        public string Text(JsonElement parent, string name, string field) =>
            String(parent, name, field) is var text && !string.IsNullOrWhiteSpace(text) ? text : throw Error(field, "expected text, got an empty string");

        public int Int(JsonElement parent, string name, string field) =>
            Property(parent, name, field, JsonValueKind.Number).TryGetInt32(out var v) ? v : throw Error(field, "expected an integer");

        public int[] IntArray(JsonElement parent, string name, string field) =>
            Property(parent, name, field, JsonValueKind.Array).EnumerateArray()
                .Select((v, k) => v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : throw Error($"{field}[{k}]", "expected an integer"))
                .ToArray();

        private static string Describe(JsonValueKind kind) => kind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            _ => kind.ToString().ToLowerInvariant(),
        };
    }
}
