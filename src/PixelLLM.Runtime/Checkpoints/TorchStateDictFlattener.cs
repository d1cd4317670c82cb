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

    // Pickles can make containers that contain themselves, or share one container many times over (2^depth paths),
    // so both the depth and the total number of visits are bounded.
    private const int MaxDepth = 64;
    private const int MaxVisits = 4_000_000;

    public static List<KeyValuePair<string, TorchTensorRef>> Flatten(object? root, string file)
    {
        var result = new List<KeyValuePair<string, TorchTensorRef>>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        int visits = 0;

        void Add(string name, TorchTensorRef tensor)
        {
            if (!names.Add(name)) throw new ModelFileException($"{file}: two tensors flatten to the same name '{name}'");
            result.Add(new(name, tensor));
        }

        void Visit(object? value, string prefix, int depth)
        {
            if (++visits > MaxVisits)
                throw new ModelFileException($"{file}: the checkpoint has over {MaxVisits} nested values (shared or self-referencing containers?)");
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
