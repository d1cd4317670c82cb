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

/// <summary>Converts every tensor to f32 on first use (the CPU backend's compute type) and caches it.</summary>
public sealed class Float32Weights(IWeightSource inner) : IWeightSource
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, HostTensor> cache = new(StringComparer.Ordinal);
    public IEnumerable<string> Names => inner.Names;
    public bool Contains(string name) => inner.Contains(name);
    public HostTensor Get(string name) => cache.GetOrAdd(name, n =>
    {
        var t = inner.Get(n);
        return t.DType is DType.F16 or DType.BF16 ? t.ToF32() : t;
    });
}
