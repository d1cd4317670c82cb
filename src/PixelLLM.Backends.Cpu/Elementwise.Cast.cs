using System.Numerics.Tensors;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

internal static unsafe partial class Elementwise
{
    /// <summary>
    /// Converts between F32/F16/BF16/I32/I64/U8 like PyTorch's .to(): floats round to nearest even (integers reach
    /// BF16 through f32); float → integer truncates toward zero, saturating to I32/I64 range with NaN → 0, and U8 takes
    /// that I64 value modulo 256; integer → narrower integer wraps.
    /// </summary>
    public static void Cast(CastOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        var src = x[0];
        if (src.Desc.DType == y.Desc.DType)
        {
            long bytes = y.Desc.ByteSize;
            Buffer.MemoryCopy(src.Pointer, y.Pointer, bytes, bytes);
            return;
        }
        KernelParallel.For(src.Length, FloatTensorMap.ParallelGrain, new CastBody(src, y));
    }

    private readonly struct CastBody(CpuTensor x, CpuTensor y) : IRangeBody
    {
        private const int Chunk = 256;

        public void Run(long start, long end)
        {
            DType from = x.Desc.DType, to = y.Desc.DType;
            if (from == DType.F32 && to == DType.F16)
            {
                TensorPrimitives.ConvertToHalf(new ReadOnlySpan<float>((float*)x.Pointer + start, (int)(end - start)),
                    new Span<Half>((Half*)y.Pointer + start, (int)(end - start)));
                return;
            }
            if (to == DType.F32 && from.IsFloat())
            {
                FloatTensorMap.Load(x, start, new Span<float>((float*)y.Pointer + start, (int)(end - start)));
                return;
            }
            Span<float> floats = stackalloc float[Chunk];
            Span<long> integers = stackalloc long[Chunk];
            for (long i = start; i < end; i += Chunk)
            {
                int n = (int)Math.Min(Chunk, end - i);
                if (from.IsFloat())
                {
                    FloatTensorMap.Load(x, i, floats[..n]);
                    StoreFloats(floats[..n], y, i);
                }
                else
                {
                    LoadIntegers(x, i, integers[..n]);
                    StoreIntegers(integers[..n], y, i);
                }
            }
        }
    }

    private static void LoadIntegers(CpuTensor t, long start, Span<long> dst)
    {
        switch (t.Desc.DType)
        {
            case DType.I32: { var s = (int*)t.Pointer + start; for (int i = 0; i < dst.Length; i++) dst[i] = s[i]; break; }
            case DType.I64: new ReadOnlySpan<long>((long*)t.Pointer + start, dst.Length).CopyTo(dst); break;
            case DType.U8: { var s = t.Pointer + start; for (int i = 0; i < dst.Length; i++) dst[i] = s[i]; break; }
            default: throw new NotSupportedException($"CPU Cast: {t.Desc} is not an integer tensor");
        }
    }

    private static void StoreFloats(ReadOnlySpan<float> src, CpuTensor t, long start)
    {
        switch (t.Desc.DType)
        {
            case DType.F32 or DType.F16 or DType.BF16: FloatTensorMap.Store(src, t, start); break;
            case DType.I32: { var d = (int*)t.Pointer + start; for (int i = 0; i < src.Length; i++) d[i] = (int)src[i]; break; }
            case DType.I64: { var d = (long*)t.Pointer + start; for (int i = 0; i < src.Length; i++) d[i] = (long)src[i]; break; }
            case DType.U8: { var d = t.Pointer + start; for (int i = 0; i < src.Length; i++) d[i] = unchecked((byte)(long)src[i]); break; }
            default: throw new NotSupportedException($"CPU Cast: no conversion to {t.Desc}");
        }
    }

    private static void StoreIntegers(ReadOnlySpan<long> src, CpuTensor t, long start)
    {
        switch (t.Desc.DType)
        {
            case DType.F32: { var d = (float*)t.Pointer + start; for (int i = 0; i < src.Length; i++) d[i] = src[i]; break; }
            case DType.F16: { var d = (Half*)t.Pointer + start; for (int i = 0; i < src.Length; i++) d[i] = (Half)(float)src[i]; break; }
            case DType.BF16: { var d = (ushort*)t.Pointer + start; for (int i = 0; i < src.Length; i++) d[i] = BFloat16.FromSingle(src[i]); break; }
            case DType.I32: { var d = (int*)t.Pointer + start; for (int i = 0; i < src.Length; i++) d[i] = unchecked((int)src[i]); break; }
            case DType.I64: src.CopyTo(new Span<long>((long*)t.Pointer + start, src.Length)); break;
            case DType.U8: { var d = t.Pointer + start; for (int i = 0; i < src.Length; i++) d[i] = unchecked((byte)src[i]); break; }
            default: throw new NotSupportedException($"CPU Cast: no conversion to {t.Desc}");
        }
    }
}
