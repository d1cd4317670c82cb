namespace PixelLLM.Cli;

/// <summary>A candidate's verdict: whether it is taken, and its stages' changes against the best configuration so far.</summary>
internal sealed record TuneVerdict(bool Taken, string Reason, IReadOnlyList<TuneStageChange> Changes);

/// <summary>One stage's best-of-N milliseconds with and without the candidate.</summary>
internal sealed record TuneStageChange(string Stage, double ReferenceMs, double CandidateMs)
{
    /// <summary>Relative change: negative is faster.</summary>
    public double Change => (CandidateMs - ReferenceMs) / ReferenceMs;

    public override string ToString() => $"{Stage} {Change * 100:+0.0;-0.0}%";
}

/// <summary>How `tune` judges a candidate's timings (bench best-of-N ms per stage key) against the best configuration so far.</summary>
internal static class TuneDecision
{
    /// <summary>The stage every candidate must not slow down besides its own: the whole request.</summary>
    public const string EndToEnd = "e2e";

    /// <summary>
    /// Taken when at least one of its <paramref name="deciding"/> stages is <paramref name="minGain"/> (a fraction) or more
    /// faster and none of them, nor the end-to-end caption, is <paramref name="minGain"/> or more slower: a gain on what the
    /// path is for, nothing lost beyond noise on the rest of its target or on the whole request.
    /// </summary>
    public static TuneVerdict Judge(IReadOnlyDictionary<string, double> reference, IReadOnlyDictionary<string, double> candidate,
        IReadOnlyList<string> deciding, double minGain)
    {
        var judged = deciding.Contains(EndToEnd) ? deciding : [.. deciding, EndToEnd];
        var changes = judged
            .Where(s => reference.TryGetValue(s, out var r) && r > 0 && candidate.ContainsKey(s))
            .Select(s => new TuneStageChange(s, reference[s], candidate[s]))
            .ToList();
        var own = changes.Where(c => deciding.Contains(c.Stage)).ToList();
        if (own.Count == 0) return new(false, $"none of its stages ({string.Join(",", deciding)}) was measured", changes);
        var slower = changes.Where(c => c.Change >= minGain).ToList();
        if (slower.Count > 0) return new(false, "slower: " + string.Join(", ", slower), changes);
        if (own.All(c => c.Change > -minGain)) return new(false, $"not {minGain * 100:0.#}% faster: " + string.Join(", ", own), changes);
        return new(true, "faster: " + string.Join(", ", changes), changes);
    }
}
