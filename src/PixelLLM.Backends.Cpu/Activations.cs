using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

/// <summary>Vectorised f32 activation functions; the sigmoid-shaped ones are written as x / (1 + e^{−z}) so no tail cancels.</summary>
internal static class Activations
{
    /// <summary>√(2/π), the tanh-GELU input scale.</summary>
    private const float GeluTanhScale = 0.797884561f;
    private const float GeluTanhCubic = 0.044715f;

    public static void Apply(UnaryKind kind, ReadOnlySpan<float> x, Span<float> y)
    {
        switch (kind)
        {
            case UnaryKind.Relu: TensorPrimitives.Max(x, 0f, y); break;
            case UnaryKind.Gelu: Erf.Gelu(x, y); break;
            case UnaryKind.GeluTanh: VectorMap.Apply(new GeluTanh(), x, y); break;
            case UnaryKind.Silu: VectorMap.Apply(new Silu(), x, y); break;
            case UnaryKind.Sigmoid: TensorPrimitives.Sigmoid(x, y); break;
            case UnaryKind.Tanh: TensorPrimitives.Tanh(x, y); break;
            case UnaryKind.Exp: TensorPrimitives.Exp(x, y); break;
            case UnaryKind.Neg: TensorPrimitives.Negate(x, y); break;
            case UnaryKind.Sqrt: TensorPrimitives.Sqrt(x, y); break;
            case UnaryKind.Abs: TensorPrimitives.Abs(x, y); break;
            default: throw new NotSupportedException($"CPU Unary: no kernel for {kind}");
        }
    }

    /// <summary>½x(1 + tanh(z)) = x·σ(2z), z = √(2/π)(x + 0.044715x³).</summary>
    internal readonly struct GeluTanh : IVectorFunc
    {
        public Vector256<float> Apply(Vector256<float> x)
        {
            var inner = Vector256.MultiplyAddEstimate(x * x * x, Vector256.Create(GeluTanhCubic), x);
            var twoZ = inner * Vector256.Create(2f * GeluTanhScale);
            return x / (Vector256<float>.One + Vector256.Exp(-twoZ));
        }
    }

    /// <summary>x·σ(x).</summary>
    internal readonly struct Silu : IVectorFunc
    {
        public Vector256<float> Apply(Vector256<float> x) => x / (Vector256<float>.One + Vector256.Exp(-x));
    }

    /// <summary>silu(gate)·x.</summary>
    internal readonly struct SwiGlu : IVectorFunc2
    {
        public Vector256<float> Apply(Vector256<float> gate, Vector256<float> x) => gate * x / (Vector256<float>.One + Vector256.Exp(-gate));
    }

    /// <summary>x·scale + shift.</summary>
    internal readonly struct Affine(float scale, float shift) : IVectorFunc
    {
        public Vector256<float> Apply(Vector256<float> x) =>
            Vector256.FusedMultiplyAdd(x, Vector256.Create(scale), Vector256.Create(shift));
    }
}
