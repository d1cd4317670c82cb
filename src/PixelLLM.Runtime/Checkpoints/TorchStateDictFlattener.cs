using System.Globalization;

namespace PixelLLM.Runtime.Checkpoints;

/// <summary>
/// Turns the unpickled checkpoint into (name, tensor) pairs: dict keys and list/tuple indices are joined with '.',
/// so <c>{"model": {"fc.weight": t}}</c> gives <c>model.fc.weight</c>. Values that are not tensors (epochs, configs,
/// None) are skipped. A bare tensor is named <see cref="BareTensorName"/>.
/// </summary>
internal static class TorchStateDictFlattener
{
    public const string BareTensorName = "tensor";

    // Pickles can make containers that contain themselves, or share one container many times over (2^depth paths
    // from a few hundred bytes), so both the depth and the total number of visits are bounded. Without sharing, every
    // value visited costs at least one opcode byte, so a budget of a few visits per pickle byte only refuses heavy sharing.
    private const int MaxDepth = 64;
    private const long VisitsPerPickleByte = 8;

    /// <summary>The tensors reachable from <paramref name="root"/>, a value unpickled from <paramref name="pickleBytes"/> bytes.</summary>
    public static List<KeyValuePair<string, TorchTensorRef>> Flatten(object? root, long pickleBytes, string file)
    {
        long maxVisits = VisitsPerPickleByte * pickleBytes + 4096;
        var result = new List<KeyValuePair<string, TorchTensorRef>>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        long visits = 0;

        void Add(string name, TorchTensorRef tensor)
        {
            if (!names.Add(name)) throw new ModelFileException($"{file}: two tensors flatten to the same name '{name}'");
            result.Add(new(name, tensor));
        }

        void Visit(object? value, string prefix, int depth)
        {
            if (++visits > maxVisits)
                throw new ModelFileException($"{file}: the checkpoint's containers reach over {maxVisits} nested values " +
                                             $"from a pickle of {pickleBytes} bytes (one container shared many times over?)");
            if (depth > MaxDepth)
                throw new ModelFileException($"{file}: values nest deeper than {MaxDepth} levels at '{prefix}' (a self-referencing container?)");
            switch (value)
            {
                case TorchTensorRef tensor:
                    Add(prefix.Length == 0 ? BareTensorName : prefix, tensor);
                    break;
                case PickleDict dict:
                    foreach (var (key, item) in dict.Items) Visit(item, Join(prefix, KeyText(key, prefix, file)), depth + 1);
                    break;
                case List<object?> list:
                    for (int i = 0; i < list.Count; i++) Visit(list[i], Join(prefix, i.ToString(CultureInfo.InvariantCulture)), depth + 1);
                    break;
                case object?[] tuple:
                    for (int i = 0; i < tuple.Length; i++) Visit(tuple[i], Join(prefix, i.ToString(CultureInfo.InvariantCulture)), depth + 1);
                    break;
            }
        }

        Visit(root, "", 0);
        return result;
    }

    private static string Join(string prefix, string part) => prefix.Length == 0 ? part : prefix + "." + part;

    /// <summary>Keys as Python's str() writes them (state dict keys are always str; optimizer state uses ints).</summary>
    private static string KeyText(object key, string prefix, string file) => key switch
    {
        string s => s,
        long n => n.ToString(CultureInfo.InvariantCulture),
        bool b => b ? "True" : "False",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        _ => throw new ModelFileException($"{file}: a dict under '{prefix}' has a tuple key, which cannot be part of a tensor name"),
    };
}
