using PixelLLM.Backends.Cpu;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Tests.Support;

/// <summary>
/// The CPU backend, counting what crosses the host boundary as a device backend's would: reads (downloads), writes
/// (uploads) and copies on the backend, with each read's size.
/// </summary>
internal sealed class CountingBackend : IBackend
{
    private readonly CpuBackend inner = new();

    public List<long> Reads { get; } = [];
    public long BytesRead => Reads.Sum();
    public long BytesWritten { get; private set; }
    public int Copies { get; private set; }

    public string Name => "cpu (counting)";
    public IBackendBuffer Allocate(long bytes) => inner.Allocate(bytes);
    public long StorageBytes(TensorDesc desc) => ((IBackend)inner).StorageBytes(desc);
    public TensorView AddWeight(HostTensor weight) => inner.AddWeight(weight);
    public void Execute(Node node, ReadOnlySpan<TensorView> inputs, TensorView output) => inner.Execute(node, inputs, output);
    public void Synchronize() => inner.Synchronize();

    public void Write(TensorView destination, ReadOnlySpan<byte> source)
    {
        BytesWritten += source.Length;
        inner.Write(destination, source);
    }

    /// <summary>Makes every read fail, as a device error would.</summary>
    public bool FailReads { get; set; }

    public void Read(TensorView source, Span<byte> destination)
    {
        if (FailReads) throw new BackendException("read failed (test)");
        Reads.Add(destination.Length);
        inner.Read(source, destination);
    }

    public void Copy(TensorView destination, TensorView source)
    {
        Copies++;
        ((IBackend)inner).Copy(destination, source);
    }

    /// <summary>Forgets the counts so far.</summary>
    public void Reset()
    {
        Reads.Clear();
        BytesWritten = 0;
        Copies = 0;
    }

    public void Dispose() => inner.Dispose();
}
