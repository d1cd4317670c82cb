using System.Runtime.InteropServices;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Profiling;

namespace PixelLLM.Backends.Cpu;

/// <summary>Profiling on the CPU: kernels finish before Execute returns, so a stopwatch around each node is its device time.</summary>
public sealed partial class CpuBackend : IProfilingSupport
{
    private long executed;

    /// <inheritdoc/>
    public IOpTimer CreateOpTimer(bool timeLaunches = false) => new StopwatchOpTimer(); // no launches: the CPU runs ops, not kernels

    /// <inheritdoc/>
    public DType StoredAs(DType declared) => declared;

    /// <inheritdoc/>
    public string DeviceDescription => $"CPU {RuntimeInformation.ProcessArchitecture}, {Environment.ProcessorCount} cores";

    /// <inheritdoc/>
    public long KernelLaunches => Interlocked.Read(ref executed);

    /// <inheritdoc/>
    public string NodeTiming => "wall clock around each node (its kernels finish before it returns)";
}
