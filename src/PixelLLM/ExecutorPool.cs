using PixelLLM.Models;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Weights;

namespace PixelLLM;

/// <summary>
/// Models-level <see cref="PixelLlm"/> instances over ONE set of weights and one backend. A <see cref="PixelLlm"/> caches
/// compiled graphs and is not thread-safe, so each running request borrows one instance for its whole duration; at most
/// <c>capacity</c> exist, and they are created on demand. When <c>threads</c> &gt; 0 the requests run on a scheduler of that
/// concurrency, which also bounds the kernels' Parallel.For (it schedules on TaskScheduler.Current).
/// </summary>
internal sealed class ExecutorPool : IDisposable
{
    private readonly Func<PixelLlm> create;
    private readonly SemaphoreSlim slots;
    private readonly Stack<PixelLlm> idle = new();
    private readonly List<PixelLlm> all = new();
    private readonly TaskScheduler? scheduler;
    private bool disposed;

    public ExecutorPool(PixelLlmConfig config, IWeightSource weights, IBackend backend, int capacity, int threads)
    {
        create = () => new PixelLlm(config, weights, backend);
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
        try
        {
            if (scheduler is null) return work(model);
            return Task.Factory.StartNew(() => work(model), cancellation, TaskCreationOptions.None, scheduler).GetAwaiter().GetResult();
        }
        finally
        {
            lock (idle) idle.Push(model);
            slots.Release();
        }
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
