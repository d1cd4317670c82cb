using System.Text.Json;
using PixelLLM.Runtime;

namespace PixelLLM.Models.Verification;

/// <summary>
/// One object of a case JSON, read field by field. A field that is missing or not what the reader expects is a
/// <see cref="ModelFileException"/> naming the case file, the field's path and what was expected — System.Text.Json's own
/// exceptions (KeyNotFoundException, InvalidOperationException) name neither, and the CLI reports them as internal errors.
/// A null value counts as absent, so an optional field may be written out as null.
/// </summary>
public readonly struct CaseJson
{
    private readonly JsonElement element;
    private readonly string file, path;

    /// <summary><paramref name="path"/> is this object's own dotted path in the file ("" for the top level).</summary>
    public CaseJson(JsonElement element, string file, string path)
    {
        (this.element, this.file, this.path) = (element, file, path);
        if (element.ValueKind != JsonValueKind.Object)
            throw new ModelFileException($"{file}: {(path.Length == 0 ? "the case" : path)} must be a JSON object (got {Describe(element)})");
    }

    public JsonElement Element => element;

    public bool Has(string name) => element.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    public CaseJson Object(string name) => new(Required(name, "an object"), file, Path(name));

    /// <summary>An integer of any sign (a token id, an offset).</summary>
    public int Int(string name) => AsInt(name, Required(name, "an integer"), int.MinValue, "an integer");

    public int Int(string name, int fallback) => Has(name) ? Int(name) : fallback;

    /// <summary>A width, head count or other size: an integer ≥ 1.</summary>
    public int Size(string name) => AsInt(name, Required(name, "a positive integer"), 1, "a positive integer");

    /// <summary>A layer or step count: an integer ≥ 0.</summary>
    public int Count(string name) => AsInt(name, Required(name, "a non-negative integer"), 0, "a non-negative integer");

    public int Count(string name, int fallback) => Has(name) ? Count(name) : fallback;

    /// <summary>A finite number.</summary>
    public double Number(string name)
    {
        var v = Required(name, "a finite number");
        return v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && double.IsFinite(d) ? d : throw Expected(name, "a finite number", v);
    }

    public float Single(string name) => (float)Number(name);

    public float Single(string name, float fallback) => Has(name) ? Single(name) : fallback;

    public bool Flag(string name)
    {
        var v = Required(name, "true or false");
        return v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw Expected(name, "true or false", v);
    }

    public bool Flag(string name, bool fallback) => Has(name) ? Flag(name) : fallback;

    public bool? OptionalFlag(string name) => Has(name) ? Flag(name) : null;

    public string Text(string name)
    {
        var v = Required(name, "a string");
        return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Expected(name, "a string", v);
    }

    public string? OptionalText(string name) => Has(name) ? Text(name) : null;

    /// <summary>An array of integers, each ≥ <paramref name="min"/>.</summary>
    public int[] Ints(string name, int min = 0)
    {
        string expected = min == 0 ? "an array of non-negative integers" : min == 1 ? "an array of positive integers" : "an array of integers";
        var v = Required(name, expected);
        if (v.ValueKind != JsonValueKind.Array) throw Expected(name, expected, v);
        var values = new int[v.GetArrayLength()];
        int i = 0;
        foreach (var e in v.EnumerateArray()) values[i] = AsInt($"{name}[{i++}]", e, min, expected);
        return values;
    }

    /// <summary>Two sizes, e.g. (H, W).</summary>
    public (int First, int Second) SizePair(string name)
    {
        var v = Ints(name, 1);
        return v.Length == 2 ? (v[0], v[1]) : throw Expected(name, "a pair of positive integers", Required(name, ""));
    }

    /// <summary>The number of entries of an array field.</summary>
    public int Length(string name)
    {
        var v = Required(name, "an array");
        return v.ValueKind == JsonValueKind.Array ? v.GetArrayLength() : throw Expected(name, "an array", v);
    }

    /// <summary>The error for a field that is present but not usable: "FILE: PATH must be EXPECTED (got VALUE)".</summary>
    public ModelFileException Expected(string name, string expected, JsonElement got) =>
        new($"{file}: {Path(name)} must be {expected} (got {Describe(got)})");

    private JsonElement Required(string name, string expected) =>
        element.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v
            : throw new ModelFileException($"{file}: {Path(name)} is missing (expected {expected})");

    private int AsInt(string name, JsonElement v, int min, string expected) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) && i >= min ? i : throw Expected(name, expected, v);

    private string Path(string name) => path.Length == 0 ? name : path + "." + name;

    private static string Describe(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.Undefined => "nothing",
        _ => Shorten(v.GetRawText()),
    };

    private static string Shorten(string raw) => raw.Length <= 40 ? raw : raw[..37] + "...";
}
