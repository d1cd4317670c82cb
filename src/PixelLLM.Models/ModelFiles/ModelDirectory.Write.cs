using PixelLLM.Runtime;
using PixelLLM.Runtime.SafeTensors;

namespace PixelLLM.Models.ModelFiles;

public sealed partial class ModelDirectory
{
    /// <summary>
    /// Creates the model directory <paramref name="dir"/>: config.json from <paramref name="manifest"/>, the tokenizer copied from
    /// <paramref name="tokenizerSource"/>, and <paramref name="tensors"/> (engine names, any float dtype; converted to the
    /// manifest's storage dtype) in one safetensors file. Tensors are consumed one at a time and spooled to disk, so the
    /// enumeration may produce them lazily. Everything is written into a temporary sibling directory, validated by
    /// <see cref="Open(string)"/>, and only then renamed to <paramref name="dir"/> (replacing an existing model directory).
    /// </summary>
    public static void Write(string dir, ModelDirectoryManifest manifest, IEnumerable<(string Name, HostTensor Tensor)> tensors, string tokenizerSource)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        WriteAtomically(dir, manifest, tokenizerSource, weightsPath =>
            SafeTensorsStreamWriter.Write(weightsPath, tensors.Select(t => (t.Name, ToStorage(t.Tensor, manifest.StorageType, t.Name))), Metadata));
    }

    /// <summary>
    /// As <see cref="Write(string, ModelDirectoryManifest, IEnumerable{ValueTuple{string, HostTensor}}, string)"/> with tensors
    /// whose shapes are known up front: the file is written in one pass, each tensor produced only when its turn comes, and
    /// <paramref name="written"/> told after each (e.g. to release the source's pages). The descriptors' dtypes may be any
    /// float type; they are stored as the manifest's.
    /// </summary>
    public static void Write(string dir, ModelDirectoryManifest manifest, IReadOnlyList<PlannedTensor> tensors, string tokenizerSource,
        Action<PlannedTensor>? written = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var storage = manifest.StorageType;
        var plan = tensors.Select(p => p.Desc.DType.IsFloat() && p.Desc.DType != storage
            ? new PlannedTensor(p.Name, p.Desc with { DType = storage }, () => ToStorage(p.Produce(), storage, p.Name))
            : p with { Produce = () => ToStorage(p.Produce(), storage, p.Name) }).ToList();
        var original = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        WriteAtomically(dir, manifest, tokenizerSource, weightsPath =>
            SafeTensorsStreamWriter.Write(weightsPath, plan, Metadata, written is null ? null : p => written(original[p.Name])));
    }

    private static readonly Dictionary<string, string> Metadata = new(StringComparer.Ordinal) { ["format"] = ModelDirectoryManifest.Format };

    private static void WriteAtomically(string dir, ModelDirectoryManifest manifest, string tokenizerSource, Action<string> writeWeights)
    {
        ArgumentNullException.ThrowIfNull(dir);
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(tokenizerSource);
        if (string.IsNullOrWhiteSpace(dir)) throw new InvalidInputException("model directory path is empty, expected a folder to create");
        _ = ModelDirectoryManifest.DTypeName(manifest.StorageType);
        if (!File.Exists(tokenizerSource)) throw new ModelFileException($"{tokenizerSource}: tokenizer file not found");
        var target = System.IO.Path.GetFullPath(dir).TrimEnd(System.IO.Path.DirectorySeparatorChar);
        if (File.Exists(target)) throw new InvalidInputException($"{target}: exists and is a file, not a model directory");
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any() && !IsModelDirectory(target))
            throw new InvalidInputException($"{target}: exists and is not a model directory (no {ModelConfigFile.FileName}); refusing to replace it");
        var parent = System.IO.Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(parent);
        var temp = System.IO.Path.Combine(parent, $".{System.IO.Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(temp);
        try
        {
            File.Copy(tokenizerSource, System.IO.Path.Combine(temp, manifest.TokenizerFileName));
            writeWeights(System.IO.Path.Combine(temp, ModelDirectoryManifest.WeightsFileName));
            File.WriteAllText(System.IO.Path.Combine(temp, ModelConfigFile.FileName),
                ModelConfigFile.Serialize(manifest, [ModelDirectoryManifest.WeightsFileName]));
            using (Open(temp)) { }
            Replace(temp, target);
        }
        catch (Exception e) when (e is ModelFileException or InvalidInputException && e.Message.Contains(temp, StringComparison.Ordinal))
        {
            // The check reads the directory under its temporary name; the user knows it by the name they gave.
            TryDeleteDirectory(temp);
            var message = e.Message.Replace(System.IO.Path.Combine(temp, manifest.TokenizerFileName), tokenizerSource, StringComparison.Ordinal)
                .Replace(temp, target, StringComparison.Ordinal);
            throw e is ModelFileException ? new ModelFileException(message, e) : new InvalidInputException(message);
        }
        catch
        {
            TryDeleteDirectory(temp);
            throw;
        }
    }

    /// <summary>Moves <paramref name="temp"/> to <paramref name="target"/>; an existing target is moved aside first and deleted after.</summary>
    private static void Replace(string temp, string target)
    {
        if (!Directory.Exists(target)) { Directory.Move(temp, target); return; }
        var old = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(target)!, $".{System.IO.Path.GetFileName(target)}.{Guid.NewGuid():N}.old");
        Directory.Move(target, old);
        Directory.Move(temp, target);
        TryDeleteDirectory(old);
    }

    private static void TryDeleteDirectory(string path)
    {
        try { if (Directory.Exists(path)) Directory.Delete(path, recursive: true); }
        catch (IOException) { }              // best effort: the original error is the one worth reporting
        catch (UnauthorizedAccessException) { }
    }

    /// <summary><paramref name="tensor"/> in <paramref name="storage"/> when it is a float tensor; other dtypes as they are.</summary>
    public static HostTensor ToStorage(HostTensor tensor, DType storage, string name)
    {
        if (tensor is null) throw new ArgumentNullException(nameof(tensor), $"tensor '{name}' is null");
        if (!tensor.DType.IsFloat() || tensor.DType == storage) return tensor;
        var values = tensor.ToFloatArray();
        var result = HostTensor.Zeros(storage, tensor.Shape.ToArray());
        switch (storage)
        {
            case DType.F32: values.CopyTo(result.AsSpan<float>()); break;
            case DType.F16: { var dst = result.AsSpan<Half>(); for (int i = 0; i < values.Length; i++) dst[i] = (Half)values[i]; break; }
            case DType.BF16: BFloat16.FromSingles(values, result.AsSpan<ushort>()); break;
            default: throw new ArgumentOutOfRangeException(nameof(storage), storage, "storage dtype must be a float type");
        }
        return result;
    }
}
