using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace PixelLLM.Runtime.SafeTensors;

/// <summary>Writes safetensors files in the standard layout, atomically.</summary>
public static class SafeTensorsWriter
{
    private const int Alignment = 8;

    /// <summary>
    /// Writes <paramref name="tensors"/> (data in the given order) and optional <paramref name="metadata"/> to
    /// <paramref name="path"/>: an 8-byte little-endian header length, the JSON header padded with spaces so the data
    /// section starts 8-byte aligned, then each tensor's bytes back to back. The file is written beside
    /// <paramref name="path"/> under a temporary name and renamed over it only once complete, so a failure never leaves
    /// a partial file at <paramref name="path"/>.
    /// </summary>
    /// <remarks>
    /// Tensors are packed without gaps: the reference implementation rejects files whose data ranges leave holes, so
    /// per-tensor alignment is the caller's to arrange through the order (e.g. widest dtypes first).
    /// </remarks>
    public static void Write(string path, IEnumerable<KeyValuePair<string, HostTensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var fullPath = System.IO.Path.GetFullPath(path);
        var directory = System.IO.Path.GetDirectoryName(fullPath)!;
        var temp = System.IO.Path.Combine(directory, $".{System.IO.Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                Write(stream, tensors, metadata);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>The same file's bytes, written to <paramref name="stream"/> (the caller decides where they land).</summary>
    public static void Write(Stream stream, IEnumerable<KeyValuePair<string, HostTensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        foreach (var (name, tensor) in list)
            if (tensor is null) throw new ArgumentNullException(nameof(tensors), $"tensor '{name}' is null");
        var header = BuildHeader(list.Select(t => (t.Key, t.Value.Desc)), metadata);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        stream.Write(prefix);
        stream.Write(header);
        foreach (var (_, tensor) in list) stream.Write(tensor.Data.Span);
    }

    /// <summary>The header JSON, space-padded to a multiple of <see cref="Alignment"/> bytes.</summary>
    internal static byte[] BuildHeader(IEnumerable<(string Name, TensorDesc Desc)> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        // Relaxed escaping keeps names readable ('+', '<' ...); the output is still plain, valid JSON.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(SafeTensorsHeader.MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    ArgumentNullException.ThrowIfNull(value, $"metadata['{key}']");
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
            }
            var names = new HashSet<string>(StringComparer.Ordinal);
            long offset = 0;
            foreach (var (name, desc) in tensors)
            {
                ArgumentNullException.ThrowIfNull(name, "tensor name");
                ArgumentNullException.ThrowIfNull(desc, $"descriptor of tensor '{name}'");
                if (name == SafeTensorsHeader.MetadataKey)
                    throw new ArgumentException($"'{name}' is reserved for the metadata map and cannot name a tensor", nameof(tensors));
                if (!names.Add(name))
                    throw new ArgumentException($"tensor name '{name}' is given more than once", nameof(tensors));
                json.WriteStartObject(name);
                json.WriteString("dtype", desc.DType.SafetensorsName());
                json.WriteStartArray("shape");
                foreach (var d in desc.Shape.Dims) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + desc.ByteSize);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += desc.ByteSize;
            }
            json.WriteEndObject();
        }
        int padded = (buffer.WrittenCount + Alignment - 1) / Alignment * Alignment;
        if (padded > SafeTensorsHeader.MaxHeaderBytes)
            throw new ArgumentException($"the header would be {padded} bytes, over the {SafeTensorsHeader.MaxHeaderBytes}-byte limit readers accept");
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    internal static void TryDelete(string file)
    {
        try { File.Delete(file); }
        catch (IOException) { } // best effort: the original error is the one worth reporting
        catch (UnauthorizedAccessException) { }
    }
}
