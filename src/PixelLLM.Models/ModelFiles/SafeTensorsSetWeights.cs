using PixelLLM.Runtime;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models.ModelFiles;

/// <summary>Several mapped safetensors files (e.g. shards) as one weight source; a name may appear in only one of them.</summary>
public sealed class SafeTensorsSetWeights : IWeightSource, IDisposable
{
    private readonly List<SafeTensorsFile> files = [];
    private readonly Dictionary<string, SafeTensorsFile> byName = new(StringComparer.Ordinal);

    /// <summary>Maps every file of <paramref name="paths"/>; throws <see cref="ModelFileException"/> on a name found twice.</summary>
    public SafeTensorsSetWeights(IEnumerable<string> paths)
    {
        try
        {
            foreach (var path in paths)
            {
                if (!File.Exists(path)) throw new ModelFileException($"{path}: weights file not found");
                var file = SafeTensorsFile.Open(path);
                files.Add(file);
                foreach (var name in file.Names)
                    if (!byName.TryAdd(name, file))
                        throw new ModelFileException($"tensor '{name}' is in both {byName[name].Path} and {file.Path}");
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The mapped files, in the order given.</summary>
    public IReadOnlyList<SafeTensorsFile> Files => files;

    /// <inheritdoc/>
    public IEnumerable<string> Names => byName.Keys;

    /// <inheritdoc/>
    public bool Contains(string name) => byName.ContainsKey(name);

    /// <summary>A zero-copy view of <paramref name="name"/> in its stored dtype.</summary>
    public HostTensor Get(string name) => byName.TryGetValue(name, out var file) ? file.Get(name)
        : throw new ModelFileException($"{string.Join(", ", files.Select(f => Path.GetFileName(f.Path)))}: no tensor named '{name}'");

    /// <summary>dtype and shape of <paramref name="name"/>, without touching its data.</summary>
    public TensorDesc Describe(string name) => byName.TryGetValue(name, out var file) ? file.Describe(name)
        : throw new ModelFileException($"no tensor named '{name}'");

    /// <summary>The file holding <paramref name="name"/>.</summary>
    public SafeTensorsFile FileOf(string name) => byName[name];

    /// <summary>Unmaps every file.</summary>
    public void Dispose()
    {
        foreach (var f in files) f.Dispose();
        files.Clear();
    }
}
