using System.Diagnostics;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.Runtime.Profiling;

/// <summary>
/// Times nodes on a backend's own clock: <see cref="Begin"/> and <see cref="End"/> bracket one node's launches in
/// execution order (on a GPU, an event pair on the stream); after the backend has synchronised, <see cref="Collect"/>
/// hands back each bracket's start and device time in order and starts over. Not thread-safe.
/// </summary>
public interface IOpTimer : IDisposable
{
    /// <summary>Marks the start of the next node's work.</summary>
    void Begin();

    /// <summary>Marks the end of the node begun last.</summary>
    void End();

    /// <summary>Number of brackets recorded since the last <see cref="Collect"/>.</summary>
    int Pending { get; }

    /// <summary>Writes each pending bracket into <paramref name="brackets"/> (length <see cref="Pending"/>) and clears them.</summary>
    void Collect(Span<Bracket> brackets);

    /// <summary>
    /// Every launch timed inside the brackets since the last call, in launch order, and clears them: empty unless the
    /// timer was created to time launches (<see cref="IProfilingSupport.CreateOpTimer"/>) and the backend launches kernels.
    /// Call it after <see cref="Collect"/>.
    /// </summary>
    IReadOnlyList<LaunchTiming> CollectLaunches() => [];
}

/// <summary>
/// One node's bracket on the backend's clock: when it began, in ms after the first bracket collected with it began
/// (<see cref="double.NaN"/> when the timer cannot say), and its device time in ms.
/// </summary>
public readonly record struct Bracket(double StartMs, double Ms);

/// <summary>
/// One kernel launch (or library call, copy or fill) inside a profiled node and its device time; <paramref name="StartMs"/>
/// is on the clock of the node brackets collected with it (<see cref="Bracket.StartMs"/>), NaN when not known.
/// </summary>
public readonly record struct LaunchTiming(string Kernel, double Ms, double StartMs = double.NaN);

/// <summary>What a backend offers the profiler: a node timer on its own clock and how it stores each declared dtype.</summary>
public interface IProfilingSupport
{
    /// <summary>
    /// A new timer on this backend's clock (the caller disposes it); with <paramref name="timeLaunches"/> it also times
    /// every launch inside a node (<see cref="IOpTimer.CollectLaunches"/>), which adds a little to the node times.
    /// </summary>
    IOpTimer CreateOpTimer(bool timeLaunches = false);

    /// <summary>The dtype a tensor declared as <paramref name="declared"/> occupies in this backend's memory.</summary>
    DType StoredAs(DType declared);

    /// <summary>The device the numbers are about ("NVIDIA H100 80GB HBM3 (sm_90)", "x64, 16 cores").</summary>
    string DeviceDescription { get; }

    /// <summary>Kernel launches (GEMM calls, copies and fills included) issued so far; the profiler counts launches per run from it.</summary>
    long KernelLaunches { get; }

    /// <summary>How a node's time is measured, in a few words (printed with every profile, so runs measured differently are not compared blind).</summary>
    string NodeTiming => "a stopwatch around each node";
}

/// <summary>
/// Wall-clock timer for synchronous backends (the CPU: a node's kernels have finished when Execute returns); for a
/// backend that queues work it synchronises at each <see cref="End"/>, so it stays correct, only slower.
/// </summary>
public sealed class StopwatchOpTimer(IBackend? synchronise = null) : IOpTimer
{
    private readonly List<Bracket> finished = [];
    private long started, origin;

    /// <inheritdoc/>
    public void Begin()
    {
        synchronise?.Synchronize();
        started = Stopwatch.GetTimestamp();
        if (finished.Count == 0) origin = started;
    }

    /// <inheritdoc/>
    public void End()
    {
        synchronise?.Synchronize();
        long ended = Stopwatch.GetTimestamp();
        finished.Add(new(Milliseconds(started - origin), Milliseconds(ended - started)));
    }

    private static double Milliseconds(long ticks) => ticks * 1e3 / Stopwatch.Frequency;

    /// <inheritdoc/>
    public int Pending => finished.Count;

    /// <inheritdoc/>
    public void Collect(Span<Bracket> brackets)
    {
        finished.CopyTo(brackets);
        finished.Clear();
    }

    /// <inheritdoc/>
    public void Dispose() { }
}
