using PixelLLM.Backends.Cpu;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Profiling;

namespace PixelLLM.Tests.Support;

/// <summary>
/// A test's node timer that also hears of every node the backend runs (as a device timer hears of launches): it gives
/// bracket i as <see cref="BracketAt"/> says and reports the launches <see cref="Launched"/> adds.
/// </summary>
internal abstract class FakeOpTimer : IOpTimer
{
    protected readonly List<LaunchTiming> Launches = [];
    private int marks;

    public abstract void Launched(string op);
    protected abstract Bracket BracketAt(int index);

    public int Pending => marks / 2;
    public void Begin() => marks++;
    public void End() => marks++;

    public void Collect(Span<Bracket> brackets)
    {
        for (int i = 0; i < brackets.Length; i++) brackets[i] = BracketAt(i);
        marks = 0;
    }

    public IReadOnlyList<LaunchTiming> CollectLaunches()
    {
        var result = Launches.ToArray();
        Launches.Clear();
        return result;
    }

    public void Dispose() { }
}

/// <summary>
/// The CPU backend with a test's own timer: every executed node counts <paramref name="launchesPerNode"/> launches and is
/// reported to the timer <paramref name="createTimer"/> made (given whether launches are to be timed).
/// </summary>
internal sealed class FakeTimedBackend(Func<bool, FakeOpTimer> createTimer, int launchesPerNode = 1) : IBackend, IProfilingSupport
{
    private readonly CpuBackend cpu = new();
    private FakeOpTimer? timer;

    public bool TimerAskedForLaunches { get; private set; }
    public string Name => "fake";
    public string DeviceDescription => "fake device";
    public long KernelLaunches { get; private set; }
    public IBackendBuffer Allocate(long bytes) => cpu.Allocate(bytes);
    public TensorView AddWeight(HostTensor weight) => cpu.AddWeight(weight);
    public void Write(TensorView destination, ReadOnlySpan<byte> source) => cpu.Write(destination, source);
    public void Read(TensorView source, Span<byte> destination) => cpu.Read(source, destination);
    public void Synchronize() => cpu.Synchronize();
    public DType StoredAs(DType declared) => declared;
    public void Dispose() => cpu.Dispose();

    public void Execute(Node node, ReadOnlySpan<TensorView> inputs, TensorView output)
    {
        cpu.Execute(node, inputs, output);
        KernelLaunches += launchesPerNode;
        timer?.Launched(node.Op.Name);
    }

    public IOpTimer CreateOpTimer(bool timeLaunches = false)
    {
        TimerAskedForLaunches = timeLaunches;
        return timer = createTimer(timeLaunches);
    }
}
