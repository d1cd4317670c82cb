using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace PixelLLM.Runtime.Weights;

/// <summary>
/// The values of <see cref="RandomWeights"/> (same seed, name and shape → the same numbers), generated on first
/// <see cref="Get"/> instead of up front and kept once: a multi-billion-parameter model costs only the tensors a run
/// reads, and never two copies. A storage rule can keep chosen tensors as bf16 (rounded to nearest even), as a bf16
/// checkpoint would hold them; every other tensor is f32.
/// </summary>
public sealed class LazyRandomWeights : IWeightSource
{
    private readonly Dictionary<string, int[]> shapes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<HostTensor>> cache = new(StringComparer.Ordinal);
    private readonly int seed;
    private readonly Func<string, IReadOnlyList<int>, DType> storage;
    private long materialisedBytes;

    /// <param name="shapes">Name → shape; every shape needs ≥ 1 dimension and no negative sizes.</param>
    /// <param name="seed">Same seed, name and shape → same values (as <see cref="RandomWeights"/>).</param>
    /// <param name="storage">Name, shape → F32 or BF16 (null: everything F32).</param>
    public LazyRandomWeights(IEnumerable<KeyValuePair<string, int[]>> shapes, int seed, Func<string, IReadOnlyList<int>, DType>? storage = null)
    {
        this.storage = storage ?? ((_, _) => DType.F32);
        foreach (var (name, shape) in shapes)
        {
            if (shape.Length == 0 || shape.Any(d => d < 0))
                throw new ArgumentException($"LazyRandomWeights: tensor '{name}' has invalid shape [{string.Join(", ", shape)}]", nameof(shapes));
            if (!this.shapes.TryAdd(name, shape)) throw new ArgumentException($"LazyRandomWeights: tensor '{name}' listed twice", nameof(shapes));
        }
        this.seed = seed;
        TotalBytes = this.shapes.Sum(p => new Shape(p.Value).ElementCount * StorageOf(p.Key, p.Value).SizeOf());
    }

    /// <summary>Bytes of all tensors once every one has been read.</summary>
    public long TotalBytes { get; }

    /// <summary>Bytes of the tensors generated so far.</summary>
    public long MaterialisedBytes => Interlocked.Read(ref materialisedBytes);

    public IEnumerable<string> Names => shapes.Keys;
    public bool Contains(string name) => shapes.ContainsKey(name);

    /// <summary>The shape of <paramref name="name"/> without generating it.</summary>
    public IReadOnlyList<int> ShapeOf(string name) => shapes.TryGetValue(name, out var s) ? s
        : throw new ModelFileException($"random weights: missing tensor '{name}'");

    public HostTensor Get(string name)
    {
        if (!shapes.TryGetValue(name, out var shape)) throw new ModelFileException($"random weights: missing tensor '{name}'");
        // Lazy: two threads asking for one tensor at once must not both generate (and hold) it.
        return cache.GetOrAdd(name, n => new Lazy<HostTensor>(() => Generate(n, shape))).Value;
    }

    private DType StorageOf(string name, int[] shape) => storage(name, shape) switch
    {
        DType.F32 => DType.F32,
        DType.BF16 => DType.BF16,
        var other => throw new ArgumentException($"LazyRandomWeights: tensor '{name}' can be stored F32 or BF16, not {other}"),
    };

    private HostTensor Generate(string name, int[] shape)
    {
        var desc = new TensorDesc(StorageOf(name, shape), new Shape(shape));
        var bytes = GC.AllocateUninitializedArray<byte>(checked((int)desc.ByteSize));
        long count = desc.ElementCount, blocks = (count + RandomWeights.Block - 1) / RandomWeights.Block;
        bool bf16 = desc.DType == DType.BF16;
        Parallel.For(0L, blocks, () => bf16 ? new float[RandomWeights.Block] : null, (block, _, scratch) =>
        {
            long start = block * RandomWeights.Block;
            int length = (int)Math.Min(RandomWeights.Block, count - start);
            if (!bf16)
            {
                RandomWeights.FillRange(name, shape, seed, start, MemoryMarshal.Cast<byte, float>(bytes.AsSpan()).Slice((int)start, length));
                return scratch;
            }
            var values = scratch.AsSpan(0, length);
            RandomWeights.FillRange(name, shape, seed, start, values);
            BFloat16.FromSingles(values, MemoryMarshal.Cast<byte, ushort>(bytes.AsSpan()).Slice((int)start, length));
            return scratch;
        }, _ => { });
        Interlocked.Add(ref materialisedBytes, bytes.LongLength);
        return new HostTensor(desc, bytes);
    }
}
