using System.Numerics.Tensors;
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
            var alongH = scratch.AsSpan(0, kh);
            var alongW = scratch.AsSpan(kh, kw);
            for (int j = 0; j < qw; j++)
            {
                int token = i * qw + j;
                var query = new ReadOnlySpan<float>(q + (((long)b * qh * qw + token) * heads + h) * dim, dim);
                for (int m = 0; m < kh; m++)
                    alongH[m] = TensorPrimitives.Dot(query, new ReadOnlySpan<float>(relH + (long)rowIndex.Of(i, m) * dim, dim));
                for (int n = 0; n < kw; n++)
                    alongW[n] = TensorPrimitives.Dot(query, new ReadOnlySpan<float>(relW + (long)colIndex.Of(j, n) * dim, dim));
                float* to = dst + (((long)b * heads + h) * qh * qw + token) * kh * kw;
                for (int m = 0; m < kh; m++) TensorPrimitives.Add(alongW, alongH[m], new Span<float>(to + m * kw, kw));
            }
        });
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
