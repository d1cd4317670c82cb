using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// The reference backend: fp32 on the host, vectorised, GEMM-heavy ops spread over all cores.
/// Weights are used in place (memory-mapped files are not copied) when they are f32, or bf16 Linear weights.
/// </summary>
public sealed unsafe partial class CpuBackend : IBackend
{
    private readonly Dictionary<HostTensor, CpuBuffer> weights = new(ReferenceEqualityComparer.Instance);
    private readonly object gate = new();

    /// <summary>
    /// A backend whose arenas and state buffers may take at most <paramref name="workingMemoryLimitBytes"/> bytes
    /// (0 = unlimited), with GEMMs and convolutions accumulating as <paramref name="accumulation"/> says.
    /// </summary>
    public CpuBackend(long workingMemoryLimitBytes = 0, CpuAccumulation accumulation = CpuAccumulation.Float32)
    {
        Budget = new AllocationBudget(workingMemoryLimitBytes, "cpu backend working memory");
        Accumulation = accumulation;
    }

    /// <summary>How MatMul, Linear and the convolutions sum their products.</summary>
    public CpuAccumulation Accumulation { get; }

    /// <summary>
    /// F32 (default) keeps every value in fp32. BF16 or F16 rounds each op's f32 output, the inputs it updates and the
    /// intermediates of an op made of ops (a decoder layer or stack) to that type as they are written, as a device that
    /// stores f32 tensors in 16 bits does: the reference backend-check compares a 16-bit device with, so that a composite
    /// op's error is the device's own rather than the storage rounding it compounds over its steps.
    /// </summary>
    public DType EmulatedStorage
    {
        get => storage;
        init => storage = value is DType.F32 or DType.BF16 or DType.F16
            ? value
            : throw new InvalidInputException($"CPU emulated storage must be F32, BF16 or F16, got {value}");
    }
    private readonly DType storage = DType.F32;

    /// <summary>What <see cref="Allocate"/> has handed out and may hand out (weights used in place are not counted).</summary>
    public AllocationBudget Budget { get; }

    public string Name => Accumulation == CpuAccumulation.Float64 ? "cpu-f64" : "cpu";

    /// <summary>An aligned host block; over the budget or when the host refuses it, <see cref="OutOfBackendMemoryException"/>.</summary>
    public IBackendBuffer Allocate(long bytes) => new CpuBuffer(bytes, Budget);

    public TensorView AddWeight(HostTensor weight)
    {
        // bf16 weights are kept as stored for Linear (LinearBf16); any other op given one rejects it when it runs.
        if (weight.DType is DType.F16)
            throw new NotSupportedException($"CPU backend computes in f32; convert {weight.Desc} weights when loading");
        lock (gate)
        {
            if (!weights.TryGetValue(weight, out var buffer))
                weights[weight] = buffer = new CpuBuffer(weight.Data);
            return new TensorView(buffer, 0, weight.Desc);
        }
    }

    public void Write(TensorView destination, ReadOnlySpan<byte> source)
    {
        if (source.Length != destination.Desc.ByteSize) throw new ArgumentException($"write of {source.Length} bytes into {destination.Desc}");
        source.CopyTo(new Span<byte>(Ptr(destination), source.Length));
    }

    public void Read(TensorView source, Span<byte> destination) =>
        new ReadOnlySpan<byte>(Ptr(source), checked((int)source.Desc.ByteSize)).CopyTo(destination);

    public void Synchronize() { }

    public void Copy(TensorView destination, TensorView source)
    {
        if (destination.Desc != source.Desc) throw new ArgumentException($"copy of {source.Desc} into {destination.Desc}");
        new ReadOnlySpan<byte>(Ptr(source), checked((int)source.Desc.ByteSize)).CopyTo(new Span<byte>(Ptr(destination), checked((int)destination.Desc.ByteSize)));
    }

    public void Execute(Node node, ReadOnlySpan<TensorView> inputs, TensorView output)
    {
        var list = new CpuTensorList();
        Span<CpuTensor> x = inputs.Length <= 8 ? ((Span<CpuTensor>)list)[..inputs.Length] : new CpuTensor[inputs.Length];
        for (int i = 0; i < inputs.Length; i++) x[i] = new CpuTensor(Ptr(inputs[i]), inputs[i].Desc);
        Dispatch(node.Op, x, new CpuTensor(Ptr(output), output.Desc), Accumulation == CpuAccumulation.Float64, storage);
        Interlocked.Increment(ref executed);
    }

    private static byte* Ptr(TensorView v) => ((CpuBuffer)v.Buffer).Pointer + v.Offset;

    public void Dispose()
    {
        lock (gate)
        {
            foreach (var b in weights.Values) b.Dispose();
            weights.Clear();
        }
    }
}
