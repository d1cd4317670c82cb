using System.Text.Json;
using System.Text.Unicode;

namespace PixelLLM.Runtime.SafeTensors;

/// <summary>The validated content of a safetensors header: tensor entries in header order, and the metadata map.</summary>
internal sealed record SafeTensorsHeader(IReadOnlyList<SafeTensorsEntry> Entries, IReadOnlyDictionary<string, string> Metadata)
{
    /// <summary>Headers longer than this are rejected before anything is parsed (the reference implementation's bound).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Deeper shapes are rejected; no real model comes close, and it bounds the work per entry.</summary>
    public const int MaxRank = 64;

    public const string MetadataKey = "__metadata__";

    /// <summary>
    /// Parses and validates the header JSON. Every entry's byte range is checked against <paramref name="dataLength"/>
    /// (the size of the data section), against its dtype and shape, and against every other entry's range.
    /// </summary>
    public static SafeTensorsHeader Parse(ReadOnlySpan<byte> json, long dataLength, string file)
    {
        if (!Utf8.IsValid(json))
            throw new SafeTensorsException($"{file}: the header is not valid UTF-8");

        // Depth 3 is all a valid header needs (root → entry → shape array); anything deeper is rejected by the
        // token checks below before the reader's own limit matters.
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
        var entries = new List<SafeTensorsEntry>();
        IReadOnlyDictionary<string, string> metadata = new Dictionary<string, string>();
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw new SafeTensorsException($"{file}: the header must be a JSON object mapping tensor names to entries");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                var name = ReadString(ref reader, file, "a tensor name");
                if (!seen.Add(name))
                    throw new SafeTensorsException($"{file}: the header names '{name}' more than once");
                if (name == MetadataKey)
                    metadata = ParseMetadata(ref reader, file);
                else
                    entries.Add(SafeTensorsEntryParser.Parse(ref reader, name, dataLength, file));
            }
            if (reader.TokenType != JsonTokenType.EndObject)
                throw new SafeTensorsException($"{file}: the header JSON ends before its closing brace");
            // Only whitespace (the writer's padding) may follow; the reader throws on anything else.
            if (reader.Read())
                throw new SafeTensorsException($"{file}: unexpected content after the header's JSON object");
        }
        catch (JsonException e)
        {
            throw new SafeTensorsException($"{file}: the header is not valid JSON ({e.Message})", e);
        }
        CheckNoOverlap(entries, file);
        return new SafeTensorsHeader(entries, metadata);
    }

    private static Dictionary<string, string> ParseMetadata(ref Utf8JsonReader reader, string file)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        reader.Read();
        if (reader.TokenType == JsonTokenType.Null) return map; // what serde writes for "no metadata"
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new SafeTensorsException($"{file}: {MetadataKey} must be a JSON object mapping strings to strings, got {reader.TokenType}");
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var key = ReadString(ref reader, file, $"a {MetadataKey} key");
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
                throw new SafeTensorsException($"{file}: {MetadataKey} must map strings to strings; '{key}' maps to a {reader.TokenType}");
            var value = ReadString(ref reader, file, $"the {MetadataKey} value of '{key}'");
            if (!map.TryAdd(key, value))
                throw new SafeTensorsException($"{file}: {MetadataKey} has the key '{key}' more than once");
        }
        return map;
    }

    /// <summary>Reads the current string or property-name token, turning undecodable text into a file error.</summary>
    internal static string ReadString(ref Utf8JsonReader reader, string file, string what)
    {
        try
        {
            return reader.GetString() ?? throw new SafeTensorsException($"{file}: {what} is null");
        }
        catch (InvalidOperationException e)
        {
            throw new SafeTensorsException($"{file}: {what} is not a decodable JSON string", e);
        }
    }

    private static void CheckNoOverlap(List<SafeTensorsEntry> entries, string file)
    {
        // Zero-length tensors occupy no bytes, so they cannot overlap anything wherever they point.
        var byStart = entries.Where(e => e.Length > 0).OrderBy(e => e.Begin).ThenBy(e => e.End).ToArray();
        for (int i = 1; i < byStart.Length; i++)
        {
            var (previous, current) = (byStart[i - 1], byStart[i]);
            if (current.Begin < previous.End)
                throw new SafeTensorsException(
                    $"{file}: tensor '{current.Name}' bytes [{current.Begin}, {current.End}) overlap tensor " +
                    $"'{previous.Name}' bytes [{previous.Begin}, {previous.End}); tensors must not share data");
        }
    }
}
