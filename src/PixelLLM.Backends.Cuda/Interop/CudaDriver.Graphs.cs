using System.Runtime.InteropServices;

namespace PixelLLM.Backends.Cuda.Interop;

public sealed unsafe partial class CudaDriver
{
    private readonly GraphCalls _graphs;

    /// <summary>Stream capture into a CUDA graph and graph launch; absent entry points (old drivers) fail when used.</summary>
    private sealed class GraphCalls
    {
        public readonly delegate* unmanaged<nint, int, int> BeginCapture;
        public readonly delegate* unmanaged<nint, nint*, int> EndCapture;
        public readonly delegate* unmanaged<nint*, nint, ulong, int> Instantiate;
        public readonly delegate* unmanaged<nint, nint, int> Launch;
        public readonly delegate* unmanaged<nint, int> ExecDestroy;
        public readonly delegate* unmanaged<nint, int> Destroy;

        public GraphCalls(nint library)
        {
            nint E(string name) => NativeLibrary.TryGetExport(library, name, out var a) ? a : 0;
            BeginCapture = (delegate* unmanaged<nint, int, int>)E("cuStreamBeginCapture_v2");
            EndCapture = (delegate* unmanaged<nint, nint*, int>)E("cuStreamEndCapture");
            Instantiate = (delegate* unmanaged<nint*, nint, ulong, int>)E("cuGraphInstantiateWithFlags");
            Launch = (delegate* unmanaged<nint, nint, int>)E("cuGraphLaunch");
            ExecDestroy = (delegate* unmanaged<nint, int>)E("cuGraphExecDestroy");
            Destroy = (delegate* unmanaged<nint, int>)E("cuGraphDestroy");
        }
    }

    /// <summary>Whether this driver has everything <see cref="BeginCapture"/> … <see cref="LaunchGraph"/> need (CUDA 11.4+).</summary>
    public bool HasGraphs => _graphs.BeginCapture != null && _graphs.EndCapture != null && _graphs.Instantiate != null
                             && _graphs.Launch != null && _graphs.ExecDestroy != null && _graphs.Destroy != null;

    /// <summary>Starts capturing <paramref name="stream"/> (thread-local mode: other threads' CUDA calls are unaffected).</summary>
    public void BeginCapture(nint stream) { RequireGraphs(); Check(_graphs.BeginCapture(stream, 1), "cuStreamBeginCapture"); }

    /// <summary>Ends the capture and instantiates the graph; the template graph is destroyed, the executable kept.</summary>
    public nint EndCaptureAndInstantiate(nint stream)
    {
        RequireGraphs();
        nint graph, exec;
        Check(_graphs.EndCapture(stream, &graph), "cuStreamEndCapture");
        try { Check(_graphs.Instantiate(&exec, graph, 0), "cuGraphInstantiateWithFlags"); }
        finally { Check(_graphs.Destroy(graph), "cuGraphDestroy"); }
        return exec;
    }

    public void LaunchGraph(nint exec, nint stream) => Check(_graphs.Launch(exec, stream), "cuGraphLaunch");

    public void DestroyGraphExec(nint exec) => Check(_graphs.ExecDestroy(exec), "cuGraphExecDestroy");

    private void RequireGraphs()
    {
        if (!HasGraphs) throw new Runtime.BackendException($"{LibraryPath}: this driver has no stream-capture graph API (needs CUDA 11.4+)");
    }
}
