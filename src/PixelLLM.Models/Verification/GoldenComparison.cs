using System.Text.Json;
using PixelLLM.Runtime;

namespace PixelLLM.Models.Verification;

/// <summary>One compared tensor: worst error and whether it is within tolerance.</summary>
public sealed record TensorCheck(string Name, string Shape, double MaxAbsError, double WorstRatio, bool Passed, string Note);

/// <summary>
/// Compares our outputs with a case's out.* / mid.* tensors: floats by |a − b| ≤ atol + rtol·|b| (atol = rtol = 1e-4 unless
/// the case JSON's "tolerance" says otherwise for that name), integers and masks exactly. A reference tensor we did not
/// produce fails as "missing".
/// </summary>
public static class GoldenComparison
{
    public const double DefaultTolerance = 1e-4;

    public static IReadOnlyList<TensorCheck> Compare(GoldenCase golden, IReadOnlyDictionary<string, HostTensor> ours)
    {
        var checks = new List<TensorCheck>();
        foreach (var name in golden.IoNames.Where(n => n.StartsWith("out.", StringComparison.Ordinal) || n.StartsWith("mid.", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var reference = golden.Input(name);
            if (!ours.TryGetValue(name, out var mine))
            {
                checks.Add(new TensorCheck(name, reference.Shape.ToString(), double.NaN, double.NaN, false, "missing"));
                continue;
            }
            checks.Add(CompareOne(name, reference, mine, ToleranceFor(golden, name)));
        }
        return checks;
    }

    public static TensorCheck CompareOne(string name, HostTensor reference, HostTensor mine, (double Atol, double Rtol) tol)
    {
        if (reference.Shape != mine.Shape)
            return new TensorCheck(name, reference.Shape.ToString(), double.NaN, double.NaN, false, $"shape {mine.Shape} != {reference.Shape}");
        var a = mine.ToFloatArray();
        var b = reference.ToFloatArray();
        bool exact = !reference.DType.IsFloat();
        double maxAbs = 0, worst = 0;
        int mismatches = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = Math.Abs((double)a[i] - b[i]);
            if (double.IsNaN(a[i]) != double.IsNaN(b[i])) d = double.PositiveInfinity;
            else if (double.IsNaN(a[i])) d = 0;
            maxAbs = Math.Max(maxAbs, d);
            double allowed = exact ? 0 : tol.Atol + tol.Rtol * Math.Abs(b[i]);
            double ratio = allowed == 0 ? (d == 0 ? 0 : double.PositiveInfinity) : d / allowed;
            worst = Math.Max(worst, ratio);
            if (ratio > 1) mismatches++;
        }
        return new TensorCheck(name, reference.Shape.ToString(), maxAbs, worst, mismatches == 0,
            mismatches == 0 ? (exact ? "exact" : "") : $"{mismatches} of {a.Length} elements out of tolerance");
    }

    private static (double, double) ToleranceFor(GoldenCase golden, string name)
    {
        if (golden.Json.RootElement.TryGetProperty("tolerance", out var t) && t.ValueKind == JsonValueKind.Object
            && t.TryGetProperty("float_default", out var fd) && fd.ValueKind == JsonValueKind.Object)
            return (fd.GetProperty("atol").GetDouble(), fd.GetProperty("rtol").GetDouble());
        return (DefaultTolerance, DefaultTolerance);
    }
}
