using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

/// <summary>Elementwise kernels. Float ops compute in f32 for every float dtype; Binary and Cast also cover integers.</summary>
internal static partial class Elementwise
{
    public static void Unary(UnaryOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) =>
        FloatTensorMap.Run("Unary", new UnaryFunc(op.Kind), x[0], y);

    public static void Scale(ScaleOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) =>
        FloatTensorMap.Run("Scale", new VectorFunc<Activations.Affine>(new Activations.Affine(op.Scale, op.Shift)), x[0], y);

    public static void SwiGlu(SwiGluOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => Gated<Activations.SwiGlu>("SwiGlu", op.Packed, x, y);

    public static void GeGlu(GeGluOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => Gated<Activations.GeGlu>("GeGlu", op.Packed, x, y);

    /// <summary>A gated unit over (gate, x), or over the two halves of each packed row through the same vector function (the same bits).</summary>
    private static unsafe void Gated<TFunc>(string name, bool packed, ReadOnlySpan<CpuTensor> x, CpuTensor y) where TFunc : struct, IVectorFunc2
    {
        if (!packed)
        {
            FloatTensorMap.Run(name, new VectorFunc2<TFunc>(default), x[0], x[1], y);
            return;
        }
        int width = y.Shape[-1];
        if (width == 0) return;
        KernelParallel.For(y.Length / width, Math.Max(1, (1 << 14) / width), new PackedGatedRows<TFunc>(x[0].F32Ptr, y.F32Ptr, width));
    }

    private readonly unsafe struct PackedGatedRows<TFunc>(float* x, float* y, int width) : IRangeBody where TFunc : struct, IVectorFunc2
    {
        public void Run(long start, long end)
        {
            for (long r = start; r < end; r++)
                VectorMap.Apply(default(TFunc), new ReadOnlySpan<float>(x + 2 * r * width, width),
                    new ReadOnlySpan<float>(x + (2 * r + 1) * width, width), new Span<float>(y + r * width, width));
        }
    }

    /// <summary>GeGLU over f32 spans (y may be the gate): what <see cref="GeGlu"/> computes per element.</summary>
    public static void GeGluSpans(ReadOnlySpan<float> gate, ReadOnlySpan<float> x, Span<float> y) =>
        VectorMap.Apply(default(Activations.GeGlu), gate, x, y);

    private readonly struct UnaryFunc(UnaryKind kind) : IFloatSpanFunc
    {
        public void Apply(ReadOnlySpan<float> x, Span<float> y) => Activations.Apply(kind, x, y);
    }

    private readonly struct VectorFunc<TFunc>(TFunc f) : IFloatSpanFunc where TFunc : struct, IVectorFunc
    {
        public void Apply(ReadOnlySpan<float> x, Span<float> y) => VectorMap.Apply(f, x, y);
    }

    private readonly struct VectorFunc2<TFunc>(TFunc f) : IFloatSpanFunc2 where TFunc : struct, IVectorFunc2
    {
        public void Apply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) => VectorMap.Apply(f, a, b, y);
    }
}
