using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

internal static unsafe partial class Vision
{
    /// <summary>
    /// SAM add_decomposed_rel_pos's two products, as the terms the attention op sums per key: for query (i, j),
    /// t[m] = q·relH[idx(i, m)] and t[Kh + n] = q·relW[idx(j, n)], laid out (B, H, Qh·Qw, Kh + Kw).
    /// </summary>
    public static void RelPosBias(RelPosBiasOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        int batch = x[0].Shape[0], heads = op.NumHeads, dim = op.QueryWidth(x[0].Desc) / heads, row = x[0].Shape[2];
        int qh = op.QueryH, qw = op.QueryW, kh = op.KeyH, kw = op.KeyW;
        float* q = x[0].F32Ptr, relH = x[1].F32Ptr, relW = x[2].F32Ptr, dst = y.F32Ptr;
        var rowIndex = new RelPosIndex(qh, kh);
        var colIndex = new RelPosIndex(qw, kw);
        // One item per (b, h, query row i): Kh + Kw dot products per query token.
        ForEach(batch * heads * qh, (long)y.Length * dim, item =>
        {
            int i = item % qh, h = item / qh % heads, b = item / qh / heads;
            for (int j = 0; j < qw; j++)
            {
                int token = i * qw + j;
                float* query = q + ((long)b * qh * qw + token) * row + h * dim;
                float* to = dst + (((long)b * heads + h) * qh * qw + token) * (kh + kw);
                TableDots(query, relH, rowIndex, i, kh, dim, to);
                TableDots(query, relW, colIndex, j, kw, dim, to + kh);
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
