using System.Text.Json;
using PixelLLM.Models.ModelFiles;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Checkpoints;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.WeightsTools;

/// <summary>
/// Any checkpoint a converter reads, mapped and presented under its own tensor names: a .safetensors file, a sharded
/// Hugging Face checkpoint (its <c>*.safetensors.index.json</c>, or a directory holding one or more .safetensors), a
/// torch.save file (.pth/.pt/.bin) or a Flax msgpack (.msgpack, scenic's <c>checkpoint_&lt;step&gt;</c>; only params).
/// Tensors are views into the mapping in their stored dtype; <see cref="ReleasePages"/> drops a written tensor's pages.
/// </summary>
public sealed class CheckpointSource : IWeightSource, IDisposable
{
    private readonly IWeightSource inner;
    private readonly IDisposable owner;
    private readonly Func<string, TensorDesc> describe;
    private readonly Action<string> release;

    private CheckpointSource(string path, string format, IWeightSource inner, IDisposable owner, Func<string, TensorDesc> describe, Action<string> release)
    {
        Path = path; Format = format; this.inner = inner; this.owner = owner; this.describe = describe; this.release = release;
    }

    /// <summary>The path opened.</summary>
    public string Path { get; }

    /// <summary>"safetensors", "pytorch" or "flax-msgpack".</summary>
    public string Format { get; }

    /// <summary>Opens <paramref name="path"/>, choosing the reader by name (see the class summary).</summary>
    public static CheckpointSource Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
        {
            var index = Directory.EnumerateFiles(path, "*.safetensors.index.json").Order(StringComparer.Ordinal).FirstOrDefault();
            if (index is not null) return OpenShards(index);
            var files = Directory.EnumerateFiles(path, "*.safetensors").Order(StringComparer.Ordinal).ToList();
            if (files.Count == 0) throw new InvalidInputException($"{path}: the directory holds no .safetensors files or index");
            return FromSet(path, files);
        }
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: no such file or directory");
        var name = System.IO.Path.GetFileName(path);
        if (name.EndsWith(".safetensors.index.json", StringComparison.OrdinalIgnoreCase)) return OpenShards(path);
        var extension = System.IO.Path.GetExtension(name).ToLowerInvariant();
        if (extension == ".safetensors")
        {
            var file = SafeTensorsFile.Open(path);
            return new CheckpointSource(path, "safetensors", new SafeTensorsFileWeights(file), file, file.Describe, file.ReleasePages);
        }
        if (extension is ".pth" or ".pt" or ".bin")
        {
            var torch = TorchCheckpoint.Open(path);
            return new CheckpointSource(path, "pytorch", torch, torch, torch.Describe, torch.ReleasePages);
        }
        if (extension == ".msgpack" || name.StartsWith("checkpoint_", StringComparison.Ordinal))
        {
            var scenic = ScenicCheckpoint.Open(path);
            return new CheckpointSource(path, "flax-msgpack", scenic, scenic, scenic.Describe, scenic.ReleasePages);
        }
        throw new InvalidInputException($"{path}: unknown checkpoint type; expected .safetensors (or a *.safetensors.index.json), .pth/.pt/.bin, .msgpack or checkpoint_<step>");
    }

    private static CheckpointSource OpenShards(string indexPath)
    {
        JsonDocument index;
        FileKind.RequireRegularInput(indexPath, "a shard index file");
        try { index = JsonDocument.Parse(File.ReadAllBytes(indexPath)); }
        catch (JsonException e) { throw new ModelFileException($"{indexPath}: not valid JSON ({e.Message})", e); }
        using (index)
        {
            if (!index.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new ModelFileException($"{indexPath}: missing object field 'weight_map'");
            var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
            var shards = new List<string>();
            foreach (var entry in map.EnumerateObject())
            {
                var shard = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString()! : "";
                if (shard.Length == 0 || shard != System.IO.Path.GetFileName(shard))
                    throw new ModelFileException($"{indexPath}: weight_map['{entry.Name}'] must name a file beside the index");
                if (!shards.Contains(shard)) shards.Add(shard);
            }
            var set = new SafeTensorsSetWeights(shards.Select(s => System.IO.Path.Combine(dir, s)));
            foreach (var entry in map.EnumerateObject())
            {
                if (!set.Contains(entry.Name) || System.IO.Path.GetFileName(set.FileOf(entry.Name).Path) != entry.Value.GetString())
                {
                    set.Dispose();
                    throw new ModelFileException($"{indexPath}: weight_map lists '{entry.Name}' in {entry.Value.GetString()}, which does not hold it");
                }
            }
            return new CheckpointSource(indexPath, "safetensors", set, set, set.Describe, n => set.FileOf(n).ReleasePages(n));
        }
    }

    private static CheckpointSource FromSet(string path, IEnumerable<string> files)
    {
        var set = new SafeTensorsSetWeights(files);
        return new CheckpointSource(path, "safetensors", set, set, set.Describe, n => set.FileOf(n).ReleasePages(n));
    }

    /// <inheritdoc/>
    public IEnumerable<string> Names => inner.Names;

    /// <inheritdoc/>
    public bool Contains(string name) => inner.Contains(name);

    /// <inheritdoc/>
    public HostTensor Get(string name) => inner.Get(name);

    /// <summary>dtype and shape of <paramref name="name"/> without reading its data.</summary>
    public TensorDesc Describe(string name) => describe(name);

    /// <summary>Drops the resident pages of <paramref name="name"/> (best effort): for streaming conversions.</summary>
    public void ReleasePages(string name) => release(name);

    /// <summary>Unmaps the file(s).</summary>
    public void Dispose() => owner.Dispose();

    private sealed class SafeTensorsFileWeights(SafeTensorsFile file) : IWeightSource
    {
        public IEnumerable<string> Names => file.Names;
        public bool Contains(string name) => file.Contains(name);
        public HostTensor Get(string name) => file.Get(name);
    }
}
