using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PixelLLM.Runtime.Weights;

/// <summary>
/// Seeded random f32 tensors for a table of parameter shapes (e.g. a module's <c>ParameterShapes</c>): weights of real
/// size for timing and memory checks without a checkpoint. Every tensor is generated up front, in parallel.
/// </summary>
/// <remarks>
/// Magnitudes follow the golden README's init rule, with N a zero-mean, unit-variance variable: names ending in "bias"
/// 0.1·N; other 1-D "weight"s (norm scales) 1 + 0.1·N; ≥2-D "weight"s N/√fan_in, fan_in = the product of all dims but
/// the first; anything else (pos_embed, rel_pos_*, cls_token) 0.2·N. N is uniform on [−√3, √3), not Gaussian: only the
/// scale matters for keeping activations O(1), and uniform values are several times cheaper for a billion of them.
/// Values depend only on (seed, name, shape), not on the table's order or the thread count: each 64 Ki-element block
/// of a tensor has its own generator seeded from those.
/// </remarks>
public sealed class RandomWeights : IWeightSource
{
    private const int BlockElements = 1 << 16;
    private readonly Dictionary<string, HostTensor> tensors;

    /// <param name="shapes">Name → shape; every shape needs ≥ 1 dimension and no negative sizes.</param>
    /// <param name="seed">Same seed, name and shape → same values.</param>
    public RandomWeights(IEnumerable<KeyValuePair<string, int[]>> shapes, int seed)
    {
        tensors = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        var blocks = new List<(string Name, HostTensor Tensor, float Offset, float Scale, long Block)>();
        foreach (var (name, shape) in shapes)
        {
            if (shape.Length == 0 || shape.Any(d => d < 0))
                throw new ArgumentException($"RandomWeights: tensor '{name}' has invalid shape [{string.Join(", ", shape)}]", nameof(shapes));
            var desc = new TensorDesc(DType.F32, new Shape(shape));
            var tensor = new HostTensor(desc, GC.AllocateUninitializedArray<byte>(checked((int)desc.ByteSize)));
            if (!tensors.TryAdd(name, tensor)) throw new ArgumentException($"RandomWeights: tensor '{name}' listed twice", nameof(shapes));
            var (offset, scale) = InitRule(name, shape);
            for (long b = 0; b * BlockElements < desc.ElementCount; b++) blocks.Add((name, tensor, offset, scale, b));
        }
        TotalBytes = tensors.Values.Sum(t => t.Desc.ByteSize);
        Parallel.ForEach(blocks, b =>
        {
            var values = MemoryMarshal.Cast<byte, float>(b.Tensor.Data.Span);
            long start = b.Block * BlockElements;
            Fill(values.Slice((int)start, (int)Math.Min(BlockElements, values.Length - start)),
                Mix((ulong)(uint)seed, NameHash(b.Name), (ulong)b.Block), b.Offset, b.Scale);
        });
    }

    /// <summary>Bytes of all tensors together.</summary>
    public long TotalBytes { get; }

    public IEnumerable<string> Names => tensors.Keys;
    public bool Contains(string name) => tensors.ContainsKey(name);
    public HostTensor Get(string name) => tensors.TryGetValue(name, out var t) ? t
        : throw new ModelFileException($"random weights: missing tensor '{name}'");

    /// <summary>
    /// Fills <paramref name="values"/> (the whole tensor <paramref name="name"/>) with exactly the values the constructor
    /// gives it for <paramref name="seed"/>; <paramref name="start"/> is the first element's index (a multiple of 65536),
    /// so a tensor can be generated in pieces (e.g. straight into bf16 storage by <see cref="LazyRandomWeights"/>).
    /// </summary>
    internal static void FillRange(string name, IReadOnlyList<int> shape, int seed, long start, Span<float> values)
    {
        if (start % BlockElements != 0) throw new ArgumentException($"start {start} is not a multiple of {BlockElements}", nameof(start));
        var (offset, scale) = InitRule(name, shape);
        ulong nameHash = NameHash(name);
        for (int done = 0; done < values.Length; done += BlockElements)
        {
            long block = (start + done) / BlockElements;
            Fill(values.Slice(done, Math.Min(BlockElements, values.Length - done)), Mix((ulong)(uint)seed, nameHash, (ulong)block), offset, scale);
        }
    }

    /// <summary>Elements per generator block: <see cref="FillRange"/> pieces start at multiples of it.</summary>
    internal const int Block = BlockElements;

    /// <summary>(offset, scale) of a tensor's values: offset + scale·N (see the class remarks).</summary>
    public static (float Offset, float Scale) InitRule(string name, IReadOnlyList<int> shape)
    {
        if (name.EndsWith("bias", StringComparison.Ordinal)) return (0f, 0.1f);
        if (!name.EndsWith("weight", StringComparison.Ordinal)) return (0f, 0.2f);
        if (shape.Count == 1) return (1f, 0.1f);
        long fanIn = 1;
        for (int i = 1; i < shape.Count; i++) fanIn *= shape[i];
        return (0f, (float)(1.0 / Math.Sqrt(Math.Max(fanIn, 1))));
    }

    // SplitMix64: two uniform 32-bit draws per step, mapped to [−√3, √3) (unit variance). Optimised from the first call:
    // each call is short, so tiered compilation would run most of a model's fill in unoptimised code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Fill(Span<float> values, ulong state, float offset, float scale)
    {
        float toUnit = MathF.Sqrt(3f) / 2147483648f * scale;
        int i = 0;
        for (; i + 1 < values.Length; i += 2)
        {
            ulong z = Next(ref state);
            values[i] = offset + (int)(uint)z * toUnit;
            values[i + 1] = offset + (int)(uint)(z >> 32) * toUnit;
        }
        if (i < values.Length) values[i] = offset + (int)(uint)Next(ref state) * toUnit;
    }

    private static ulong Next(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong Mix(ulong seed, ulong name, ulong block)
    {
        ulong h = Next(ref seed) ^ name;
        h = Next(ref h) ^ (block * 0xD6E8FEB86659FD93UL);
        return Next(ref h);
    }

    // FNV-1a over the UTF-16 code units: stable across processes (string.GetHashCode is randomised per process).
    private static ulong NameHash(string name)
    {
        ulong h = 0xCBF29CE484222325UL;
        foreach (char ch in name) h = (h ^ ch) * 0x100000001B3UL;
        return h;
    }
}
