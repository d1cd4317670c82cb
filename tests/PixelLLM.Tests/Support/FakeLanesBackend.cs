using PixelLLM.Backends.Cpu;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Tests.Support;

/// <summary>
/// Two-stream semantics on the CPU, adversarially: between a fork and the join, lane 0's and the side lane's launches are
/// held back and then run one whole lane before the other (<see cref="SideLaneFirst"/>), the two extremes a real second
/// stream may produce. A memory plan that let the lanes share bytes inside that window gives different results in one of
/// the two orders. Outside the window launches run at once, as on one stream.
/// </summary>
internal sealed class FakeLanesBackend(bool sideLaneFirst) : IBackend, IConcurrentLanesBackend
{
    private readonly CpuBackend cpu = new();
    private readonly List<(Node Node, TensorView[] Inputs, TensorView Output)>[] held = [[], []];
    private bool forked;
    private int lane;

    public bool SideLaneFirst { get; } = sideLaneFirst;
    /// <summary>Nodes whose launch throws (a failing kernel), to check that the executor still joins the lanes.</summary>
    public Func<Node, bool>? FailOn { get; set; }
    public bool ConcurrentLanes => true;
    public List<string> Events { get; } = [];

    public string Name => "fake-lanes";
    public IBackendBuffer Allocate(long bytes) => cpu.Allocate(bytes);
    public TensorView AddWeight(HostTensor weight) => cpu.AddWeight(weight);
    public void Write(TensorView destination, ReadOnlySpan<byte> source) { NotForked("Write"); cpu.Write(destination, source); }
    public void Read(TensorView source, Span<byte> destination) { NotForked("Read"); cpu.Read(source, destination); }
    public void Synchronize() => NotForked("Synchronize");

    public void UseLane(int lane) => this.lane = lane;

    public void ForkSideLane()
    {
        if (forked) throw new InvalidOperationException("fork inside a fork");
        Events.Add("fork");
        forked = true;
    }

    public void JoinSideLane()
    {
        if (!forked) throw new InvalidOperationException("join without a fork");
        Events.Add("join");
        foreach (var l in SideLaneFirst ? new[] { 1, 0 } : [0, 1])
        {
            foreach (var (node, inputs, output) in held[l]) cpu.Execute(node, inputs, output);
            held[l].Clear();
        }
        forked = false;
    }

    public void Execute(Node node, ReadOnlySpan<TensorView> inputs, TensorView output)
    {
        if (FailOn?.Invoke(node) == true) throw new InvalidOperationException($"{node}: launch failed (test)");
        if (node.Lane != lane) throw new InvalidOperationException($"{node} queued on lane {lane}");
        if (!forked)
        {
            if (lane != 0) throw new InvalidOperationException($"{node}: side lane used outside a fork");
            cpu.Execute(node, inputs, output);
            return;
        }
        Events.Add($"{lane}:{node.Op.Name}");
        held[lane].Add((node, inputs.ToArray(), output));
    }

    private void NotForked(string call)
    {
        if (forked) throw new InvalidOperationException($"{call} between a fork and its join");
    }

    public void Dispose() => cpu.Dispose();
}
