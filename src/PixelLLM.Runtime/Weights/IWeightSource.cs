namespace PixelLLM.Runtime.Weights;

/// <summary>Named tensors a model reads its parameters from (a safetensors file, a model directory, a dictionary).</summary>
public interface IWeightSource
{
    IEnumerable<string> Names { get; }
    bool Contains(string name);
    /// <summary>The tensor; a missing name throws <see cref="ModelFileException"/> naming it.</summary>
    HostTensor Get(string name);
}

/// <summary>Weights held in memory, e.g. built by a converter or a test.</summary>
public sealed class DictionaryWeights(IReadOnlyDictionary<string, HostTensor> tensors, string origin = "weights") : IWeightSource
{
    public IEnumerable<string> Names => tensors.Keys;
    public bool Contains(string name) => tensors.ContainsKey(name);
    public HostTensor Get(string name) => tensors.TryGetValue(name, out var t) ? t
        : throw new ModelFileException($"{origin}: missing tensor '{name}'");
}

/// <summary>The tensors of <paramref name="inner"/> whose names start with "<paramref name="prefix"/>.", with the prefix removed.</summary>
public sealed class ScopedWeights(IWeightSource inner, string prefix) : IWeightSource
{
    private readonly string dotted = prefix.Length == 0 ? "" : prefix + ".";
    public IEnumerable<string> Names => inner.Names.Where(n => n.StartsWith(dotted, StringComparison.Ordinal)).Select(n => n[dotted.Length..]);
    public bool Contains(string name) => inner.Contains(dotted + name);
    public HostTensor Get(string name) => inner.Get(dotted + name);
}

/// <summary>
/// Every float tensor of <paramref name="inner"/> as f32 (the CPU backend's compute type), widened on first read and cached.
/// With <paramref name="bf16Linear"/>, every rank-2 float tensor also offers a bf16 <see cref="HostTensor.LinearForm"/> (the
/// stored bytes when stored bf16, else rounded on first use), so Linear weights are held and read in bf16 and the f32
/// copy of a bf16 matrix is made only if another op reads it (an embedding table).
/// </summary>
public sealed class Float32Weights(IWeightSource inner, bool bf16Linear = false) : IWeightSource
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, HostTensor> cache = new(StringComparer.Ordinal);
    public IEnumerable<string> Names => inner.Names;
    public bool Contains(string name) => inner.Contains(name);

    public HostTensor Get(string name) => cache.GetOrAdd(name, n => Convert(inner.Get(n)));

    private HostTensor Convert(HostTensor stored)
    {
        if (!stored.DType.IsFloat()) return stored;
        var f32 = stored.ToF32Deferred();
        return bf16Linear && stored.Shape.Rank == 2 ? new HostTensor(f32.Desc, f32.Data) { LinearForm = stored.ToBf16Deferred() } : f32;
    }
}
