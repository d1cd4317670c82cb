using System.Numerics;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// The two inner loops of attention, register-blocked over a group of queries so every key and value row
/// loaded from memory feeds several multiply-adds. Vector&lt;float&gt; keeps them portable (AVX2 on x64, NEON on Arm);
/// the remainders of head dims that are not a multiple of the vector width run scalar.
/// </summary>
internal static unsafe class AttentionSimd
{
    /// <summary>Queries processed together.</summary>
    public const int Group = 4;

    private static int Width => Vector<float>.Count;

    /// <summary>scores[r·keys + j] = scale · (qRows[r] · key j), for the <see cref="Group"/> query rows and all keys.</summary>
    public static void Scores(float** qRows, float* key0, long keyStride, int keys, int dim, float scale, float* scores)
    {
        float* q0 = qRows[0], q1 = qRows[1], q2 = qRows[2], q3 = qRows[3];
        int j = 0;
        // Two keys at a time: eight independent accumulator chains hide the FMA latency.
        for (; j + 1 < keys; j += 2)
        {
            float* ka = key0 + j * keyStride, kb = ka + keyStride;
            Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector<float> b0 = default, b1 = default, b2 = default, b3 = default;
            int c = 0;
            for (; c + Width <= dim; c += Width)
            {
                var va = Vector.Load(ka + c);
                var vb = Vector.Load(kb + c);
                var x0 = Vector.Load(q0 + c);
                a0 = Vector.FusedMultiplyAdd(x0, va, a0);
                b0 = Vector.FusedMultiplyAdd(x0, vb, b0);
                var x1 = Vector.Load(q1 + c);
                a1 = Vector.FusedMultiplyAdd(x1, va, a1);
                b1 = Vector.FusedMultiplyAdd(x1, vb, b1);
                var x2 = Vector.Load(q2 + c);
                a2 = Vector.FusedMultiplyAdd(x2, va, a2);
                b2 = Vector.FusedMultiplyAdd(x2, vb, b2);
                var x3 = Vector.Load(q3 + c);
                a3 = Vector.FusedMultiplyAdd(x3, va, a3);
                b3 = Vector.FusedMultiplyAdd(x3, vb, b3);
            }
            float sa0 = Vector.Sum(a0), sa1 = Vector.Sum(a1), sa2 = Vector.Sum(a2), sa3 = Vector.Sum(a3);
            float sb0 = Vector.Sum(b0), sb1 = Vector.Sum(b1), sb2 = Vector.Sum(b2), sb3 = Vector.Sum(b3);
            for (; c < dim; c++)
            {
                float ea = ka[c], eb = kb[c];
                sa0 += q0[c] * ea; sb0 += q0[c] * eb;
                sa1 += q1[c] * ea; sb1 += q1[c] * eb;
                sa2 += q2[c] * ea; sb2 += q2[c] * eb;
                sa3 += q3[c] * ea; sb3 += q3[c] * eb;
            }
            scores[j] = sa0 * scale; scores[j + 1] = sb0 * scale;
            scores[keys + j] = sa1 * scale; scores[keys + j + 1] = sb1 * scale;
            scores[2 * keys + j] = sa2 * scale; scores[2 * keys + j + 1] = sb2 * scale;
            scores[3 * keys + j] = sa3 * scale; scores[3 * keys + j + 1] = sb3 * scale;
        }
        if (j < keys)
        {
            float* ka = key0 + j * keyStride;
            for (int r = 0; r < Group; r++) scores[r * keys + j] = SimdDots.Dot(qRows[r], ka, dim) * scale;
        }
    }

    /// <summary>scores[j] = scale · (q · key j): the one-query (decode) case, blocked over four keys instead.</summary>
    public static void ScoresOne(float* q, float* key0, long keyStride, int keys, int dim, float scale, float* scores)
    {
        int j = 0;
        for (; j + 3 < keys; j += 4)
        {
            float* k0 = key0 + j * keyStride;
            SimdDots.Dot4(q, k0, k0 + keyStride, k0 + 2 * keyStride, k0 + 3 * keyStride, dim, scores + j);
            for (int r = 0; r < 4; r++) scores[j + r] *= scale;
        }
        for (; j < keys; j++) scores[j] = SimdDots.Dot(q, key0 + j * keyStride, dim) * scale;
    }

    /// <summary>y[0..dim) = invSum · Σ_j p[j] · value j: the one-query case, four vector columns per pass.</summary>
    public static void WeightedValuesOne(float* p, int keys, float invSum, float* value0, long valueStride, int dim, float* y)
    {
        int c = 0;
        for (; c + 4 * Width <= dim; c += 4 * Width)
        {
            Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
            float* vj = value0 + c;
            for (int j = 0; j < keys; j++, vj += valueStride)
            {
                var w = new Vector<float>(p[j]);
                a0 = Vector.FusedMultiplyAdd(w, Vector.Load(vj), a0);
                a1 = Vector.FusedMultiplyAdd(w, Vector.Load(vj + Width), a1);
                a2 = Vector.FusedMultiplyAdd(w, Vector.Load(vj + 2 * Width), a2);
                a3 = Vector.FusedMultiplyAdd(w, Vector.Load(vj + 3 * Width), a3);
            }
            (a0 * invSum).Store(y + c);
            (a1 * invSum).Store(y + c + Width);
            (a2 * invSum).Store(y + c + 2 * Width);
            (a3 * invSum).Store(y + c + 3 * Width);
        }
        for (; c + Width <= dim; c += Width)
        {
            Vector<float> a = default;
            float* vj = value0 + c;
            for (int j = 0; j < keys; j++, vj += valueStride) a = Vector.FusedMultiplyAdd(new Vector<float>(p[j]), Vector.Load(vj), a);
            (a * invSum).Store(y + c);
        }
        for (; c < dim; c++)
        {
            float s = 0;
            float* vj = value0 + c;
            for (int j = 0; j < keys; j++, vj += valueStride) s += p[j] * *vj;
            y[c] = s * invSum;
        }
    }

    /// <summary>
    /// yRows[r][0..dim) = invSums[r] · Σ_j p[r·keys + j] · value j, for the first <paramref name="rows"/> rows.
    /// All <see cref="Group"/> rows are computed (the caller pads short groups); only <paramref name="rows"/> are stored.
    /// </summary>
    public static void WeightedValues(float* p, int keys, float* invSums, float* value0, long valueStride, int dim, float** yRows, int rows)
    {
        float* p0 = p, p1 = p + keys, p2 = p + 2 * keys, p3 = p + 3 * keys;
        int c = 0;
        // Two vector columns at a time keep eight accumulators in registers across the whole key loop.
        for (; c + 2 * Width <= dim; c += 2 * Width)
        {
            Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector<float> b0 = default, b1 = default, b2 = default, b3 = default;
            float* vj = value0 + c;
            for (int j = 0; j < keys; j++, vj += valueStride)
            {
                var va = Vector.Load(vj);
                var vb = Vector.Load(vj + Width);
                var w0 = new Vector<float>(p0[j]);
                a0 = Vector.FusedMultiplyAdd(w0, va, a0);
                b0 = Vector.FusedMultiplyAdd(w0, vb, b0);
                var w1 = new Vector<float>(p1[j]);
                a1 = Vector.FusedMultiplyAdd(w1, va, a1);
                b1 = Vector.FusedMultiplyAdd(w1, vb, b1);
                var w2 = new Vector<float>(p2[j]);
                a2 = Vector.FusedMultiplyAdd(w2, va, a2);
                b2 = Vector.FusedMultiplyAdd(w2, vb, b2);
                var w3 = new Vector<float>(p3[j]);
                a3 = Vector.FusedMultiplyAdd(w3, va, a3);
                b3 = Vector.FusedMultiplyAdd(w3, vb, b3);
            }
            Store(yRows, invSums, rows, c, a0, a1, a2, a3);
            Store(yRows, invSums, rows, c + Width, b0, b1, b2, b3);
        }
        for (; c + Width <= dim; c += Width)
        {
            Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
            float* vj = value0 + c;
            for (int j = 0; j < keys; j++, vj += valueStride)
            {
                var va = Vector.Load(vj);
                a0 = Vector.FusedMultiplyAdd(new Vector<float>(p0[j]), va, a0);
                a1 = Vector.FusedMultiplyAdd(new Vector<float>(p1[j]), va, a1);
                a2 = Vector.FusedMultiplyAdd(new Vector<float>(p2[j]), va, a2);
                a3 = Vector.FusedMultiplyAdd(new Vector<float>(p3[j]), va, a3);
            }
            Store(yRows, invSums, rows, c, a0, a1, a2, a3);
        }
        for (; c < dim; c++)
        {
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            float* vj = value0 + c;
            for (int j = 0; j < keys; j++, vj += valueStride)
            {
                float e = *vj;
                s0 += p0[j] * e; s1 += p1[j] * e; s2 += p2[j] * e; s3 += p3[j] * e;
            }
            yRows[0][c] = s0 * invSums[0];
            if (rows > 1) yRows[1][c] = s1 * invSums[1];
            if (rows > 2) yRows[2][c] = s2 * invSums[2];
            if (rows > 3) yRows[3][c] = s3 * invSums[3];
        }
    }

    private static void Store(float** yRows, float* invSums, int rows, int column,
        Vector<float> r0, Vector<float> r1, Vector<float> r2, Vector<float> r3)
    {
        (r0 * invSums[0]).Store(yRows[0] + column);
        if (rows > 1) (r1 * invSums[1]).Store(yRows[1] + column);
        if (rows > 2) (r2 * invSums[2]).Store(yRows[2] + column);
        if (rows > 3) (r3 * invSums[3]).Store(yRows[3] + column);
    }
}
