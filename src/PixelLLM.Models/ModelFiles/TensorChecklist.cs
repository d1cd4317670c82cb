using PixelLLM.Runtime;

namespace PixelLLM.Models.ModelFiles;

/// <summary>A tensor whose shape differs from the one its configuration needs.</summary>
public sealed record MisshapedTensor(string Name, Shape Actual, IReadOnlyList<int> Expected)
{
    /// <summary>"name is (a, b), expected (c, d)"; −1 in <see cref="Expected"/> (any size) prints as '*'.</summary>
    public override string ToString() => $"'{Name}' is {Actual}, expected ({string.Join(", ", Expected.Select(d => d < 0 ? "*" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))})";
}

/// <summary>How a set of tensors compares with the shapes a configuration needs.</summary>
public sealed record TensorChecklistReport(IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected, IReadOnlyList<MisshapedTensor> Misshaped)
{
    /// <summary>True when nothing is missing, unexpected or mis-shaped.</summary>
    public bool Passed => Missing.Count == 0 && Unexpected.Count == 0 && Misshaped.Count == 0;

    /// <summary>One line listing the problems (at most <paramref name="max"/> of each kind).</summary>
    public string Summary(int max = 10)
    {
        var parts = new List<string>();
        if (Missing.Count > 0) parts.Add($"{Missing.Count} missing ('{string.Join("', '", Missing.Take(max))}'{(Missing.Count > max ? ", …" : "")})");
        if (Unexpected.Count > 0) parts.Add($"{Unexpected.Count} unexpected ('{string.Join("', '", Unexpected.Take(max))}'{(Unexpected.Count > max ? ", …" : "")})");
        if (Misshaped.Count > 0) parts.Add($"{Misshaped.Count} mis-shaped ({string.Join("; ", Misshaped.Take(max))}{(Misshaped.Count > max ? "; …" : "")})");
        return parts.Count == 0 ? "all tensors present with their expected shapes" : string.Join("; ", parts);
    }
}

/// <summary>Compares tensors (name, shape) with a configuration's checklist (name → shape, −1 = any size).</summary>
public static class TensorChecklist
{
    /// <summary>Missing, unexpected and mis-shaped tensors, each list sorted by name.</summary>
    public static TensorChecklistReport Compare(IReadOnlyDictionary<string, int[]> expected, IEnumerable<(string Name, Shape Shape)> actual)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var unexpected = new List<string>();
        var misshaped = new List<MisshapedTensor>();
        foreach (var (name, shape) in actual)
        {
            seen.Add(name);
            if (!expected.TryGetValue(name, out var want)) { unexpected.Add(name); continue; }
            bool fits = shape.Rank == want.Length && want.Select((d, i) => d < 0 || d == shape[i]).All(ok => ok);
            if (!fits) misshaped.Add(new MisshapedTensor(name, shape, want));
        }
        var missing = expected.Keys.Where(n => !seen.Contains(n)).Order(StringComparer.Ordinal).ToList();
        return new TensorChecklistReport(missing, [.. unexpected.Order(StringComparer.Ordinal)],
            [.. misshaped.OrderBy(m => m.Name, StringComparer.Ordinal)]);
    }
}
