using System.Numerics.Tensors;
using PixelLLM.Runtime;

namespace PixelLLM.Backends.Cpu;

/// <summary>A float32 span function y = f(x); the same shape in and out.</summary>
internal interface IFloatSpanFunc
{
    void Apply(ReadOnlySpan<float> x, Span<float> y);
}

/// <summary>A float32 span function y = f(a, b) of two equally long operands.</summary>
internal interface IFloatSpanFunc2
{
    void Apply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y);
}

/// <summary>
/// Runs float span functions over whole tensors of any float dtype, split over the cores. F32 is used in place;
/// F16 and BF16 are widened to f32 in small stack chunks (the backend computes in f32) and rounded back.
/// </summary>
internal static unsafe class FloatTensorMap
{
    /// <summary>Elements converted per step for 16-bit dtypes; small enough for the stack.</summary>
    private const int ChunkLength = 512;

    /// <summary>Elements below which a second core does not pay for itself on cheap elementwise work.</summary>
    public const long ParallelGrain = 1 << 15;

    public static void Run<TFunc>(string op, TFunc f, CpuTensor x, CpuTensor y) where TFunc : struct, IFloatSpanFunc
    {
        RequireFloat(op, x);
        KernelParallel.For(x.Length, ParallelGrain, new UnaryBody<TFunc>(f, x, y));
    }

    public static void Run<TFunc>(string op, TFunc f, CpuTensor a, CpuTensor b, CpuTensor y) where TFunc : struct, IFloatSpanFunc2
    {
        RequireFloat(op, a);
        KernelParallel.For(a.Length, ParallelGrain, new BinaryBody<TFunc>(f, a, b, y));
    }

    private static void RequireFloat(string op, CpuTensor x)
    {
        if (!x.Desc.DType.IsFloat()) throw new NotSupportedException($"CPU {op}: needs a float tensor, got {x.Desc}");
    }

    /// <summary>Widens elements [start, start + dst.Length) of a float tensor into f32.</summary>
    public static void Load(CpuTensor t, long start, Span<float> dst)
    {
        switch (t.Desc.DType)
        {
            case DType.F32: new ReadOnlySpan<float>((float*)t.Pointer + start, dst.Length).CopyTo(dst); break;
            case DType.F16: TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>((Half*)t.Pointer + start, dst.Length), dst); break;
            case DType.BF16: BFloat16.ToSingles(new ReadOnlySpan<ushort>((ushort*)t.Pointer + start, dst.Length), dst); break;
            default: throw new NotSupportedException($"CPU backend: {t.Desc} is not a float tensor");
        }
    }

    /// <summary>Rounds f32 values into elements [start, start + src.Length) of a float tensor (nearest even).</summary>
    public static void Store(ReadOnlySpan<float> src, CpuTensor t, long start)
    {
        switch (t.Desc.DType)
        {
            case DType.F32: src.CopyTo(new Span<float>((float*)t.Pointer + start, src.Length)); break;
            case DType.F16: TensorPrimitives.ConvertToHalf(src, new Span<Half>((Half*)t.Pointer + start, src.Length)); break;
            case DType.BF16: BFloat16.FromSingles(src, new Span<ushort>((ushort*)t.Pointer + start, src.Length)); break;
            default: throw new NotSupportedException($"CPU backend: {t.Desc} is not a float tensor");
        }
    }

    private readonly struct UnaryBody<TFunc>(TFunc f, CpuTensor x, CpuTensor y) : IRangeBody where TFunc : struct, IFloatSpanFunc
    {
        public void Run(long start, long end)
        {
            if (x.Desc.DType == DType.F32)
            {
                f.Apply(new ReadOnlySpan<float>((float*)x.Pointer + start, (int)(end - start)), new Span<float>((float*)y.Pointer + start, (int)(end - start)));
                return;
            }
            Span<float> buffer = stackalloc float[ChunkLength];
            for (long i = start; i < end; i += ChunkLength)
            {
                var chunk = buffer[..(int)Math.Min(ChunkLength, end - i)];
                Load(x, i, chunk);
                f.Apply(chunk, chunk);
                Store(chunk, y, i);
            }
        }
    }

    private readonly struct BinaryBody<TFunc>(TFunc f, CpuTensor a, CpuTensor b, CpuTensor y) : IRangeBody where TFunc : struct, IFloatSpanFunc2
    {
        public void Run(long start, long end)
        {
            if (a.Desc.DType == DType.F32)
            {
                int n = (int)(end - start);
                f.Apply(new ReadOnlySpan<float>((float*)a.Pointer + start, n), new ReadOnlySpan<float>((float*)b.Pointer + start, n),
                    new Span<float>((float*)y.Pointer + start, n));
                return;
            }
            Span<float> bufferA = stackalloc float[ChunkLength];
            Span<float> bufferB = stackalloc float[ChunkLength];
            for (long i = start; i < end; i += ChunkLength)
            {
                int n = (int)Math.Min(ChunkLength, end - i);
                Load(a, i, bufferA[..n]);
                Load(b, i, bufferB[..n]);
                f.Apply(bufferA[..n], bufferB[..n], bufferA[..n]);
                Store(bufferA[..n], y, i);
            }
        }
    }
}
