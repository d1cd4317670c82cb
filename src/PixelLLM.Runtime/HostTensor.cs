using System.Buffers;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace PixelLLM.Runtime;

/// <summary>
/// Tensor data in host memory: either a managed array or a view into a memory-mapped file.
/// The bytes are little-endian, row-major.
/// </summary>
public sealed class HostTensor
{
    public HostTensor(TensorDesc desc, Memory<byte> data)
    {
        if (data.Length != desc.ByteSize)
            throw new ArgumentException($"tensor {desc} needs {desc.ByteSize} bytes, got {data.Length}");
        Desc = desc;
        Data = data;
    }

    public TensorDesc Desc { get; }
    public Memory<byte> Data { get; }
    public Shape Shape => Desc.Shape;
    public DType DType => Desc.DType;

    public Span<T> AsSpan<T>() where T : unmanaged => MemoryMarshal.Cast<byte, T>(Data.Span);

    public static HostTensor Zeros(DType dtype, params int[] shape)
    {
        var desc = new TensorDesc(dtype, new Shape(shape));
        return new HostTensor(desc, new byte[desc.ByteSize]);
    }

    public static HostTensor FromArray<T>(T[] values, params int[] shape) where T : unmanaged
    {
        var desc = new TensorDesc(DTypeOf<T>(), new Shape(shape));
        if (desc.ElementCount != values.Length)
            throw new ArgumentException($"{values.Length} values do not fill shape {desc.Shape}");
        var bytes = new byte[desc.ByteSize];
        MemoryMarshal.AsBytes(values.AsSpan()).CopyTo(bytes);
        return new HostTensor(desc, bytes);
    }

    /// <summary>The values as float32, converting from f16/bf16/integers where needed.</summary>
    public float[] ToFloatArray()
    {
        var n = (int)Desc.ElementCount;
        var result = new float[n];
        var bytes = Data.Span;
        switch (DType)
        {
            case DType.F32 or DType.F16 or DType.BF16: WriteSingles(result); break;
            case DType.I32: { var s = MemoryMarshal.Cast<byte, int>(bytes); for (int i = 0; i < n; i++) result[i] = s[i]; break; }
            case DType.I64: { var s = MemoryMarshal.Cast<byte, long>(bytes); for (int i = 0; i < n; i++) result[i] = s[i]; break; }
            case DType.U8: for (int i = 0; i < n; i++) result[i] = bytes[i]; break;
        }
        return result;
    }

    /// <summary>This tensor converted to float32 (the same object when it already is).</summary>
    public HostTensor ToF32() => DType == DType.F32 ? this : FromArray(ToFloatArray(), Shape.ToArray());

    /// <summary>
    /// The same values held in a narrower float type for a Linear to read instead of these bytes, or null. A weight source
    /// that keeps Linear weights in bf16 sets it (<see cref="Graphs.Graph.LinearWeight"/> swaps it in); any other reader of
    /// the weight gets this tensor's own values.
    /// </summary>
    public HostTensor? LinearForm { get; init; }

    /// <summary>A tensor whose bytes <paramref name="fill"/> writes on first use: never, when nothing reads them.</summary>
    public static HostTensor Deferred(TensorDesc desc, Action<Span<byte>> fill) => new(desc, DeferredMemory.Create(checked((int)desc.ByteSize), fill));

    /// <summary>Whether the bytes exist yet (false only for a <see cref="Deferred"/> tensor nothing has read).</summary>
    public bool IsMaterialised => !MemoryMarshal.TryGetMemoryManager<byte, DeferredMemory>(Data, out var deferred) || deferred!.IsMaterialised;

    /// <summary>This float tensor as float32, widened on first use (the same object when it already is f32).</summary>
    public HostTensor ToF32Deferred()
    {
        if (DType == DType.F32) return this;
        if (!DType.IsFloat()) throw new InvalidOperationException($"{Desc} is not a float tensor");
        return Deferred(new TensorDesc(DType.F32, Shape), bytes => WriteSingles(MemoryMarshal.Cast<byte, float>(bytes)));
    }

    /// <summary>This float tensor rounded to bf16 (to nearest even) on first use (the same object when it already is bf16).</summary>
    public HostTensor ToBf16Deferred()
    {
        if (DType == DType.BF16) return this;
        if (!DType.IsFloat()) throw new InvalidOperationException($"{Desc} is not a float tensor");
        return Deferred(new TensorDesc(DType.BF16, Shape), bytes =>
            BFloat16.FromSingles(DType == DType.F32 ? AsSpan<float>() : ToFloatArray(), MemoryMarshal.Cast<byte, ushort>(bytes)));
    }

    private void WriteSingles(Span<float> destination)
    {
        switch (DType)
        {
            case DType.F32: AsSpan<float>().CopyTo(destination); break;
            case DType.BF16: BFloat16.ToSingles(AsSpan<ushort>(), destination); break;
            case DType.F16: { var halves = AsSpan<Half>(); for (int i = 0; i < halves.Length; i++) destination[i] = (float)halves[i]; break; }
            default: throw new InvalidOperationException($"{Desc} is not a float tensor");
        }
    }

    public static DType DTypeOf<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? DType.F32 :
        typeof(T) == typeof(Half) ? DType.F16 :
        typeof(T) == typeof(int) ? DType.I32 :
        typeof(T) == typeof(long) ? DType.I64 :
        typeof(T) == typeof(byte) ? DType.U8 :
        throw new NotSupportedException($"no dtype for {typeof(T).Name}");
}

/// <summary>bfloat16 conversions (round to nearest even), kept bit-exact with PyTorch.</summary>
public static class BFloat16
{
    public static float ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    public static ushort FromSingle(float value)
    {
        uint u = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((u >> 16) | 0x40);
        uint rounding = 0x7FFF + ((u >> 16) & 1);
        return (ushort)((u + rounding) >> 16);
    }

    /// <summary><see cref="FromSingle"/> over a span, sixteen values at a time where the CPU has 256-bit vectors.</summary>
    public static void FromSingles(ReadOnlySpan<float> values, Span<ushort> bits)
    {
        if (bits.Length < values.Length) throw new ArgumentException("destination shorter than source", nameof(bits));
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var one = Vector256.Create(1u);
            var bias = Vector256.Create(0x7FFFu);
            var quietBit = Vector256.Create(0x40u);
            var magnitude = Vector256.Create(0x7FFFFFFFu);
            var infinity = Vector256.Create(0x7F800000u);
            for (; i + 16 <= values.Length; i += 16)
            {
                var low = Round(Vector256.Create(values.Slice(i, 8)).AsUInt32());
                var high = Round(Vector256.Create(values.Slice(i + 8, 8)).AsUInt32());
                Vector256.Narrow(low, high).CopyTo(bits.Slice(i, 16));
            }

            Vector256<uint> Round(Vector256<uint> u)
            {
                var rounded = Vector256.ShiftRightLogical(u + bias + (Vector256.ShiftRightLogical(u, 16) & one), 16);
                var nan = Vector256.GreaterThan(u & magnitude, infinity);
                return Vector256.ConditionalSelect(nan, Vector256.ShiftRightLogical(u, 16) | quietBit, rounded);
            }
        }
        for (; i < values.Length; i++) bits[i] = FromSingle(values[i]);
    }

    /// <summary><see cref="ToSingle"/> over a span (a shift per value, sixteen at a time where the CPU has 256-bit vectors).</summary>
    public static void ToSingles(ReadOnlySpan<ushort> bits, Span<float> values)
    {
        if (values.Length < bits.Length) throw new ArgumentException("destination shorter than source", nameof(values));
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 16 <= bits.Length; i += 16)
            {
                var (low, high) = Vector256.Widen(Vector256.Create(bits.Slice(i, 16)));
                Vector256.ShiftLeft(low, 16).AsSingle().CopyTo(values.Slice(i, 8));
                Vector256.ShiftLeft(high, 16).AsSingle().CopyTo(values.Slice(i + 8, 8));
            }
        for (; i < bits.Length; i++) values[i] = ToSingle(bits[i]);
    }
}

/// <summary>Exposes unmanaged memory (e.g. a mapped file) as <see cref="Memory{T}"/> without copying.</summary>
public sealed unsafe class UnmanagedMemory(byte* pointer, int length) : MemoryManager<byte>
{
    public override Span<byte> GetSpan() => new(pointer, length);
    public override MemoryHandle Pin(int elementIndex = 0) => new(pointer + elementIndex);
    public override void Unpin() { }
    protected override void Dispose(bool disposing) { }

    /// <summary>
    /// Lets the OS drop the resident pages under <paramref name="data"/> when it is a view of a mapped file (best effort,
    /// Linux): a backend that has copied a weight to its device calls it, so the process does not also keep the file's
    /// copy resident. The view stays valid; touching it reads the pages again.
    /// </summary>
    public static void ReleaseResidentPages(Memory<byte> data)
    {
        byte* at = Address(data);
        if (at != null) Checkpoints.MappedFileAdvice.DontNeed(at, data.Length);
    }

    /// <summary>
    /// One view over <paramref name="parts"/> when each is unmanaged memory starting where the one before it ends (tensors
    /// stored back to back in one mapped file), so stacking them needs no copy; null otherwise.
    /// </summary>
    public static Memory<byte>? Join(IReadOnlyList<Memory<byte>> parts)
    {
        byte* start = null;
        long total = 0;
        foreach (var part in parts)
        {
            byte* at = Address(part);
            if (at == null) return null;
            if (start == null) start = at;
            else if (at != start + total) return null;
            total += part.Length;
        }
        return start == null || total > int.MaxValue ? null : new UnmanagedMemory(start, (int)total).Memory;
    }

    /// <summary>Where <paramref name="data"/> starts, when it is unmanaged memory (a view of a mapped file); else null.</summary>
    private static byte* Address(Memory<byte> data) =>
        MemoryMarshal.TryGetMemoryManager<byte, UnmanagedMemory>(data, out var manager, out int index, out _) ? (byte*)manager.Pin(index).Pointer : null;
}

/// <summary>
/// Bytes made on first use (pinned, so a backend may keep their address): a widened or rounded copy of a weight that a run
/// may never read because a Linear reads the stored form instead.
/// </summary>
internal sealed unsafe class DeferredMemory : MemoryManager<byte>
{
    private readonly Lazy<byte[]> bytes;
    private readonly int length;

    private DeferredMemory(int length, Action<Span<byte>> fill)
    {
        this.length = length;
        bytes = new Lazy<byte[]>(() =>
        {
            var made = GC.AllocateUninitializedArray<byte>(length, pinned: true);
            fill(made);
            return made;
        }, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The memory, <paramref name="length"/> bytes long, without making the bytes.</summary>
    public static Memory<byte> Create(int length, Action<Span<byte>> fill) => new DeferredMemory(length, fill).CreateMemory(length);

    public bool IsMaterialised => bytes.IsValueCreated;

    public override Span<byte> GetSpan() => bytes.Value;

    public override Memory<byte> Memory => CreateMemory(length);

    public override MemoryHandle Pin(int elementIndex = 0) =>
        new((byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(bytes.Value)) + elementIndex);

    public override void Unpin() { }

    protected override void Dispose(bool disposing) { }
}
