using PixelLLM.Runtime;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Tests.Support;

/// <summary>
/// A weight source holding exactly the tensors of a shape table, recording which names a graph build reads. Without
/// explicit data every tensor is a zero view of one shared buffer, so real-size models build without gigabytes of weights.
/// </summary>
internal sealed class RecordingWeights : IWeightSource
{
    private readonly Dictionary<string, HostTensor> tensors;
    private readonly HashSet<string> read = new(StringComparer.Ordinal);

    public RecordingWeights(IReadOnlyDictionary<string, int[]> shapes)
    {
        long largest = shapes.Values.Select(s => 4L * s.Aggregate(1L, (a, b) => a * b)).DefaultIfEmpty(0).Max();
        var zeros = new byte[largest];
        tensors = shapes.ToDictionary(kv => kv.Key, kv =>
        {
            var desc = new TensorDesc(DType.F32, new Shape(kv.Value));
            return new HostTensor(desc, zeros.AsMemory(0, (int)desc.ByteSize));
        }, StringComparer.Ordinal);
    }

    public RecordingWeights(IWeightSource data)
    {
        tensors = data.Names.ToDictionary(n => n, data.Get, StringComparer.Ordinal);
    }

    /// <summary>Names fetched with <see cref="Get"/> so far.</summary>
    public IReadOnlySet<string> Read => read;

    public IEnumerable<string> Names => tensors.Keys;
    public bool Contains(string name) => tensors.ContainsKey(name);

    public HostTensor Get(string name)
    {
        if (!tensors.TryGetValue(name, out var t)) throw new ModelFileException($"recording weights: missing tensor '{name}'");
        read.Add(name);
        return t;
    }

    /// <summary>The table with one dimension of one entry grown by one (a mis-shaped checkpoint).</summary>
    public static Dictionary<string, int[]> WithGrownDim(IReadOnlyDictionary<string, int[]> shapes, string name, int dim)
    {
        var copy = shapes.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var shape = (int[])copy[name].Clone();
        shape[dim]++;
        copy[name] = shape;
        return copy;
    }
}
