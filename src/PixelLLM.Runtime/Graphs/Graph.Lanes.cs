namespace PixelLLM.Runtime.Graphs;

public sealed partial class Graph
{
    private int currentLane;

    /// <summary>
    /// Nodes added inside the returned scope go on the side lane (lane 1): a branch that reads lane 0's results only from
    /// before it starts and whose results lane 0 reads only after it ends (SAM next to EVA02). A backend with concurrent
    /// lanes runs it on a second stream beside lane 0's nodes; every other backend runs the nodes in creation order, as
    /// if no lane were given. See <see cref="Execution.LaneRegion"/>.
    /// </summary>
    public IDisposable OnSideLane()
    {
        if (currentLane != 0) throw new GraphBuildException("side lanes do not nest");
        currentLane = 1;
        return new LaneExit(this);
    }

    private sealed class LaneExit(Graph graph) : IDisposable
    {
        public void Dispose() => graph.currentLane = 0;
    }
}
