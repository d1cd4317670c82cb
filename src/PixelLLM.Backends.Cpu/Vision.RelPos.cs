using System.Numerics;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

internal static unsafe partial class Vision
{
    [ThreadStatic] private static float[]? relPosScratch;

    /// <summary>
    /// SAM add_decomposed_rel_pos as a standalone bias: for query (i, j) and key (m, n),
    /// bias = q·relH[idx(i, m)] + q·relW[idx(j, n)], laid out (B, H, Qh·Qw, Kh·Kw) for the attention op.
    /// </summary>
    public static void RelPosBias(RelPosBiasOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        int batch = x[0].Shape[0], heads = op.NumHeads, dim = x[0].Shape[2] / heads;
        int qh = op.QueryH, qw = op.QueryW, kh = op.KeyH, kw = op.KeyW;
        float* q = x[0].F32Ptr, relH = x[1].F32Ptr, relW = x[2].F32Ptr, dst = y.F32Ptr;
        var rowIndex = new RelPosIndex(qh, kh);
        var colIndex = new RelPosIndex(qw, kw);
        // One item per (b, h, query row i): Kh + Kw dot products per query token, then Kh·Kw sums.
        ForEach(batch * heads * qh, y.Length + (long)y.Length / (kh * kw) * (kh + kw) * dim, item =>
        {
            int i = item % qh, h = item / qh % heads, b = item / qh / heads;
            var scratch = relPosScratch;
            if (scratch is null || scratch.Length < kh + kw) relPosScratch = scratch = new float[kh + kw];
            fixed (float* alongH = scratch)
            {
                float* alongW = alongH + kh;
                for (int j = 0; j < qw; j++)
                {
                    int token = i * qw + j;
                    float* query = q + (((long)b * qh * qw + token) * heads + h) * dim;
                    TableDots(query, relH, rowIndex, i, kh, dim, alongH);
                    TableDots(query, relW, colIndex, j, kw, dim, alongW);
                    float* to = dst + (((long)b * heads + h) * qh * qw + token) * kh * kw;
                    for (int m = 0; m < kh; m++) AddScalar(alongW, alongH[m], to + m * kw, kw);
                }
            }
        });
    }

    /// <summary>result[k] = query · table[index.Of(at, k)] for k in [0, count).</summary>
    private static void TableDots(float* query, float* table, RelPosIndex index, int at, int count, int dim, float* result)
    {
        int k = 0;
        for (; k + 3 < count; k += 4)
            SimdDots.Dot4(query, table + (long)index.Of(at, k) * dim, table + (long)index.Of(at, k + 1) * dim,
                table + (long)index.Of(at, k + 2) * dim, table + (long)index.Of(at, k + 3) * dim, dim, result + k);
        for (; k < count; k++) result[k] = SimdDots.Dot(query, table + (long)index.Of(at, k) * dim, dim);
    }

    private static void AddScalar(float* x, float addend, float* y, int n)
    {
        int c = 0;
        var broadcast = new Vector<float>(addend);
        for (; c + Vector<float>.Count <= n; c += Vector<float>.Count) (Vector.Load(x + c) + broadcast).Store(y + c);
        for (; c < n; c++) y[c] = x[c] + addend;
    }

    /// <summary>
    /// SAM get_rel_pos indexing for one axis: row = q·max(Kn/Qn, 1) − k·max(Qn/Kn, 1) + (Kn − 1)·max(Qn/Kn, 1),
    /// evaluated like PyTorch does it (float32 coordinates, then truncation), which for unequal sizes such as
    /// 8 vs 6 picks different rows than exact arithmetic would.
    /// </summary>
    private readonly struct RelPosIndex(int queries, int keys)
    {
        private readonly float queryScale = (float)Math.Max(keys / (double)queries, 1.0);
        private readonly float keyScale = (float)Math.Max(queries / (double)keys, 1.0);
        private readonly float offset = (float)((keys - 1) * Math.Max(queries / (double)keys, 1.0));

        public int Of(int query, int key) => (int)(query * queryScale - key * keyScale + offset);
    }
}
