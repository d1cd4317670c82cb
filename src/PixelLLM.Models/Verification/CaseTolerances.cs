using System.Text.Json;
using PixelLLM.Runtime;

namespace PixelLLM.Models.Verification;

/// <summary>
/// The tolerance rules of a case JSON's "tolerance" object, applied by tensor name:
/// <list type="bullet">
/// <item>"float_default" {atol, rtol}: every float tensor no other rule names.</item>
/// <item>any other key with {atol, rtol}: covers the tensors its "applies_to" list names exactly; without that list, the key
///   names them as parts joined by "_and_", a part matching a tensor whose last name segment ends with it
///   ("tf_logits_and_log_probs" → *tf_logits, *log_probs), and a part whose last word is a unit ("boxes_pixels") naming the
///   quantity before it (*boxes). "mask_logits" also covers *detection_masks: the referring-segmentation cases store their
///   mask logits under that name (their thresholded masks are the uint8 *binary_masks).</item>
/// <item>"beam_text_tokens" (a sentence): exact only for beams whose sibling <c>&lt;prefix&gt;beam_finished_flags</c> is 1 and
///   for the best (last) beam; other beams are filler states and exempt.</item>
/// </list>
/// Without a "tolerance" object, floats use <see cref="Tolerance.Default"/>.
/// </summary>
public sealed class CaseTolerances
{
    private static readonly string[] Units = ["pixels", "px"];

    /// <summary>Quantities stored under another tensor name than the one a rule's key gives.</summary>
    private static readonly Dictionary<string, string[]> Aliases = new(StringComparer.Ordinal) { ["mask_logits"] = ["mask_logits", "detection_masks"] };
    private const string BeamTokens = "beam_text_tokens", BeamFlags = "beam_finished_flags";

    private readonly List<(string[] Suffixes, HashSet<string>? Exact, Tolerance Tolerance)> named = [];
    private bool beamSlotRule;

    public Tolerance Default { get; private set; } = Tolerance.Default;

    /// <summary>The rules of a case JSON; <paramref name="file"/> names it in the error for a malformed atol/rtol.</summary>
    public static CaseTolerances Read(JsonDocument json, string file = "case JSON")
    {
        var rules = new CaseTolerances();
        if (json.RootElement.ValueKind != JsonValueKind.Object
            || !json.RootElement.TryGetProperty("tolerance", out var t) || t.ValueKind != JsonValueKind.Object) return rules;
        foreach (var rule in t.EnumerateObject())
        {
            if (rule.Name == BeamTokens) { rules.beamSlotRule = true; continue; }
            if (rule.Value.ValueKind != JsonValueKind.Object || !rule.Value.TryGetProperty("atol", out _) || !rule.Value.TryGetProperty("rtol", out _))
                continue;
            // A NaN, infinite or negative bound would make every comparison pass (or none): refused like a bad --atol.
            var fields = new CaseJson(rule.Value, file, "tolerance." + rule.Name);
            double Bound(string name) => fields.Number(name) is var v && v >= 0 ? v : throw fields.Expected(name, "a finite non-negative number", rule.Value.GetProperty(name));
            var tolerance = new Tolerance(Bound("atol"), Bound("rtol"));
            if (rule.Name == "float_default") rules.Default = tolerance;
            else if (rule.Value.TryGetProperty("applies_to", out var list) && list.ValueKind == JsonValueKind.Array)
                rules.named.Add(([], list.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : throw fields.Expected("applies_to", "an array of tensor names", list)).ToHashSet(StringComparer.Ordinal), tolerance));
            else rules.named.Add((Suffixes(rule.Name), null, tolerance));
        }
        return rules;
    }

    /// <summary>The tolerance for a float tensor: the first named rule that covers it, else the default.</summary>
    public Tolerance For(string tensorName)
    {
        var last = tensorName[(tensorName.LastIndexOf('.') + 1)..];
        foreach (var (suffixes, exact, tolerance) in named)
            if (exact?.Contains(tensorName) ?? suffixes.Any(s => last.EndsWith(s, StringComparison.Ordinal))) return tolerance;
        return Default;
    }

    /// <summary>
    /// For <c>…beam_text_tokens</c> (…, beams, L) under the "beam_text_tokens" rule: elements of beams that are neither
    /// flagged finished nor the last (best) one may differ. Null when the rule or the flags tensor is absent.
    /// </summary>
    public bool[]? ExemptBeamSlots(GoldenCase golden, string name, HostTensor reference)
    {
        if (!beamSlotRule || !name.EndsWith(BeamTokens, StringComparison.Ordinal)) return null;
        var flagsName = name[..^BeamTokens.Length] + BeamFlags;
        if (!golden.Has(flagsName)) return null;
        var flags = golden.Input(flagsName).ToFloatArray();
        int beams = reference.Shape[-2], length = reference.Shape[-1];
        if (flags.Length * length != reference.Desc.ElementCount) return null;
        var exempt = new bool[reference.Desc.ElementCount];
        for (int slot = 0; slot < flags.Length; slot++)
        {
            bool compared = flags[slot] != 0 || slot % beams == beams - 1;
            if (!compared) Array.Fill(exempt, true, slot * length, length);
        }
        return exempt;
    }

    private static string[] Suffixes(string key) => key.Split("_and_").SelectMany(part =>
    {
        foreach (var unit in Units)
            if (part.EndsWith("_" + unit, StringComparison.Ordinal)) return [part[..^(unit.Length + 1)]];
        return Aliases.TryGetValue(part, out var names) ? names : [part];
    }).ToArray();
}
