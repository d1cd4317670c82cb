using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace PixelLLM.Tests.Support;

/// <summary>The committed torch.save fixtures (Fixtures/Torch, made by generate_torch_fixtures.py).</summary>
internal static class TorchFixtures
{
    private static readonly Lazy<string> directory = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, "tests", "PixelLLM.Tests", "Fixtures", "Torch");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException($"tests/PixelLLM.Tests/Fixtures/Torch not found above {AppContext.BaseDirectory}");
    });

    public static string Path(string file) => System.IO.Path.Combine(directory.Value, file);
}

/// <summary>Writes pickle opcodes by hand, so tests can build exactly the (malformed) pickles they need.</summary>
internal sealed class PickleBuilder
{
    private readonly MemoryStream bytes = new();

    public PickleBuilder Op(char opcode) => Raw((byte)opcode);
    public PickleBuilder Raw(params byte[] data) { bytes.Write(data); return this; }
    public PickleBuilder Proto(byte version = 2) => Raw(0x80, version);
    public PickleBuilder Mark() => Op('(');
    public PickleBuilder Stop() => Op('.');
    public PickleBuilder EmptyDict() => Op('}');
    public PickleBuilder EmptyList() => Op(']');
    public PickleBuilder EmptyTuple() => Op(')');
    public PickleBuilder Tuple() => Op('t');
    public PickleBuilder SetItem() => Op('s');
    public PickleBuilder SetItems() => Op('u');
    public PickleBuilder Append() => Op('a');
    public PickleBuilder Reduce() => Op('R');
    public PickleBuilder PersId() => Op('Q');
    public PickleBuilder False() => Raw(0x89);
    public PickleBuilder None() => Op('N');
    public PickleBuilder Put(byte index) => Raw((byte)'q', index);
    public PickleBuilder Get(byte index) => Raw((byte)'h', index);
    public PickleBuilder Global(string module, string name) => Op('c').Raw(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));

    public PickleBuilder Str(string text)
    {
        var utf8 = Encoding.UTF8.GetBytes(text);
        var length = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(length, utf8.Length);
        return Op('X').Raw(length).Raw(utf8);
    }

    public PickleBuilder Int(long value)
    {
        if (value is >= 0 and < 256) return Raw((byte)'K', (byte)value);
        if (value is >= int.MinValue and <= int.MaxValue)
        {
            var four = new byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(four, (int)value);
            return Op('J').Raw(four);
        }
        var eight = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(eight, value);
        return Raw(0x8a, 8).Raw(eight);
    }

    public PickleBuilder IntTuple(params long[] values)
    {
        Mark();
        foreach (var v in values) Int(v);
        return Tuple();
    }

    /// <summary>_rebuild_tensor_v2(('storage', torch.&lt;type&gt;, key, 'cpu', numel), offset, size, stride, False, OrderedDict()).</summary>
    public PickleBuilder Tensor(string storageType, string key, long numel, long offset, long[] size, long[] stride)
    {
        Global("torch._utils", "_rebuild_tensor_v2").Mark();
        Mark().Str("storage").Global("torch", storageType).Str(key).Str("cpu").Int(numel).Tuple().PersId();
        Int(offset).IntTuple(size).IntTuple(stride).False().Global("collections", "OrderedDict").EmptyTuple().Reduce();
        return Tuple().Reduce();
    }

    /// <summary>A dict { name: tensor of 'FloatStorage' key "0" } with the given view, ready to Stop.</summary>
    public static PickleBuilder OneTensor(long numel, long offset, long[] size, long[] stride, string storageType = "FloatStorage") =>
        new PickleBuilder().Proto().EmptyDict().Str("w").Tensor(storageType, "0", numel, offset, size, stride).SetItem();

    public byte[] ToArray() => bytes.ToArray();
}

/// <summary>Builds torch.save-shaped zip archives around a hand-made pickle.</summary>
internal static class TorchZip
{
    public static void Write(string path, byte[] pickle, IReadOnlyDictionary<string, byte[]>? storages = null,
        string archive = "archive", string? byteorder = null, string pickleName = "data.pkl")
    {
        using var stream = File.Create(path);
        using var zip = new ZipArchive(stream, ZipArchiveMode.Create);
        void Add(string name, byte[] data)
        {
            var entry = zip.CreateEntry(name, CompressionLevel.NoCompression);
            using var s = entry.Open();
            s.Write(data);
        }
        Add($"{archive}/{pickleName}", pickle);
        if (byteorder is not null) Add($"{archive}/byteorder", Encoding.ASCII.GetBytes(byteorder));
        foreach (var (key, data) in storages ?? new Dictionary<string, byte[]>()) Add($"{archive}/data/{key}", data);
        Add($"{archive}/version", "3\n"u8.ToArray());
    }

    /// <summary>Float storage "0" holding 0, 1, 2, ... (<paramref name="count"/> floats).</summary>
    public static Dictionary<string, byte[]> CountingFloats(int count)
    {
        var data = new byte[count * 4];
        for (int i = 0; i < count; i++) BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(i * 4), i);
        return new() { ["0"] = data };
    }
}
