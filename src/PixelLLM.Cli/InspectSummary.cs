namespace PixelLLM.Cli;

/// <summary>Parameters (elements) and bytes of the tensors whose names start with <see cref="Prefix"/>.</summary>
internal sealed record ParameterGroup(string Prefix, int Tensors, long Parameters, long Bytes);

/// <summary>Totals over every inspected tensor, and the same split by the first <see cref="Depth"/> name components.</summary>
internal sealed record InspectSummary(int Tensors, long Parameters, long Bytes, int Depth, IReadOnlyList<ParameterGroup> Groups)
{
    /// <summary>When no depth is asked for, names are grouped by their first component, going deeper while that leaves one group.</summary>
    private const int MaxAutomaticDepth = 6;

    public static InspectSummary Compute(IReadOnlyList<InspectedFile> files, int? depth)
    {
        var tensors = files.SelectMany(f => f.Tensors).ToList();
        int chosen = depth ?? 1;
        var groups = Group(tensors, chosen);
        while (depth is null && groups.Count == 1 && chosen < MaxAutomaticDepth && tensors.Any(t => Components(t.Name) > chosen))
            groups = Group(tensors, ++chosen);
        return new InspectSummary(tensors.Count, tensors.Sum(t => t.Desc.ElementCount), tensors.Sum(t => t.Desc.ByteSize), chosen, groups);
    }

    private static List<ParameterGroup> Group(List<InspectedTensor> tensors, int depth) =>
        tensors.GroupBy(t => Prefix(t.Name, depth), StringComparer.Ordinal)
               .Select(g => new ParameterGroup(g.Key, g.Count(), g.Sum(t => t.Desc.ElementCount), g.Sum(t => t.Desc.ByteSize)))
               .OrderByDescending(g => g.Parameters).ThenBy(g => g.Prefix, StringComparer.Ordinal)
               .ToList();

    /// <summary>
    /// The first <paramref name="depth"/> components of <paramref name="name"/> (all of it if it has fewer). Flax tree
    /// paths separate components with '/' (and may have '.' inside module names, as in <c>blocks.0/attn</c>); other
    /// names with '.'.
    /// </summary>
    public static string Prefix(string name, int depth)
    {
        char separator = Separator(name);
        int end = -1;
        for (int i = 0; i < depth; i++)
        {
            end = name.IndexOf(separator, end + 1);
            if (end < 0) return name;
        }
        return name[..end];
    }

    private static char Separator(string name) => name.Contains('/') ? '/' : '.';

    private static int Components(string name) => name.Count(c => c == Separator(name)) + 1;
}
