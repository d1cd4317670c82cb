using System.Buffers.Binary;

namespace PixelLLM.Runtime.SafeTensors;

/// <summary>One tensor of a file written by <see cref="SafeTensorsStreamWriter"/>: its header entry and how to make its data.</summary>
/// <param name="Name">Tensor name in the header.</param>
/// <param name="Desc">dtype and shape as stored; the produced tensor must match it exactly.</param>
/// <param name="Produce">Called once, when the tensor's turn comes; the result may be dropped right after it is written.</param>
public sealed record PlannedTensor(string Name, TensorDesc Desc, Func<HostTensor> Produce);

/// <summary>
/// Writes safetensors files whose tensors are produced one at a time, so a multi-gigabyte checkpoint never has to be in
/// memory at once: the header is built from the <see cref="PlannedTensor"/> descriptors, then each tensor is produced,
/// written and released. Same layout and atomic rename as <see cref="SafeTensorsWriter"/>.
/// </summary>
public static class SafeTensorsStreamWriter
{
    /// <summary>
    /// Writes <paramref name="plan"/> to <paramref name="path"/> (temporary name, renamed when complete).
    /// <paramref name="written"/>, when given, is told after each tensor (e.g. to release its source pages).
    /// Throws <see cref="ModelFileException"/> naming the tensor when a produced tensor does not match its descriptor.
    /// </summary>
    public static void Write(string path, IReadOnlyList<PlannedTensor> plan, IReadOnlyDictionary<string, string>? metadata = null,
        Action<PlannedTensor>? written = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(plan);
        var header = SafeTensorsWriter.BuildHeader(plan.Select(p => (p.Name, p.Desc)), metadata);
        WriteAtomically(path, stream =>
        {
            WritePrefix(stream, header);
            foreach (var entry in plan)
            {
                var tensor = entry.Produce();
                if (tensor.Desc != entry.Desc)
                    throw new ModelFileException($"{path}: tensor '{entry.Name}' was planned as {entry.Desc} but produced as {tensor.Desc}");
                stream.Write(tensor.Data.Span);
                written?.Invoke(entry);
            }
        });
    }

    /// <summary>
    /// Writes tensors whose shapes are not known up front: each is appended to a spool file beside <paramref name="path"/>
    /// as it arrives (only one is held at a time), then the header and the spooled data are copied into the final file.
    /// Costs one extra copy on disk; prefer the planned overload when descriptors are known.
    /// </summary>
    public static void Write(string path, IEnumerable<(string Name, HostTensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var full = Path.GetFullPath(path);
        var spool = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.spool");
        var layout = new List<(string Name, TensorDesc Desc)>();
        try
        {
            using (var data = new FileStream(spool, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                foreach (var (name, tensor) in tensors)
                {
                    if (tensor is null) throw new ArgumentNullException(nameof(tensors), $"tensor '{name}' is null");
                    layout.Add((name, tensor.Desc));
                    data.Write(tensor.Data.Span);
                }
            }
            var header = SafeTensorsWriter.BuildHeader(layout, metadata);
            WriteAtomically(full, stream =>
            {
                WritePrefix(stream, header);
                using var data = new FileStream(spool, FileMode.Open, FileAccess.Read, FileShare.None, 1 << 16);
                data.CopyTo(stream, 1 << 20);
            });
        }
        finally
        {
            SafeTensorsWriter.TryDelete(spool);
        }
    }

    private static void WritePrefix(Stream stream, byte[] header)
    {
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        stream.Write(prefix);
        stream.Write(header);
    }

    private static void WriteAtomically(string path, Action<FileStream> write)
    {
        var full = Path.GetFullPath(path);
        var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            SafeTensorsWriter.TryDelete(temp);
            throw;
        }
    }
}
