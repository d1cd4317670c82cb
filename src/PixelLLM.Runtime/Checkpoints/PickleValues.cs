namespace PixelLLM.Runtime.Checkpoints;

// The values the restricted unpickler builds. Python scalars map to C# ones (None → null, int → long, float → double,
// str → string, bool → bool); tuples are object?[], lists List<object?>, dicts PickleDict.

/// <summary>A Python dict or collections.OrderedDict: insertion-ordered, keyed by hashable scalars.</summary>
internal sealed class PickleDict
{
    private readonly OrderedDictionary<object, object?> items = new();

    public int Count => items.Count;
    public IEnumerable<KeyValuePair<object, object?>> Items => items;

    /// <summary>Sets <paramref name="key"/> like Python's <c>d[key] = value</c> (a repeated key keeps its first position).</summary>
    public void Set(object key, object? value) => items[key] = value;
}

/// <summary>A module-level name the pickle refers to; only allow-listed ones are ever created (see <see cref="TorchPickleResolver"/>).</summary>
internal sealed record PickleGlobal(string Module, string Name, TorchGlobalKind Kind, TorchStorageType? Storage = null)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>What an allow-listed global is for.</summary>
internal enum TorchGlobalKind { OrderedDict, RebuildTensor, RebuildParameter, StorageType }

/// <summary>
/// A typed storage class such as torch.FloatStorage: the element type as stored, its size, and the dtype the reader
/// hands out (float64 is converted to float32, bool is read as 0/1 bytes).
/// </summary>
internal sealed record TorchStorageType(string Name, int StoredElementSize, DType DType)
{
    public bool IsConverted => StoredElementSize != DType.SizeOf();
    public override string ToString() => "torch." + Name;
}

/// <summary>A storage of the checkpoint: <see cref="ElementCount"/> elements of <see cref="Type"/> in archive entry data/<see cref="Key"/>.</summary>
internal sealed record TorchStorage(string Key, TorchStorageType Type, long ElementCount, ZipEntry Entry);

/// <summary>A tensor as torch._utils._rebuild_tensor_v2 describes it: a validated strided view of a storage.</summary>
internal sealed record TorchTensorRef(TorchStorage Storage, long Offset, int[] Size, long[] Stride);
