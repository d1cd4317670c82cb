using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Execution;

/// <summary>
/// Execution order and arena placement of every tensor of a graph that needs arena bytes (inputs and intermediates).
/// Tensors whose lifetimes do not overlap share bytes; views and in-place outputs share their source's bytes; tensors
/// backed by weights or states are not in the arena.
/// </summary>
public sealed class MemoryPlan
{
    /// <summary>Byte alignment of every placement (fits AVX-512 and GPU vector loads).</summary>
    public const int Alignment = 256;

    private MemoryPlan(IReadOnlyList<Node> order, Dictionary<int, long> offsets, Dictionary<int, (int First, int Last)> lifetimes, long peak, long sum,
        LaneRegion? lanes)
    {
        Order = order; Offsets = offsets; Lifetimes = lifetimes; PeakBytes = peak; SumBytes = sum; Lanes = lanes;
    }

    /// <summary>Where the side lane runs beside lane 0 (planned with concurrent lanes and the graph has one), else null.</summary>
    public LaneRegion? Lanes { get; }

    /// <summary>Nodes in execution order (only those the kept tensors depend on).</summary>
    public IReadOnlyList<Node> Order { get; }
    /// <summary>Arena offset per tensor id (inputs, intermediates, views and in-place outputs of those; never weights or states).</summary>
    public IReadOnlyDictionary<int, long> Offsets { get; }
    /// <summary>Per storage-owning tensor id: the first and last step (index into <see cref="Order"/>) its bytes must live.</summary>
    public IReadOnlyDictionary<int, (int First, int Last)> Lifetimes { get; }
    /// <summary>Arena size: the planned peak.</summary>
    public long PeakBytes { get; }
    /// <summary>What the arena would need without reuse: every stored tensor's aligned size added up.</summary>
    public long SumBytes { get; }

    public static long Align(long bytes) => (bytes + Alignment - 1) / Alignment * Alignment;

    /// <summary>
    /// Plans <paramref name="graph"/> so that every tensor in <paramref name="keep"/> survives the run. Nodes that update a
    /// state in place always run (their effect outlives the run); tensors whose storage is a state or a weight (directly,
    /// through views or through in-place chains) are not placed in the arena. With <paramref name="concurrentLanes"/>, a
    /// side lane (<see cref="LaneRegion"/>) is planned to run beside lane 0: inside its window, bytes touched by one lane
    /// are never reused by the other, whatever the program order says (the lanes' own orders still reuse freely).
    /// <paramref name="storageBytes"/> sizes a tensor as the backend stores it (<see cref="IBackend.StorageBytes"/>; by
    /// default its own size).
    /// </summary>
    public static MemoryPlan Create(Graph graph, IReadOnlyCollection<Tensor> keep, bool concurrentLanes = false, Func<TensorDesc, long>? storageBytes = null)
    {
        storageBytes ??= d => d.ByteSize;
        var order = ExecutionOrder(graph, keep);
        var lanes = concurrentLanes ? LaneRegion.Find(order) : null;
        var touchedBy = new Dictionary<int, (bool Lane0, bool Lane1)>();   // root id → touched inside the lanes' window by
        void Mark(Tensor t, int step)
        {
            var r = RootOf(t);
            if (lanes is null || !InArena(r) || step < lanes.Fork || step >= lanes.Join) return;
            var (zero, one) = touchedBy.GetValueOrDefault(r.Id);
            touchedBy[r.Id] = order[step].Lane == 0 ? (true, one) : (zero, true);
        }
        var root = new Dictionary<int, Tensor>();              // tensor id → tensor that owns its storage
        Tensor RootOf(Tensor t) => root.TryGetValue(t.Id, out var r) ? r : t;
        foreach (var n in order)
            if (Aliases(n.Op) is int source) root[n.Output.Id] = RootOf(n.Inputs[source]);

        int end = order.Count;                                  // "alive after the last step"
        var life = new Dictionary<int, (int First, int Last)>();
        void Touch(Tensor t, int step)
        {
            var r = RootOf(t);
            if (!InArena(r)) return;
            int first = r.Kind == TensorKind.Input ? 0 : step;
            life[r.Id] = life.TryGetValue(r.Id, out var l) ? (Math.Min(l.First, first), Math.Max(l.Last, step)) : (first, step);
        }
        for (int i = 0; i < order.Count; i++)
        {
            foreach (var t in order[i].Inputs) { Touch(t, i); Mark(t, i); }
            Touch(order[i].Output, i);
            Mark(order[i].Output, i);
        }
        foreach (var t in keep) Touch(t, end);
        foreach (var t in graph.Inputs) Touch(t, 0);

        var byId = graph.Tensors.ToDictionary(t => t.Id);
        var offsets = new Dictionary<int, long>();
        long peak = 0, sum = 0;
        var placed = new List<(long Offset, long Size, int First, int Last, bool Lane0, bool Lane1)>();
        // Greedy by size: big tensors first, each at the lowest offset that no overlapping-in-time tensor occupies (nor,
        // inside the lanes' window, a tensor of the other lane).
        foreach (var (id, l) in life.OrderByDescending(kv => storageBytes(byId[kv.Key].Desc)).ThenBy(kv => kv.Key))
        {
            long size = Align(Math.Max(1, storageBytes(byId[id].Desc)));
            sum += size;
            var (zero, one) = touchedBy.GetValueOrDefault(id);
            var conflicts = placed.Where(p => (p.First <= l.Last && l.First <= p.Last) || (p.Lane0 && one) || (p.Lane1 && zero)).OrderBy(p => p.Offset);
            long offset = 0;
            foreach (var p in conflicts)
            {
                if (offset + size <= p.Offset) break;
                offset = Math.Max(offset, p.Offset + p.Size);
            }
            placed.Add((offset, size, l.First, l.Last, zero, one));
            offsets[id] = offset;
            peak = Math.Max(peak, offset + size);
        }
        foreach (var n in order)
            if (Aliases(n.Op) is not null && offsets.TryGetValue(RootOf(n.Output).Id, out var shared)) offsets[n.Output.Id] = shared;
        return new MemoryPlan(order, offsets, life, peak, sum, lanes);
    }

    /// <summary>Whether a storage-owning tensor lives in the arena (weights and states have storage of their own).</summary>
    public static bool InArena(Tensor root) => root.Kind is not (TensorKind.Weight or TensorKind.State);

    /// <summary>The input whose storage a node's output shares (views and in-place updates), or null.</summary>
    private static int? Aliases(Op op) => op.IsView ? 0 : op.InPlaceInput >= 0 ? op.InPlaceInput : null;

    private static List<Node> ExecutionOrder(Graph graph, IReadOnlyCollection<Tensor> keep)
    {
        // Nodes are appended after their inputs exist, so creation order is topological, and it is the program order that
        // in-place updates rely on. Keep what the kept tensors need, plus every node that updates storage in place: its
        // effect is visible to later readers of the storage (or to later runs, for states) without a graph edge pointing at it.
        var needed = new HashSet<int>();
        var updates = graph.Nodes.Where(n => n.Op.InPlaceInput >= 0 || n.Op.UpdatedInputs.Count > 0).Select(n => n.Output);
        var stack = new Stack<Tensor>(keep.Concat(updates));
        while (stack.Count > 0)
        {
            var t = stack.Pop();
            if (t.Producer is null || !needed.Add(t.Producer.Id)) continue;
            foreach (var i in t.Producer.Inputs) stack.Push(i);
        }
        return graph.Nodes.Where(n => needed.Contains(n.Id)).ToList();
    }
}
