using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace PixelLLM.Bench;

/// <summary>What one benchmark invocation does, so a column can turn its mean time into a rate.</summary>
public interface IWorkload
{
    /// <summary>Floating-point operations per invocation (a multiply-add counts as two); 0 when not compute-bound.</summary>
    double Flops { get; }

    /// <summary>Bytes read plus bytes written per invocation; 0 when not memory-bound.</summary>
    double Bytes { get; }
}

/// <summary>
/// GFLOP/s or GB/s of a benchmark: its parameter implementing <see cref="IWorkload"/> gives the work per invocation,
/// the measured mean gives the time.
/// </summary>
public sealed class ThroughputColumn(bool flops) : IColumn
{
    public static readonly ThroughputColumn GigaFlops = new(true);
    public static readonly ThroughputColumn GigaBytes = new(false);

    public string Id => flops ? "GFLOP/s" : "GB/s";
    public string ColumnName => Id;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => flops ? 0 : 1;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => flops ? "Billions of floating-point operations per second (mean time)" : "Billions of bytes moved per second (mean time)";

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public bool IsAvailable(Summary summary) =>
        summary.BenchmarksCases.Any(c => Work(c) is { } w && (flops ? w.Flops : w.Bytes) > 0);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var work = Work(benchmarkCase);
        double amount = work is null ? 0 : flops ? work.Flops : work.Bytes;
        double? meanNs = summary[benchmarkCase]?.ResultStatistics?.Mean;
        if (amount <= 0 || meanNs is not > 0) return "-";
        return (amount / meanNs.Value).ToString("F1", System.Globalization.CultureInfo.InvariantCulture); // per ns = giga per s
    }

    private static IWorkload? Work(BenchmarkCase benchmarkCase) =>
        benchmarkCase.Parameters.Items.Select(p => p.Value).OfType<IWorkload>().FirstOrDefault();

    public override string ToString() => ColumnName;
}

/// <summary>Adds the throughput columns to every benchmark in this project.</summary>
public sealed class ThroughputConfig : ManualConfig
{
    public ThroughputConfig() => AddColumn(ThroughputColumn.GigaFlops, ThroughputColumn.GigaBytes);
}
