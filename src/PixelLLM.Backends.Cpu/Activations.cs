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
            case UnaryKind.Tanh: VectorMap.Apply(new Tanh(), x, y); break;
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

    /// <summary>
    /// tanh with small-argument accuracy (TensorPrimitives.Tanh returns −6e-8 at 0). |x| &lt; 0.625: x + x³·Q(x²), Q a
    /// degree-5 Chebyshev fit (mpmath, fit error 1.6e-9) of (tanh√u − √u)/u^{3/2}; beyond: 1 − 2/(e^{2|x|} + 1), signed.
    /// </summary>
    internal readonly struct Tanh : IVectorFunc
    {
        public Vector256<float> Apply(Vector256<float> x)
        {
            var u = x * x;
            var q = Vector256.Create(2.292744815e-03f);
            q = Vector256.MultiplyAddEstimate(q, u, Vector256.Create(-8.343945257e-03f));
            q = Vector256.MultiplyAddEstimate(q, u, Vector256.Create(2.176891826e-02f));
            q = Vector256.MultiplyAddEstimate(q, u, Vector256.Create(-5.395925790e-02f));
            q = Vector256.MultiplyAddEstimate(q, u, Vector256.Create(1.333330423e-01f));
            q = Vector256.MultiplyAddEstimate(q, u, Vector256.Create(-3.333333433e-01f));
            var small = Vector256.FusedMultiplyAdd(x * u, q, x);
            var a = Vector256.Abs(x);
            var large = Vector256<float>.One - Vector256.Create(2f) / (Vector256.Exp(a + a) + Vector256<float>.One);
            large |= x & Vector256.Create(-0f);
            return Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(0.625f)), small, large);
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

    /// <summary>gelu_tanh(gate)·x: the same GELU as <see cref="UnaryKind.GeluTanh"/>, so the fusion changes no bit.</summary>
    internal readonly struct GeGlu : IVectorFunc2
    {
        public Vector256<float> Apply(Vector256<float> gate, Vector256<float> x) => new GeluTanh().Apply(gate) * x;
    }

    /// <summary>x·scale + shift.</summary>
    internal readonly struct Affine(float scale, float shift) : IVectorFunc
    {
        public Vector256<float> Apply(Vector256<float> x) =>
            Vector256.FusedMultiplyAdd(x, Vector256.Create(scale), Vector256.Create(shift));
    }
}
