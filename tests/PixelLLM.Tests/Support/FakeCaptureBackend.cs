using PixelLLM.Backends.Cpu;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Tests.Support;

/// <summary>
/// CUDA-graph semantics on the CPU, for testing the executor's capture logic: inside <see cref="Capture"/> Execute only
/// records (node, operand views) and nothing runs; a replay runs the recorded launches on the CPU backend at the recorded
/// addresses. Reads, writes and synchronisation inside a capture throw, as they would break a real stream capture.
/// </summary>
internal sealed class FakeCaptureBackend : IBackend, IGraphCaptureBackend
{
    private readonly CpuBackend cpu = new();
    private List<(Node Node, TensorView[] Inputs, TensorView Output)>? recording;

    public bool CaptureEnabled { get; set; } = true;
    public long CaptureGeneration { get; set; }
    public bool FailCaptures { get; set; }
    /// <summary>Makes replays run only the first half of the recorded launches (a broken recorder the checks must catch).</summary>
    public bool DropSecondHalfOnReplay { get; set; }
    public int CaptureAttempts { get; private set; }
    public int Replays { get; private set; }
    public int EagerExecutes { get; private set; }
    public List<List<string>> Recorded { get; } = [];

    public string Name => "fake-capture";
    public IBackendBuffer Allocate(long bytes) => cpu.Allocate(bytes);
    public TensorView AddWeight(HostTensor weight) => cpu.AddWeight(weight);

    public void Write(TensorView destination, ReadOnlySpan<byte> source)
    {
        NotCapturing("Write");
        cpu.Write(destination, source);
    }

    public void Read(TensorView source, Span<byte> destination)
    {
        NotCapturing("Read");
        cpu.Read(source, destination);
    }

    public void Synchronize() => NotCapturing("Synchronize");

    public void Execute(Node node, ReadOnlySpan<TensorView> inputs, TensorView output)
    {
        if (recording is not null) { recording.Add((node, inputs.ToArray(), output)); return; }
        EagerExecutes++;
        cpu.Execute(node, inputs, output);
    }

    public ICapturedLaunches Capture(Action launches)
    {
        CaptureAttempts++;
        if (FailCaptures) throw new BackendException("fake: this capture fails");
        var launchesRecorded = recording = [];
        try { launches(); }
        finally
        {
            recording = null;
            Recorded.Add(launchesRecorded.Select(r => r.Node.Op.Name).ToList());
        }
        return new Replayer(this, launchesRecorded);
    }

    private void NotCapturing(string call)
    {
        if (recording is not null) throw new InvalidOperationException($"{call} inside a capture");
    }

    public void Dispose() => cpu.Dispose();

    private sealed class Replayer(FakeCaptureBackend owner, List<(Node Node, TensorView[] Inputs, TensorView Output)> launches) : ICapturedLaunches
    {
        public bool Disposed { get; private set; }

        public void Replay()
        {
            ObjectDisposedException.ThrowIf(Disposed, this);
            owner.Replays++;
            int count = owner.DropSecondHalfOnReplay ? launches.Count / 2 : launches.Count;
            for (int i = 0; i < count; i++) owner.cpu.Execute(launches[i].Node, launches[i].Inputs, launches[i].Output);
        }

        public void Dispose() => Disposed = true;
    }
}
