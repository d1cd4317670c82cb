using System.Globalization;
using System.Text.Json;
using PixelLLM.Runtime;

namespace PixelLLM.Models;

/// <summary>
/// Typed, bounded reads of the scenic-style model config. Every value the engine sizes tensors, loops or divisions by
/// passes through here, so a bad value is refused while the config is parsed (before anything is allocated or built)
/// with one line naming the key's path and what it must be: <c>pixelllm config: git.depth must be an integer in
/// [1, 1024], got 2147483647</c>. Integers must be JSON integers and booleans JSON booleans (no 2.0, no 1 for true); a
/// JSON null reads as an absent key, as Python's None in a dumped scenic config. <c>path</c> is the key's full dotted
/// path; its last part is the key looked up in <c>obj</c>.
/// </summary>
internal static class ConfigReader
{
    /// <summary>Blocks/layers of any stack. Real configs use ≤ 32; far above, a typo would loop and allocate for ever.</summary>
    public const int MaxDepth = 1024;
    /// <summary>Attention heads of any attention.</summary>
    public const int MaxHeads = 1024;
    /// <summary>Token and hidden widths (T5-XXL's widest, d_ff, is 10240).</summary>
    public const int MaxWidth = 65536;
    /// <summary>Vocabulary rows (T5 32128, BERT 30522; the largest tokenizers have ~256k).</summary>
    public const int MaxVocab = 1 << 20;
    /// <summary>Small counts: query tokens, points per token, classes, mask outputs.</summary>
    public const int MaxCount = 1024;

    /// <summary>The ModelFileException every config error is, prefixed like the rest of the parser's.</summary>
    public static ModelFileException Error(string message) => new($"pixelllm config: {message}");

    /// <summary>A required object.</summary>
    public static JsonElement Object(JsonElement obj, string path) =>
        OptionalObject(obj, path) ?? throw Error($"missing key '{path}' (an object)");

    /// <summary>An optional object: null when absent or null.</summary>
    public static JsonElement? OptionalObject(JsonElement obj, string path)
    {
        if (!TryGet(obj, path, out var v)) return null;
        return v.ValueKind == JsonValueKind.Object ? v : throw Error($"{path} must be an object, got {Show(v)}");
    }

    /// <summary>A required integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static int Int(JsonElement obj, string path, int min, int max) =>
        OptionalInt(obj, path, min, max) ?? throw Error($"missing key '{path}' ({IntExpectation(min, max)})");

    /// <summary>An optional integer in [<paramref name="min"/>, <paramref name="max"/>]; <paramref name="fallback"/> when absent.</summary>
    public static int Int(JsonElement obj, string path, int min, int max, int fallback) => OptionalInt(obj, path, min, max) ?? fallback;

    /// <summary>An optional integer in [<paramref name="min"/>, <paramref name="max"/>]; null when absent.</summary>
    public static int? OptionalInt(JsonElement obj, string path, int min, int max)
    {
        if (!TryGet(obj, path, out var v)) return null;
        return IntValue(v, path, min, max);
    }

    /// <summary>An optional array of integers, each in [<paramref name="min"/>, <paramref name="max"/>], of
    /// <paramref name="minCount"/> to <paramref name="maxCount"/> entries; null when absent.</summary>
    public static int[]? Ints(JsonElement obj, string path, int minCount, int maxCount, int min, int max)
    {
        if (!TryGet(obj, path, out var v)) return null;
        string expectation = $"an array of {Count(minCount, maxCount)} integers in [{min}, {max}]";
        if (v.ValueKind != JsonValueKind.Array) throw Error($"{path} must be {expectation}, got {Show(v)}");
        int length = v.GetArrayLength();
        if (length < minCount || length > maxCount) throw Error($"{path} must be {expectation}, got {length} entries");
        var values = new int[length];
        int i = 0;
        foreach (var e in v.EnumerateArray())
        {
            values[i] = IntValue(e, $"{path}[{i}]", min, max);
            i++;
        }
        return values;
    }

    /// <summary>
    /// An optional finite number in [<paramref name="min"/>, <paramref name="max"/>] (or (min, max] when
    /// <paramref name="minExclusive"/>); <paramref name="fallback"/> when absent. An integer literal is a number too.
    /// </summary>
    public static double Number(JsonElement obj, string path, double min, double max, double fallback, bool minExclusive = false)
    {
        if (!TryGet(obj, path, out var v)) return fallback;
        string expectation = $"a number in {(minExclusive ? "(" : "[")}{Format(min)}, {Format(max)}]";
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double value) || !double.IsFinite(value))
            throw Error($"{path} must be {expectation}, got {Show(v)}");
        if (value < min || value > max || (minExclusive && value == min)) throw Error($"{path} must be {expectation}, got {Show(v)}");
        return value;
    }

    /// <summary>An optional JSON boolean; <paramref name="fallback"/> when absent.</summary>
    public static bool Bool(JsonElement obj, string path, bool fallback)
    {
        if (!TryGet(obj, path, out var v)) return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error($"{path} must be true or false, got {Show(v)}"),
        };
    }

    /// <summary>An optional string; <paramref name="fallback"/> when absent.</summary>
    public static string? String(JsonElement obj, string path, string? fallback)
    {
        if (!TryGet(obj, path, out var v)) return fallback;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw Error($"{path} must be a string, got {Show(v)}");
    }

    /// <summary>Refuses a value that breaks a rule between fields (divisibility, one size fitting another).</summary>
    public static void Expect(bool ok, string path, string expectation, object got)
    {
        if (!ok) throw Error($"{path} must be {expectation}, got {got}");
    }

    public static string IntExpectation(int min, int max) => $"an integer in [{min}, {max}]";

    private static int IntValue(JsonElement v, string path, int min, int max)
    {
        // TryGetInt32 refuses 2.0 and 1e3 as well as values beyond int: an integer key takes an integer literal.
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int value) || value < min || value > max)
            throw Error($"{path} must be {IntExpectation(min, max)}, got {Show(v)}");
        return value;
    }

    private static bool TryGet(JsonElement obj, string path, out JsonElement value)
    {
        if (obj.ValueKind != JsonValueKind.Object)
            throw Error($"{(path.Contains('.') ? path[..path.LastIndexOf('.')] : "the model config")} must be an object, got {Show(obj)}");
        string key = path[(path.LastIndexOf('.') + 1)..];
        return obj.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null;
    }

    private static string Count(int min, int max) => min == max ? $"{min}" : $"{min} to {max}";

    private static string Format(double x) => x.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The value as written in the file, cut short: a config error is one line.</summary>
    private static string Show(JsonElement v)
    {
        var text = v.ValueKind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            _ => v.GetRawText(),
        };
        return text.Length > 40 ? text[..40] + "…" : text;
    }
}
