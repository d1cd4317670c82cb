using System.Text.Json;
using PixelLLM.Runtime;

namespace PixelLLM.Cli;

/// <summary>
/// <c>bench --baseline FILE</c>: this run's stages against an earlier run's <c>--json</c> output, matched by stage name —
/// the A/B a performance engineer reads after flipping a switch (best-of-N each; same machine assumed).
/// </summary>
internal static class BenchBaseline
{
    /// <summary>Best milliseconds per stage of a bench JSON file; a missing or malformed file is one clear error, before any timing.</summary>
    public static IReadOnlyDictionary<string, double> Load(string path)
    {
        try
        {
            FileKind.RequireRegularInput(path, "a bench --json file");
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var stages = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var s in doc.RootElement.GetProperty("stages").EnumerateArray())
                stages[s.GetProperty("stage").GetString()!] = s.GetProperty("best_ms").GetDouble();
            return stages.Count > 0 ? stages : throw new InvalidInputException($"--baseline {path}: no stages in it");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException($"--baseline {path}: cannot read it ({e.Message})");
        }
        catch (KeyNotFoundException)
        {
            throw new InvalidInputException($"--baseline {path}: expected the JSON a `bench --json` run writes (a \"stages\" array of objects with \"stage\" and \"best_ms\")");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new InvalidInputException($"--baseline {path}: expected the JSON a `bench --json` run writes ({e.Message})");
        }
    }

    /// <summary>One line per stage of this run: baseline → now, the change and the speed-up.</summary>
    public static void Print(TextWriter o, string path, IReadOnlyDictionary<string, double> baseline, IEnumerable<StageTiming> results)
    {
        o.WriteLine($"  against {Path.GetFileName(path)} (best ms, baseline → this run):");
        foreach (var r in results)
        {
            if (!baseline.TryGetValue(r.Stage, out double before) || before <= 0)
            {
                o.WriteLine($"    {r.Stage,-44} (not in the baseline)");
                continue;
            }
            double change = (r.BestMs - before) / before * 100;
            o.WriteLine($"    {r.Stage,-44} {before,10:F2} → {r.BestMs,10:F2}   {change,+7:+0.0;-0.0;0.0} %   {before / r.BestMs,5:F2}×");
        }
    }
}
