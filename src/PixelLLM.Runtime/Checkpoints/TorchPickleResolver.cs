namespace PixelLLM.Runtime.Checkpoints;

/// <summary>
/// The allow-list that makes unpickling a torch checkpoint safe: the only globals are OrderedDict, the tensor and
/// parameter rebuild functions and the typed storage classes, and each "call" builds a plain description instead of
/// running anything. Persistent ids resolve to storages in the archive's data/ folder.
/// </summary>
internal sealed class TorchPickleResolver(string file, string archivePrefix, IReadOnlyDictionary<string, ZipEntry> entries) : IPickleResolver
{
    private const int MaxRank = 64;

    private static readonly Dictionary<string, TorchStorageType> StorageTypes = new[]
    {
        new TorchStorageType("FloatStorage", 4, DType.F32), new TorchStorageType("HalfStorage", 2, DType.F16),
        new TorchStorageType("BFloat16Storage", 2, DType.BF16), new TorchStorageType("LongStorage", 8, DType.I64),
        new TorchStorageType("IntStorage", 4, DType.I32), new TorchStorageType("ByteStorage", 1, DType.U8),
        new TorchStorageType("BoolStorage", 1, DType.U8), new TorchStorageType("DoubleStorage", 8, DType.F32),
    }.ToDictionary(t => t.Name, StringComparer.Ordinal);

    private readonly Dictionary<string, TorchStorage> storages = new(StringComparer.Ordinal);

    /// <summary>The storages the pickle referred to, by key.</summary>
    public IReadOnlyDictionary<string, TorchStorage> Storages => storages;

    public PickleGlobal ResolveGlobal(string module, string name)
    {
        switch (module, name)
        {
            case ("collections", "OrderedDict"): return new(module, name, TorchGlobalKind.OrderedDict);
            case ("torch._utils", "_rebuild_tensor_v2"): return new(module, name, TorchGlobalKind.RebuildTensor);
            case ("torch._utils", "_rebuild_parameter" or "_rebuild_parameter_with_state"): return new(module, name, TorchGlobalKind.RebuildParameter);
        }
        if (module == "torch" && name.EndsWith("Storage", StringComparison.Ordinal))
        {
            return StorageTypes.TryGetValue(name, out var type)
                ? new PickleGlobal(module, name, TorchGlobalKind.StorageType, type)
                : throw Bad($"tensors stored as torch.{name} are not supported; supported storages: " +
                            string.Join(", ", StorageTypes.Keys.Select(k => "torch." + k)));
        }
        throw Bad($"the pickle refers to '{module}.{name}', which a plain state dict never needs; refusing to load it " +
                  "(only collections.OrderedDict, torch._utils._rebuild_tensor_v2/_rebuild_parameter and torch.*Storage " +
                  "are allowed, so checkpoints holding other Python objects must be re-saved as a plain state dict)");
    }

    public object Call(PickleGlobal callable, object?[] args) => callable.Kind switch
    {
        TorchGlobalKind.OrderedDict when args.Length == 0 => new PickleDict(),
        TorchGlobalKind.RebuildTensor => RebuildTensor(args),
        TorchGlobalKind.RebuildParameter when args.Length is 3 or 4 && args[0] is TorchTensorRef tensor => tensor,
        _ => throw Bad($"unexpected call {callable}({args.Length} arguments)"),
    };

    /// <summary>A persistent id is ('storage', storage class, key, location, element count).</summary>
    public object PersistentLoad(object? id)
    {
        if (id is not object?[] { Length: 5 } tuple || tuple[0] is not "storage" || tuple[1] is not PickleGlobal { Storage: { } type }
            || tuple[2] is not string key || tuple[3] is not string || tuple[4] is not long count)
            throw Bad("a persistent id is not ('storage', torch.<T>Storage, key, location, element count)");
        if (storages.TryGetValue(key, out var known))
        {
            return known.Type == type && known.ElementCount == count ? known
                : throw Bad($"storage '{key}' is referred to as both {known.Type}[{known.ElementCount}] and {type}[{count}]");
        }
        var entryName = $"{archivePrefix}data/{key}";
        if (!entries.TryGetValue(entryName, out var entry))
            throw Bad($"the pickle refers to storage '{key}', but the archive has no entry '{entryName}'");
        long bytes = count < 0 || count > long.MaxValue / type.StoredElementSize ? -1 : count * type.StoredElementSize;
        if (bytes < 0 || entry.UncompressedSize < bytes)
            throw Bad($"storage '{key}' should hold {count} elements of {type} but entry '{entryName}' has {entry.UncompressedSize} bytes");
        var storage = new TorchStorage(key, type, count, entry);
        storages.Add(key, storage);
        return storage;
    }

    /// <summary>(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]) → a validated view.</summary>
    private TorchTensorRef RebuildTensor(object?[] args)
    {
        if (args.Length is not (6 or 7) || args[0] is not TorchStorage storage || args[1] is not long offset
            || args[2] is not object?[] size || args[3] is not object?[] stride)
            throw Bad("_rebuild_tensor_v2 expects (storage, offset, size tuple, stride tuple, requires_grad, hooks)");
        if (size.Length != stride.Length || size.Length > MaxRank)
            throw Bad($"a tensor of storage '{storage.Key}' has {size.Length} sizes and {stride.Length} strides (at most {MaxRank})");
        var dims = new int[size.Length];
        var steps = new long[size.Length];
        for (int i = 0; i < dims.Length; i++)
        {
            if (size[i] is not long d || d < 0 || d > int.MaxValue || stride[i] is not long s || s < 0)
                throw Bad($"a tensor of storage '{storage.Key}' has an invalid size or stride at dimension {i}");
            (dims[i], steps[i]) = ((int)d, s);
        }
        var tensor = new TorchTensorRef(storage, offset, dims, steps);
        TorchTensorLayout.Validate(tensor, file);
        return tensor;
    }

    private ModelFileException Bad(string what) => new($"{file}: {what}");
}
