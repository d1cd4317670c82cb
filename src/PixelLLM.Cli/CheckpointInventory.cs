using PixelLLM.Runtime;
using PixelLLM.Runtime.Checkpoints;
using PixelLLM.Runtime.SafeTensors;

namespace PixelLLM.Cli;

/// <summary>One tensor as inspect lists it.</summary>
internal sealed record InspectedTensor(string Name, TensorDesc Desc);

/// <summary>The tensors of one checkpoint file, in the file's own order.</summary>
internal sealed record InspectedFile(string Path, string Format, IReadOnlyList<InspectedTensor> Tensors);

/// <summary>Reads the tensor names, dtypes and shapes (never the data) of checkpoint files, picking the reader by file name.</summary>
internal static class CheckpointInventory
{
    private static readonly string[] TorchExtensions = [".pth", ".pt", ".bin"];

    /// <summary>Checkpoint files a directory listing picks up.</summary>
    public static bool IsCheckpoint(string file)
    {
        var extension = Path.GetExtension(file).ToLowerInvariant();
        return extension == ".safetensors" || TorchExtensions.Contains(extension) || IsScenic(file);
    }

    /// <summary>Flax msgpack: a .msgpack file, or scenic's extension-less <c>checkpoint_&lt;step&gt;</c>.</summary>
    private static bool IsScenic(string file)
    {
        var name = Path.GetFileName(file);
        if (Path.GetExtension(name).Equals(".msgpack", StringComparison.OrdinalIgnoreCase)) return true;
        const string scenicPrefix = "checkpoint_";
        return name.Length > scenicPrefix.Length && name.StartsWith(scenicPrefix, StringComparison.Ordinal) &&
               name.AsSpan(scenicPrefix.Length).IndexOfAnyExceptInRange('0', '9') < 0;
    }

    /// <summary>
    /// <paramref name="path"/> as one file, or every checkpoint file directly inside it (sorted by name) when it is a directory.
    /// </summary>
    public static IReadOnlyList<InspectedFile> Load(string path)
    {
        if (Directory.Exists(path))
        {
            var files = Directory.EnumerateFiles(path).Where(IsCheckpoint).Order(StringComparer.Ordinal).ToList();
            if (files.Count == 0)
                throw new InvalidInputException($"{path}: the directory holds no .safetensors, .pth, .pt, .bin, .msgpack or checkpoint_<step> files");
            return files.Select(LoadFile).ToList();
        }
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: no such file or directory");
        return [LoadFile(path)];
    }

    private static InspectedFile LoadFile(string path)
    {
        var extension = Path.GetExtension(path).ToLowerInvariant();
        if (extension == ".safetensors")
        {
            using var file = SafeTensorsFile.Open(path);
            return new InspectedFile(path, "safetensors", file.Names.Select(n => new InspectedTensor(n, file.Describe(n))).ToList());
        }
        if (TorchExtensions.Contains(extension))
        {
            using var checkpoint = TorchCheckpoint.Open(path);
            return new InspectedFile(path, "pytorch", checkpoint.Names.Select(n => new InspectedTensor(n, checkpoint.Describe(n))).ToList());
        }
        if (IsScenic(path))
        {
            using var checkpoint = ScenicCheckpoint.Open(path);
            return new InspectedFile(path, "flax-msgpack", checkpoint.Names.Select(n => new InspectedTensor(n, checkpoint.Describe(n))).ToList());
        }
        throw new InvalidInputException($"{path}: unknown checkpoint type '{extension}'; expected .safetensors, .pth, .pt, .bin, " +
                                        ".msgpack or scenic's checkpoint_<step> (or a directory of them)");
    }
}
