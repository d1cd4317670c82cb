using System.Runtime.InteropServices;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Profiling;

namespace PixelLLM.Runtime.Execution;

/// <summary>
/// A graph compiled for one backend: ordered, planned into one arena, with every node's operand views resolved,
/// so <see cref="Run"/> only launches kernels. Build once per shape, run many times. The graph's states get storage of
/// their own (zeroed here, kept across runs) unless they are borrowed from another executor. With
/// <see cref="IsolateTensorsVariable"/> = 1 every planned tensor gets an allocation of its own, its exact size, instead:
/// a memory checker (compute-sanitizer, or the CUDA emulator's memcheck) then sees a kernel that reads or writes past a
/// tensor, which inside one arena lands on a neighbour and goes unnoticed.
/// </summary>
public sealed class GraphExecutor : IDisposable
{
    private readonly IBackend backend;
    private readonly List<IBackendBuffer> planned = [];   // the arena, or each isolated tensor's buffer
    private readonly Node[] steps;
    private readonly TensorView[][] stepInputs;
    private readonly TensorView[] stepOutputs;
    private readonly Dictionary<string, TensorView> named = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TensorView> states = new(StringComparer.Ordinal);
    private readonly List<IBackendBuffer> ownedStates = [];
    private readonly GraphCapture capture = new();
    private readonly Action launchAll;
    private readonly List<KeptTensor> handedOut = [];

    /// <summary>The environment variable that makes every executor allocate each planned tensor separately ("1").</summary>
    public const string IsolateTensorsVariable = "PIXELLLM_ISOLATE_TENSORS";

    /// <summary>Whether executors compiled now allocate each planned tensor separately (<see cref="IsolateTensorsVariable"/>).</summary>
    public static bool IsolateTensorsByDefault => Environment.GetEnvironmentVariable(IsolateTensorsVariable) == "1";

    /// <summary>
    /// Compiles <paramref name="graph"/>; <paramref name="keep"/> names intermediates to keep fetchable besides the outputs.
    /// States named like a state of <paramref name="shareStatesWith"/> (same dtype and shape) use that executor's storage,
    /// so one graph can fill what another reads; the owner must outlive this executor.
    /// </summary>
    public GraphExecutor(Graph graph, IBackend backend, IEnumerable<string>? keep = null, GraphExecutor? shareStatesWith = null)
        : this(graph, backend, keep, shareStatesWith, IsolateTensorsByDefault)
    {
    }

    /// <inheritdoc cref="GraphExecutor(Graph, IBackend, IEnumerable{string}?, GraphExecutor?)"/>
    /// <param name="graph">The graph to compile.</param>
    /// <param name="backend">The backend it runs on.</param>
    /// <param name="keep">Intermediates to keep fetchable besides the outputs.</param>
    /// <param name="shareStatesWith">An executor whose states this one uses where names, dtypes and shapes match.</param>
    /// <param name="isolateTensors">Each planned tensor in an allocation of its own (for memory checkers) instead of one arena.</param>
    public GraphExecutor(Graph graph, IBackend backend, IEnumerable<string>? keep, GraphExecutor? shareStatesWith, bool isolateTensors)
    {
        this.backend = backend;
        Graph = graph;
        var kept = graph.Outputs.Values.Concat((keep ?? []).Select(n => graph[n])).Distinct().ToList();
        Plan = MemoryPlan.Create(graph, kept, backend is IConcurrentLanesBackend { ConcurrentLanes: true }, backend.StorageBytes);
        if (kept.Count == 0 && Plan.Order.Count == 0) throw new GraphBuildException("graph has no outputs and updates no state");
        IsolatedTensors = isolateTensors;
        try
        {
            var arena = isolateTensors ? null : Allocated(Math.Max(Plan.PeakBytes, MemoryPlan.Alignment));
            var own = new Dictionary<int, IBackendBuffer>();   // isolated: storage-owning tensor id → its allocation
            foreach (var s in graph.States) states[s.Name!] = StateStorage(s, shareStatesWith);

            var views = new Dictionary<int, TensorView>();
            TensorView ViewOf(Tensor t)
            {
                if (views.TryGetValue(t.Id, out var v)) return v;
                var root = t.StorageRoot;
                v = root.Kind switch
                {
                    TensorKind.Weight => backend.AddWeight(root.WeightData!) with { Desc = t.Desc },
                    TensorKind.State => states[root.Name!] with { Desc = t.Desc },
                    _ when arena is not null => new TensorView(arena, Plan.Offsets[t.Id], t.Desc),
                    _ => new TensorView(own.TryGetValue(root.Id, out var b) ? b : own[root.Id] = Allocated(Math.Max(backend.StorageBytes(root.Desc), 1)), 0, t.Desc),
                };
                views[t.Id] = v;
                return v;
            }
            steps = Plan.Order.ToArray();
            stepInputs = steps.Select(n => n.Inputs.Select(ViewOf).ToArray()).ToArray();
            stepOutputs = steps.Select(n => ViewOf(n.Output)).ToArray();
            foreach (var t in graph.Inputs) named[t.Name!] = ViewOf(t);
            foreach (var t in graph.States) named[t.Name!] = ViewOf(t);
            foreach (var t in kept) named[t.Name!] = ViewOf(t);
            foreach (var (name, t) in graph.Outputs) named[name] = ViewOf(t);
        }
        catch
        {
            // A failed compile (e.g. out of memory for a state) must not keep the arena or the states it did get.
            Dispose();
            throw;
        }
        launchAll = LaunchAll;
        Label = DefaultLabel(graph, steps);
    }

    public Graph Graph { get; }
    public MemoryPlan Plan { get; }

    /// <summary>Whether each planned tensor has an allocation of its own (<see cref="IsolateTensorsVariable"/>), not a place in one arena.</summary>
    public bool IsolatedTensors { get; }

    public string BackendName => backend.Name;

    /// <summary>How profiles name this graph; by default its outputs and node count (e.g. "logits+hidden (412 nodes)").</summary>
    public string Label { get; set; }

    /// <summary>
    /// Whether repeated runs may be recorded once and replayed (CUDA graphs) on a backend that can; true by default.
    /// Setting it false drops a recording. Profiled runs are never recorded.
    /// </summary>
    public bool AllowCapture
    {
        get => allowCapture;
        set { allowCapture = value; if (!value) capture.Invalidate(); }
    }
    private bool allowCapture = true;

    /// <summary>What capture did for this executor so far.</summary>
    public CaptureStatistics CaptureStats => capture.Statistics;

    /// <summary>Sets a graph input (before every run: inputs live in the arena) or a state (kept until changed).</summary>
    public void SetInput<T>(string name, ReadOnlySpan<T> values) where T : unmanaged
    {
        var view = Settable(name);
        if (HostTensor.DTypeOf<T>() != view.Desc.DType || values.Length != view.Desc.ElementCount)
            throw new InvalidInputException($"input '{name}' expects {view.Desc}, got {values.Length} values of {typeof(T).Name}");
        backend.Write(view, MemoryMarshal.AsBytes(values));
    }

    public void SetInput(string name, HostTensor value)
    {
        var view = Settable(name);
        if (value.Desc != view.Desc) throw new InvalidInputException($"input '{name}' expects {view.Desc}, got {value.Desc}");
        backend.Write(view, value.Data.Span);
    }

    /// <summary>
    /// Sets a graph input (or state) to a kept tensor of <paramref name="source"/> as it is now, without a host round trip
    /// where both run on the same backend (a copy queued on it); otherwise fetched and written. Same description required.
    /// </summary>
    public void SetInput(string name, GraphExecutor source, string sourceName)
    {
        var view = Settable(name);
        var from = source.View(sourceName);
        if (from.Desc != view.Desc) throw new InvalidInputException($"input '{name}' expects {view.Desc}, got '{sourceName}' {from.Desc}");
        if (ReferenceEquals(source.backend, backend)) backend.Copy(view, from);
        else backend.Write(view, source.Fetch(sourceName).Data.Span);
    }

    /// <summary>Runs started (<see cref="Run"/>): what a later reader of a kept tensor compares to know it still holds that run's values.</summary>
    public long Runs { get; private set; }

    /// <summary>
    /// Runs every planned node in creation order (view nodes only rename storage and launch nothing): timed per node on a
    /// profiling backend, replayed from a recording where the backend records (<see cref="AllowCapture"/>), else eagerly.
    /// The only synchronisation is the one at the end, outside any recorded region.
    /// </summary>
    public void Run()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        BeforeOverwrite();
        Runs++;
        if (backend is ProfilingBackend profiled)
        {
            profiled.RunProfiled(this, steps, stepInputs, stepOutputs);
            return;
        }
        if (!(allowCapture && backend is IGraphCaptureBackend recorder && capture.TryRun(recorder, launchAll))) LaunchAll();
        backend.Synchronize();
    }

    private void LaunchAll()
    {
        if (Plan.Lanes is not LaneRegion region || backend is not IConcurrentLanesBackend lanes)
        {
            for (int i = 0; i < steps.Length; i++)
            {
                if (steps[i].Op.IsView) continue;
                backend.Execute(steps[i], stepInputs[i], stepOutputs[i]);
            }
            return;
        }
        // Side-lane nodes sit in [Fork, Join) (LaneRegion.Find): the side lane starts after lane 0's earlier work and lane 0
        // reads its results only after the join, so the host may queue the two lanes' nodes in any interleaving.
        bool open = false; // forked and not yet joined
        try
        {
            for (int i = 0; i < steps.Length; i++)
            {
                if (i == region.Fork) { lanes.ForkSideLane(); open = true; }
                if (i == region.Join) { lanes.JoinSideLane(); open = false; }
                if (steps[i].Op.IsView) continue;
                lanes.UseLane(steps[i].Lane);
                backend.Execute(steps[i], stepInputs[i], stepOutputs[i]);
            }
            if (region.Join == steps.Length) { lanes.JoinSideLane(); open = false; }
        }
        finally
        {
            lanes.UseLane(0);
            // After a failed launch the side lane's queued work must still be joined: later waits on lane 0 (and a
            // capture's end) then cover it.
            if (open) lanes.JoinSideLane();
        }
    }

    private static string DefaultLabel(Graph graph, Node[] steps)
    {
        var outputs = graph.Outputs.Keys.ToList();
        string names = outputs.Count == 0 ? "states" : string.Join("+", outputs.Take(2)) + (outputs.Count > 2 ? $"+{outputs.Count - 2}" : "");
        return $"{names} ({steps.Count(s => !s.Op.IsView)} nodes)";
    }

    /// <summary>
    /// Hands out a kept tensor of the current run without copying it: the next graph reads it here
    /// (<see cref="KeptTensor.Bind"/>), and this executor copies it to the host before its next input or run overwrites
    /// it, unless the holder released it first.
    /// </summary>
    public KeptTensor Keep(string name)
    {
        var kept = new KeptTensor(this, name, View(name).Desc);
        handedOut.Add(kept);
        return kept;
    }

    /// <summary>
    /// Makes host copies of the handed-out tensors still held, before their storage is written. Every one is marked
    /// overwritten even when a copy fails (that one then throws when read, never showing the next run's bytes); the first
    /// failure is rethrown after all.
    /// </summary>
    private void BeforeOverwrite()
    {
        if (handedOut.Count == 0) return;
        Exception? failure = null;
        foreach (var kept in handedOut)
        {
            try { kept.BeforeOverwrite(); }
            catch (Exception e) { failure ??= e; }
        }
        handedOut.Clear();
        if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
    }

    /// <summary>Copies a kept tensor (output, input, state or named intermediate passed as keep) back to the host.</summary>
    public HostTensor Fetch(string name)
    {
        var view = View(name);
        var bytes = new byte[view.Desc.ByteSize];
        backend.Read(view, bytes);
        return new HostTensor(view.Desc, bytes);
    }

    public float[] FetchFloats(string name) => Fetch(name).ToFloatArray();

    /// <summary>Copies a kept tensor into <paramref name="destination"/> without allocating (its exact element count and type).</summary>
    public void FetchInto<T>(string name, Span<T> destination) where T : unmanaged
    {
        var view = View(name);
        if (HostTensor.DTypeOf<T>() != view.Desc.DType || destination.Length != view.Desc.ElementCount)
            throw new InvalidInputException($"'{name}' is {view.Desc}, not {destination.Length} values of {typeof(T).Name}");
        backend.Read(view, MemoryMarshal.AsBytes(destination));
    }

    private TensorView Settable(string name)
    {
        var view = View(name);
        BeforeOverwrite(); // an input may share arena bytes with the last run's outputs
        if (!Graph.TryGet(name, out var t) || t.Kind is not (TensorKind.Input or TensorKind.State))
            throw new InvalidInputException($"'{name}' is not a graph input or state");
        return view;
    }

    /// <summary>A buffer for planned tensors (the arena, or one isolated tensor), freed with the executor.</summary>
    private IBackendBuffer Allocated(long bytes)
    {
        var buffer = backend.Allocate(bytes);
        planned.Add(buffer);
        return buffer;
    }

    private TensorView StateStorage(Tensor state, GraphExecutor? owner)
    {
        if (owner is not null && owner.states.TryGetValue(state.Name!, out var shared))
        {
            if (shared.Desc != state.Desc)
                throw new GraphBuildException($"state '{state.Name}' is {state.Desc} here but {shared.Desc} in the executor it is shared with");
            return shared;
        }
        var buffer = backend.Allocate(Math.Max(backend.StorageBytes(state.Desc), 1));
        ownedStates.Add(buffer);
        var view = new TensorView(buffer, 0, state.Desc);
        backend.Write(view, new byte[state.Desc.ByteSize]);
        return view;
    }

    private TensorView View(string name)
    {
        ObjectDisposedException.ThrowIf(disposed, this); // its arena is freed: reading it would read freed memory
        return named.TryGetValue(name, out var v) ? v
            : throw new KeyNotFoundException($"'{name}' is not an input, state, output or kept tensor of this graph");
    }

    private bool disposed;

    public void Dispose()
    {
        if (disposed) return;
        try
        {
            BeforeOverwrite(); // handed-out values stay readable after their executor is gone
        }
        finally
        {
            disposed = true;
            DisposeBuffers();
        }
    }

    private void DisposeBuffers()
    {
        capture.Dispose();
        foreach (var b in planned) b.Dispose();
        planned.Clear();
        foreach (var b in ownedStates) b.Dispose();
        ownedStates.Clear();
    }
}
