namespace PixelLLM.Cli.Evaluation;

/// <summary>
/// eval.py's metric lists, one entry per scored item: caption exact match (per scene), teacher-forced token accuracy (per
/// target token, EOS included), trace hits (per caption word that names an object; mask and box variants), referring hits
/// (per expression, box IoU &gt; 0.5), mask IoU (per expression, plus the cumulative intersection / union) and
/// location-conditioned caption accuracy (per object).
/// </summary>
internal sealed class EvalMetrics
{
    public int Scenes { get; set; }
    public List<bool> CaptionExact { get; } = [];
    public List<bool> TokenAccuracy { get; } = [];
    public List<bool> TraceHit { get; } = [];
    public List<bool> TraceBoxHit { get; } = [];
    public List<bool> ReferHit { get; } = [];
    public List<double> MaskIou { get; } = [];
    public long MaskIntersection { get; private set; }
    public long MaskUnion { get; private set; }
    public List<bool> LocaAccuracy { get; } = [];

    /// <summary>Adds one expression's mask overlap to the mean and the cumulative IoU.</summary>
    public void AddMask(long intersection, long union)
    {
        MaskIou.Add(EvalMath.MaskIou(intersection, union));
        MaskIntersection += intersection;
        MaskUnion += union;
    }

    /// <summary>Mean of a list; null when nothing was scored (eval.py's None).</summary>
    public static double? Mean(IReadOnlyCollection<bool> values) => values.Count == 0 ? null : values.Count(v => v) / (double)values.Count;

    /// <summary>Mean of a list; null when nothing was scored.</summary>
    public static double? Mean(IReadOnlyCollection<double> values) => values.Count == 0 ? null : values.Average();

    /// <summary>Cumulative IoU Σ intersection / Σ union (eval.py: union floored at 1e-6); null when no mask was scored.</summary>
    public double? CumulativeMaskIou => MaskIou.Count == 0 ? null : MaskIntersection / Math.Max(MaskUnion, 1e-6);
}
