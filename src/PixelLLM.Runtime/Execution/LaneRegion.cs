using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Execution;

/// <summary>
/// Where a plan's side lane (<see cref="Graph.OnSideLane"/>) runs beside lane 0: the side lane first waits for what lane 0
/// queued before step <see cref="Fork"/>, and lane 0 waits for the side lane before step <see cref="Join"/> (the run's
/// end when it equals the step count). Every side-lane node lies in [Fork, Join); inside that window the memory plan
/// never lets a tensor one lane touches share bytes with one the other lane touches.
/// </summary>
/// <param name="Fork">The first step after every lane-0 node the side lane depends on.</param>
/// <param name="Join">The first lane-0 step that reads a side-lane result, or the step count.</param>
public sealed record LaneRegion(int Fork, int Join)
{
    /// <summary>
    /// The region of <paramref name="order"/>'s side lane, or null when it has none or cannot run beside lane 0 (a node of
    /// either lane that updates storage in place inside the window, or a side node placed before its fork or after its
    /// join): then lanes are ignored.
    /// </summary>
    public static LaneRegion? Find(IReadOnlyList<Node> order)
    {
        var step = new Dictionary<int, int>();
        for (int i = 0; i < order.Count; i++) step[order[i].Id] = i;
        var side = order.Where(n => n.Lane == 1).ToList();
        if (side.Count == 0 || side.Any(n => n.Op.InPlaceInput >= 0 || n.Op.UpdatedInputs.Count > 0)) return null;

        int fork = 0;
        var visited = new HashSet<int>();
        var pending = new Stack<Node>(side);
        while (pending.Count > 0)
            foreach (var input in pending.Pop().Inputs)
            {
                var producer = input.Producer;
                if (producer is null || !visited.Add(producer.Id)) continue;
                if (producer.Lane == 0) fork = Math.Max(fork, step[producer.Id] + 1);
                pending.Push(producer);
            }

        // A lane-0 view of a side-lane tensor launches nothing: whoever reads the view is the one that must wait.
        int join = order.Count;
        var fromSide = new HashSet<int>();
        for (int i = 0; i < order.Count && join == order.Count; i++)
        {
            var n = order[i];
            bool reads = n.Inputs.Any(t => fromSide.Contains(t.Id));
            if (n.Lane == 1 || (reads && n.Op.IsView)) fromSide.Add(n.Output.Id);
            else if (reads) join = i;
        }
        if (!side.All(n => step[n.Id] >= fork && step[n.Id] < join)) return null;
        // A lane-0 write in place inside the window could overwrite storage the side lane is still reading: the plan
        // keeps distinct tensors apart, not one tensor's two versions.
        for (int i = fork; i < join; i++)
            if (order[i].Lane == 0 && (order[i].Op.InPlaceInput >= 0 || order[i].Op.UpdatedInputs.Count > 0)) return null;
        return new LaneRegion(fork, join);
    }
}
