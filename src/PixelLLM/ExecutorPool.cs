using PixelLLM.Models;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Weights;

namespace PixelLLM;

/// <summary>
/// Models-level <see cref="PixelLlm"/> instances over ONE set of weights and one backend. A <see cref="PixelLlm"/> caches
/// compiled graphs and is not thread-safe, so each running request borrows one instance for its whole duration; at most
/// <c>capacity</c> exist, and they are created on demand. When <c>threads</c> &gt; 0 the requests run on a scheduler of that
/// concurrency, which also bounds the kernels' Parallel.For (it schedules on TaskScheduler.Current).
/// A request that runs out of backend memory takes its instance with it: the instance (its cached graphs and arenas) is
/// disposed rather than returned, so the memory is free for the next request, which gets a fresh instance.
/// </summary>
internal sealed class ExecutorPool : IDisposable
{
    private readonly Func<PixelLlm> create;
    private readonly SemaphoreSlim slots;
    private readonly Stack<PixelLlm> idle = new();
    private readonly List<PixelLlm> all = new();
    private readonly TaskScheduler? scheduler;
    private readonly Action<PixelLlm>? discarded;
    private bool disposed;

    /// <summary>
    /// At most <paramref name="capacity"/> instances over <paramref name="weights"/>; <paramref name="discarded"/> is told about an
    /// instance dropped after an out-of-memory failure (to drop what hangs off it).
    /// </summary>
    public ExecutorPool(PixelLlmConfig config, IWeightSource weights, IBackend backend, int capacity, int threads,
        Action<PixelLlm>? discarded = null)
    {
        create = () => new PixelLlm(config, weights, backend);
        this.discarded = discarded;
        slots = new SemaphoreSlim(capacity, capacity);
        if (threads > 0) scheduler = new ConcurrentExclusiveSchedulerPair(TaskScheduler.Default, threads).ConcurrentScheduler;
    }

    /// <summary>Runs <paramref name="work"/> on a borrowed instance, waiting for a free one.</summary>
    public T Run<T>(Func<PixelLlm, T> work, CancellationToken cancellation)
    {
        slots.Wait(cancellation);
        PixelLlm model;
        try
        {
            lock (idle)
            {
                ObjectDisposedException.ThrowIf(disposed, this);
                if (!idle.TryPop(out model!)) all.Add(model = create());
            }
        }
        catch
        {
            slots.Release();
            throw;
        }
        bool keep = true;
        try
        {
            if (scheduler is null) return work(model);
            return Task.Factory.StartNew(() => work(model), cancellation, TaskCreationOptions.None, scheduler).GetAwaiter().GetResult();
        }
        catch (OutOfBackendMemoryException)
        {
            keep = false;
            throw;
        }
        finally
        {
            if (keep) lock (idle) idle.Push(model);
            else Discard(model);
            slots.Release();
        }
    }

    /// <summary>Number of instances alive (borrowed or idle).</summary>
    public int InstanceCount { get { lock (idle) return all.Count; } }

    private void Discard(PixelLlm model)
    {
        lock (idle) all.Remove(model);
        discarded?.Invoke(model);
        model.Dispose();
    }

    public void Dispose()
    {
        lock (idle)
        {
            if (disposed) return;
            disposed = true;
            foreach (var m in all) m.Dispose();
            all.Clear();
            idle.Clear();
        }
    }
}
