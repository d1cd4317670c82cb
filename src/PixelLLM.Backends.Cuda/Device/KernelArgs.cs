using System.Runtime.InteropServices;

namespace PixelLLM.Backends.Cuda.Device;

/// <summary>Up to 8 dims or strides passed to a kernel by value; matches prelude.cuh's Dims8 (64 bytes, 8-aligned).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct Dims8
{
    public const int MaxRank = 8;
    public fixed long V[MaxRank];

    public static Dims8 From(ReadOnlySpan<long> values)
    {
        if (values.Length > MaxRank) throw new Runtime.BackendException($"CUDA kernels take tensors of rank ≤ {MaxRank}, got rank {values.Length}");
        var d = new Dims8();
        for (int i = 0; i < values.Length; i++) d.V[i] = values[i];
        return d;
    }
}

/// <summary>Up to 64 device addresses passed to a kernel by value; matches reorder_rows.cu's PointerTable (512 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PointerTable64
{
    public const int Capacity = 64;
    public fixed ulong P[Capacity];

    public static PointerTable64 From(ReadOnlySpan<ulong> pointers)
    {
        if (pointers.Length > Capacity) throw new Runtime.BackendException($"a pointer table holds at most {Capacity} addresses, got {pointers.Length}");
        var t = new PointerTable64();
        for (int i = 0; i < pointers.Length; i++) t.P[i] = pointers[i];
        return t;
    }
}

/// <summary>
/// Up to <see cref="MaxLayers"/> decoder layers' own tensors (<see cref="Runtime.Ops.T5DecoderStackOp.PerLayerInputs"/>
/// order), passed by value; matches decoder_layer_stream.cu's DsLayerTable (3 KB).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct DecoderLayerTable
{
    public const int MaxLayers = 24, PointersPerLayer = 16;
    public fixed ulong P[MaxLayers * PointersPerLayer];

    /// <summary>The table of <paramref name="layers"/>, each its PointersPerLayer addresses in order.</summary>
    public static DecoderLayerTable From(IReadOnlyList<ulong[]> layers)
    {
        if (layers.Count > MaxLayers) throw new Runtime.BackendException($"a decoder layer table holds at most {MaxLayers} layers, got {layers.Count}");
        var t = new DecoderLayerTable();
        for (int l = 0; l < layers.Count; l++)
        {
            if (layers[l].Length != PointersPerLayer)
                throw new Runtime.BackendException($"a decoder layer has {PointersPerLayer} tensors in the table, got {layers[l].Length}");
            for (int i = 0; i < PointersPerLayer; i++) t.P[l * PointersPerLayer + i] = layers[l][i];
        }
        return t;
    }
}

/// <summary>
/// Up to <see cref="MaxDepth"/> dense layers (weight, bias, where their output goes, output width), passed by value;
/// matches mlp.cu's MlpLayers (224 bytes).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct MlpLayerTable
{
    public const int MaxDepth = 8;
    public fixed ulong Weight[MaxDepth];
    public fixed ulong Bias[MaxDepth];
    public fixed ulong Out[MaxDepth];
    public fixed int N[MaxDepth];

    public static MlpLayerTable From(IReadOnlyList<(ulong Weight, ulong Bias, ulong Out, int N)> layers)
    {
        if (layers.Count > MaxDepth) throw new Runtime.BackendException($"an MLP layer table holds at most {MaxDepth} layers, got {layers.Count}");
        var t = new MlpLayerTable();
        for (int l = 0; l < layers.Count; l++) (t.Weight[l], t.Bias[l], t.Out[l], t.N[l]) = layers[l];
        return t;
    }
}

/// <summary>
/// Up to <see cref="Capacity"/> byte ranges a kernel asks L2 to fetch, passed by value; matches prefetch.cuh's PxlPrefetch
/// (96 bytes). Unused ranges are empty.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PrefetchRanges
{
    public const int Capacity = 6;
    public fixed ulong Address[Capacity];
    public fixed long Bytes[Capacity];

    /// <summary>The ranges in order; more than <see cref="Capacity"/> is the caller's error.</summary>
    public static PrefetchRanges From(IReadOnlyList<(ulong Address, long Bytes)> ranges)
    {
        if (ranges.Count > Capacity) throw new Runtime.BackendException($"a kernel takes at most {Capacity} prefetch ranges, got {ranges.Count}");
        var r = new PrefetchRanges();
        for (int i = 0; i < ranges.Count; i++) (r.Address[i], r.Bytes[i]) = ranges[i];
        return r;
    }

    /// <summary>The non-empty ranges, for tests and profiles.</summary>
    public readonly (ulong Address, long Bytes)[] ToArray()
    {
        var list = new List<(ulong, long)>();
        for (int i = 0; i < Capacity; i++)
            if (Bytes[i] > 0) list.Add((Address[i], Bytes[i]));
        return [.. list];
    }
}

/// <summary>
/// A kernel's argument list, built in order (each value aligned to its size, as the kernel's .param block lays it out)
/// and reused from launch to launch, so launching allocates nothing. The queue turns it into cuLaunchKernel's void**.
/// </summary>
internal sealed class KernelArgs
{
    private readonly byte[] data = new byte[4096]; // a kernel's whole parameter space
    private readonly int[] offsets = new int[48];
    private readonly int[] sizes = new int[48];
    private int used;

    /// <summary>How many arguments have been added.</summary>
    public int Count { get; private set; }

    /// <summary>The bytes of every argument, at <see cref="Offset"/>.</summary>
    public byte[] Data => data;

    public int Offset(int i) => offsets[i];

    /// <summary>Byte size of each argument in order (what a PTX .param list is checked against).</summary>
    public ReadOnlySpan<int> Sizes => sizes.AsSpan(0, Count);

    public KernelArgs Reset()
    {
        Count = 0;
        used = 0;
        return this;
    }

    public KernelArgs Ptr(ulong devicePointer) => Add(devicePointer);
    public KernelArgs I32(int value) => Add(value);
    public KernelArgs I64(long value) => Add(value);
    public KernelArgs F32(float value) => Add(value);
    public KernelArgs Dims(Dims8 value) => Add(value);
    public KernelArgs Pointers(PointerTable64 value) => Add(value);
    public KernelArgs Layers(DecoderLayerTable value) => Add(value);
    public KernelArgs Prefetch(PrefetchRanges value) => Add(value);
    public KernelArgs MlpLayers(MlpLayerTable value) => Add(value);

    private unsafe KernelArgs Add<T>(T value) where T : unmanaged
    {
        int size = sizeof(T), align = Math.Min(size, 8);
        int at = (used + align - 1) / align * align;
        if (Count == offsets.Length || at + size > data.Length) throw new InvalidOperationException("too many kernel arguments");
        MemoryMarshal.Write(data.AsSpan(at, size), in value);
        offsets[Count] = at;
        sizes[Count++] = size;
        used = at + size;
        return this;
    }
}
