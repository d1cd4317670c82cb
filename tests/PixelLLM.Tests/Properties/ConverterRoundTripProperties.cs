using CsCheck;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Checkpoints;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Properties;

/// <summary>
/// The converters' reading and writing on random parameter trees (names from a wide alphabet, nesting, tuples, 0-d and
/// empty arrays, every stored dtype): Flax msgpack written → <see cref="ScenicCheckpoint"/> read gives the same names, dtypes,
/// shapes and bytes; those tensors written as safetensors (the streaming writer <c>convert</c> uses, and the plain writer) and
/// read back are the same again.
/// </summary>
public sealed class ConverterRoundTripProperties : IDisposable
{
    private static readonly (string Numpy, DType Ours)[] DTypes =
        [("float32", DType.F32), ("float16", DType.F16), ("bfloat16", DType.BF16), ("int32", DType.I32), ("int64", DType.I64), ("uint8", DType.U8)];

    private const string NameCharacters = "abcdefghijklmnopqrstuvwxyzABCXYZ0123456789_.-:é";

    private readonly string dir = Path.Combine(Path.GetTempPath(), $"pixelllm-roundtrip-{Guid.NewGuid():N}");

    public ConverterRoundTripProperties() => Directory.CreateDirectory(dir);

    private sealed record Leaf(DType DType, int[] Shape, byte[] Data);

    /// <summary>A random module: unique keys, leaves and sub-modules (some empty, some tuples keyed 0, 1, …).</summary>
    private static FlaxMap Module(Random rng, int depth, string prefix, Dictionary<string, Leaf> leaves)
    {
        var map = new FlaxMap();
        bool tuple = depth > 0 && rng.Next(5) == 0;
        int entries = rng.Next(depth == 0 ? 1 : 0, 5);
        var used = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < entries; i++)
        {
            string key = tuple ? i.ToString(System.Globalization.CultureInfo.InvariantCulture)
                : new string(Enumerable.Range(0, 1 + rng.Next(8)).Select(_ => NameCharacters[rng.Next(NameCharacters.Length)]).ToArray());
            if (!used.Add(key)) continue;
            string path = prefix.Length == 0 ? key : prefix + "/" + key;
            if (depth < 3 && rng.Next(3) == 0) { map.Add(key, Module(rng, depth + 1, path, leaves)); continue; }
            var (numpy, ours) = DTypes[rng.Next(DTypes.Length)];
            var shape = Enumerable.Range(0, rng.Next(4)).Select(_ => rng.Next(6) == 0 ? 0 : 1 + rng.Next(5)).ToArray();
            var array = NdArray.Random(rng, numpy, shape);
            leaves[path] = new Leaf(ours, shape, array.Data);
            map.Add(key, array);
        }
        return map;
    }

    private static void AssertSame(IReadOnlyDictionary<string, Leaf> expected, IReadOnlyList<string> names, Func<string, HostTensor> get, string what)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), names.Order(StringComparer.Ordinal));
        foreach (var (name, leaf) in expected)
        {
            var t = get(name);
            Assert.Equal(leaf.DType, t.DType);
            Assert.Equal(leaf.Shape, t.Shape.ToArray());
            Assert.True(t.Data.Span.SequenceEqual(leaf.Data), $"{what}: '{name}' bytes differ");
        }
    }

    [Fact]
    public void MsgpackToSafetensorsRoundTripsEveryTensor()
    {
        int file = 0;
        Gen.Int[0, 1_000_000].Sample(seed =>
        {
            var rng = new Random(seed);
            var leaves = new Dictionary<string, Leaf>(StringComparer.Ordinal);
            var parameters = Module(rng, 0, "", leaves);
            var msgpack = Path.Combine(dir, $"{++file}.msgpack");
            File.WriteAllBytes(msgpack, ScenicCheckpointSamples.WithParams(parameters));

            using var checkpoint = ScenicCheckpoint.Open(msgpack);
            AssertSame(leaves, checkpoint.Names, checkpoint.Get, "msgpack");

            var streamed = Path.Combine(dir, $"{file}.stream.safetensors");
            SafeTensorsStreamWriter.Write(streamed, checkpoint.Names.Select(n => (n, checkpoint.Get(n))).ToList());
            using (var read = SafeTensorsFile.Open(streamed)) AssertSame(leaves, read.Names, read.Get, "streamed safetensors");

            var plain = Path.Combine(dir, $"{file}.safetensors");
            SafeTensorsWriter.Write(plain, checkpoint.Names.Select(n => new KeyValuePair<string, HostTensor>(n, checkpoint.Get(n))));
            using (var read = SafeTensorsFile.Open(plain)) AssertSame(leaves, read.Names, read.Get, "safetensors");
            Assert.Equal(File.ReadAllBytes(plain), File.ReadAllBytes(streamed));
        }, iter: 80, threads: 1);
    }

    public void Dispose()
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }
}
