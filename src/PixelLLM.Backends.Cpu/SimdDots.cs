using System.Numerics;

namespace PixelLLM.Backends.Cpu;

/// <summary>Short dot products (head-sized vectors) without the per-call checks of span-based library routines.</summary>
internal static unsafe class SimdDots
{
    private static int Width => Vector<float>.Count;

    /// <summary>results[r] = x · row r for four rows anywhere in memory, sharing each load of x.</summary>
    public static void Dot4(float* x, float* r0, float* r1, float* r2, float* r3, int dim, float* results)
    {
        Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int c = 0;
        for (; c + Width <= dim; c += Width)
        {
            var v = Vector.Load(x + c);
            a0 = Vector.FusedMultiplyAdd(v, Vector.Load(r0 + c), a0);
            a1 = Vector.FusedMultiplyAdd(v, Vector.Load(r1 + c), a1);
            a2 = Vector.FusedMultiplyAdd(v, Vector.Load(r2 + c), a2);
            a3 = Vector.FusedMultiplyAdd(v, Vector.Load(r3 + c), a3);
        }
        float s0 = Vector.Sum(a0), s1 = Vector.Sum(a1), s2 = Vector.Sum(a2), s3 = Vector.Sum(a3);
        for (; c < dim; c++) { s0 += x[c] * r0[c]; s1 += x[c] * r1[c]; s2 += x[c] * r2[c]; s3 += x[c] * r3[c]; }
        results[0] = s0; results[1] = s1; results[2] = s2; results[3] = s3;
    }

    /// <summary>a · b over n elements.</summary>
    public static float Dot(float* a, float* b, int n)
    {
        Vector<float> acc = default;
        int c = 0;
        for (; c + Width <= n; c += Width) acc = Vector.FusedMultiplyAdd(Vector.Load(a + c), Vector.Load(b + c), acc);
        float s = Vector.Sum(acc);
        for (; c < n; c++) s += a[c] * b[c];
        return s;
    }
}
