using System.Runtime.Intrinsics;

namespace PixelLLM.Backends.Cpu;

/// <summary>An elementwise float function evaluated eight lanes at a time.</summary>
internal interface IVectorFunc
{
    Vector256<float> Apply(Vector256<float> x);
}

/// <summary>An elementwise function of two equally shaped float operands, eight lanes at a time.</summary>
internal interface IVectorFunc2
{
    Vector256<float> Apply(Vector256<float> a, Vector256<float> b);
}

/// <summary>Applies vector functions over spans; the ragged tail goes through one padded vector so it uses the same math.</summary>
internal static class VectorMap
{
    public static void Apply<TFunc>(TFunc f, ReadOnlySpan<float> x, Span<float> y) where TFunc : struct, IVectorFunc
    {
        if (y.Length < x.Length) throw new ArgumentException("VectorMap: destination shorter than source");
        const int Lanes = 8;
        int n = x.Length, i = 0;
        // Two independent vectors per step give the core a second dependency chain to overlap (polynomials are long chains).
        for (; i <= n - 2 * Lanes; i += 2 * Lanes)
        {
            var r0 = f.Apply(Vector256.Create(x.Slice(i, Lanes)));
            var r1 = f.Apply(Vector256.Create(x.Slice(i + Lanes, Lanes)));
            r0.CopyTo(y.Slice(i));
            r1.CopyTo(y.Slice(i + Lanes));
        }
        for (; i <= n - Lanes; i += Lanes)
            f.Apply(Vector256.Create(x.Slice(i, Lanes))).CopyTo(y.Slice(i));
        if (i == n) return;
        Span<float> pad = stackalloc float[Vector256<float>.Count];
        pad.Clear();
        x[i..].CopyTo(pad);
        f.Apply(Vector256.Create<float>(pad)).CopyTo(pad);
        pad[..(n - i)].CopyTo(y[i..]);
    }

    public static void Apply<TFunc>(TFunc f, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) where TFunc : struct, IVectorFunc2
    {
        if (b.Length != a.Length || y.Length < a.Length) throw new ArgumentException("VectorMap: operand lengths differ");
        int n = a.Length, i = 0;
        for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            f.Apply(Vector256.Create(a.Slice(i, Vector256<float>.Count)), Vector256.Create(b.Slice(i, Vector256<float>.Count))).CopyTo(y.Slice(i));
        if (i == n) return;
        Span<float> padA = stackalloc float[Vector256<float>.Count];
        Span<float> padB = stackalloc float[Vector256<float>.Count];
        padA.Clear();
        padB.Clear();
        a[i..].CopyTo(padA);
        b[i..].CopyTo(padB);
        f.Apply(Vector256.Create<float>(padA), Vector256.Create<float>(padB)).CopyTo(padA);
        padA[..(n - i)].CopyTo(y[i..]);
    }
}
