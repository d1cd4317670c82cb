using System.Text.Json;
using PixelLLM.Runtime;

namespace PixelLLM.Models.Verification;

/// <summary>One compared tensor: worst errors and whether it is within tolerance.</summary>
public sealed record TensorCheck(string Name, string Shape, double MaxAbsError, double MaxRelError, double WorstRatio, bool Passed, string Note);

/// <summary>Absolute and relative tolerance: |a − b| ≤ Atol + Rtol·|b|.</summary>
public readonly record struct Tolerance(double Atol, double Rtol)
{
    public static Tolerance Default { get; } = new(1e-4, 1e-4);
}

/// <summary>
/// Compares our outputs with a case's out.* / mid.* tensors: floats within tolerance, integers exactly — except the flips the
/// golden README allows: greedy ids after a step whose recorded top-1/top-2 margin is below tolerance, binary masks where the
/// reference logit is within tolerance of 0, and beam slots the case's "beam_text_tokens" rule exempts (see
/// <see cref="CaseTolerances"/>). A reference tensor we did not produce fails as "missing", and so does one the case JSON
/// lists but its io file lacks (a truncated reference must not shrink what is checked). Tolerances come from the case
/// JSON (<see cref="CaseTolerances"/>) unless the caller overrides them for every float tensor.
/// </summary>
public static class GoldenComparison
{
    public static IReadOnlyList<TensorCheck> Compare(GoldenCase golden, IReadOnlyDictionary<string, HostTensor> ours, Tolerance? overrideTolerance = null)
    {
        var rules = CaseTolerances.Read(golden.Json, golden.JsonPath);
        var checks = new List<TensorCheck>();
        var names = golden.IoNames.Concat(golden.ListedNames).Where(IsCompared).Distinct().Order(StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (!golden.Has(name))
            {
                checks.Add(new TensorCheck(name, "?", double.NaN, double.NaN, double.NaN, false,
                    $"listed in {Path.GetFileName(golden.JsonPath)} but missing from {Path.GetFileName(golden.IoPath)}"));
                continue;
            }
            var reference = golden.Input(name);
            if (!ours.TryGetValue(name, out var mine))
            {
                checks.Add(new TensorCheck(name, reference.Shape.ToString(), double.NaN, double.NaN, double.NaN, false, "missing"));
                continue;
            }
            var tol = overrideTolerance ?? rules.For(name);
            var allowed = AllowedFlips(golden, name, reference, tol) ?? rules.ExemptBeamSlots(golden, name, reference);
            checks.Add(CompareOne(name, reference, mine, tol, allowed));
        }
        return checks;
    }

    private static bool IsCompared(string name) =>
        name.StartsWith("out.", StringComparison.Ordinal) || name.StartsWith("mid.", StringComparison.Ordinal);

    /// <summary>Compares one tensor; <paramref name="flipAllowed"/> marks integer elements allowed to differ.</summary>
    public static TensorCheck CompareOne(string name, HostTensor reference, HostTensor mine, Tolerance tol, bool[]? flipAllowed = null)
    {
        if (reference.Shape != mine.Shape)
            return new TensorCheck(name, reference.Shape.ToString(), double.NaN, double.NaN, double.NaN, false, $"shape {mine.Shape} != {reference.Shape}");
        var a = mine.ToFloatArray();
        var b = reference.ToFloatArray();
        bool exact = !reference.DType.IsFloat();
        double maxAbs = 0, maxRel = 0, worst = 0;
        int mismatches = 0, flips = 0, worstAt = -1;
        for (int i = 0; i < a.Length; i++)
        {
            double x = a[i], y = b[i];
            // Equal values (equal infinities included) and NaN on both sides are equal; any other non-finite pair is an
            // unbounded error. NaN must never reach a comparison: every `NaN > 1` is false, which would read as a pass.
            bool same = x == y || (double.IsNaN(x) && double.IsNaN(y));
            double d = same ? 0 : Math.Abs(x - y);
            if (double.IsNaN(d)) d = double.PositiveInfinity;
            maxAbs = Math.Max(maxAbs, d);
            if (d > 0 && y != 0) maxRel = Math.Max(maxRel, double.IsFinite(y) ? d / Math.Abs(y) : double.PositiveInfinity);
            double limit = exact ? 0 : tol.Atol + tol.Rtol * Math.Abs(y);
            double ratio = d == 0 ? 0 : limit > 0 && double.IsFinite(limit) && double.IsFinite(d) ? d / limit : double.PositiveInfinity;
            if (ratio > 1 && flipAllowed is not null && flipAllowed[i]) { flips++; continue; }
            if (ratio > worst) (worst, worstAt) = (ratio, i);
            if (ratio > 1) mismatches++;
        }
        string note = mismatches > 0 ? $"{mismatches} of {a.Length} elements out of tolerance, worst at {IndexText(reference.Shape, worstAt)}: {a[worstAt]:G7} vs {b[worstAt]:G7}"
            : flips > 0 ? $"{flips} allowed near-tie flips" : exact ? "exact" : "";
        return new TensorCheck(name, reference.Shape.ToString(), maxAbs, maxRel, worst, mismatches == 0, note);
    }

    private static string IndexText(Shape shape, int flat)
    {
        var index = new int[shape.Rank];
        for (int d = shape.Rank - 1; d >= 0; d--) (index[d], flat) = (flat % shape[d], flat / shape[d]);
        return "[" + string.Join(", ", index) + "]";
    }

    private static bool[]? AllowedFlips(GoldenCase golden, string name, HostTensor reference, Tolerance tol)
    {
        if (reference.DType.IsFloat()) return null;
        if (name.EndsWith("greedy_ids", StringComparison.Ordinal) && golden.Has(name[..^3] + "margin"))
            return GreedyFlips(reference, golden.Input(name[..^3] + "margin"), tol);
        if (name.EndsWith("masks", StringComparison.Ordinal) && golden.Has(name[..^5] + "mask_logits"))
        {
            var logits = golden.Input(name[..^5] + "mask_logits").ToFloatArray();
            return logits.Length == reference.Desc.ElementCount ? logits.Select(l => Math.Abs(l) <= tol.Atol).ToArray() : null;
        }
        return null;
    }

    /// <summary>ids (B, 1+S) with margins (B, S): once a step's margin is within tolerance, that step and the rest may differ.</summary>
    private static bool[] GreedyFlips(HostTensor ids, HostTensor margins, Tolerance tol)
    {
        int rows = ids.Shape[0], length = ids.Shape[1], steps = margins.Shape[-1];
        var m = margins.ToFloatArray();
        var allowed = new bool[rows * length];
        for (int r = 0; r < rows; r++)
        {
            bool tie = false;
            for (int t = 1; t < length; t++)
            {
                if (t - 1 < steps && m[r * steps + t - 1] <= tol.Atol) tie = true;
                allowed[r * length + t] = tie;
            }
        }
        return allowed;
    }
}
