using System.Numerics;
using System.Numerics.Tensors;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// One attention call: operand pointers, sizes and broadcast strides, and the per-tile work.
/// A tile is (batch b, head h, up to <see cref="TileRows"/> consecutive queries); tiles never share output.
/// </summary>
internal readonly unsafe struct AttentionJob
{
    /// <summary>
    /// Queries per tile: enough to amortise the tile's start (and, on the GEMM route, the packing of its head's keys and
    /// values), few enough to give two cores many tiles. A multiple of the micro-kernel's <see cref="GemmKernel.MR"/>.
    /// </summary>
    private const int TileRows = 48;

    /// <summary>
    /// From this many queries in a tile and keys in a head, scores and weighted values run as two register-blocked GEMMs
    /// (<see cref="GemmPaths.Packed"/>) instead of the grouped dot products: the vision encoders' 196–730-key heads
    /// spent most of their time in the dot products' horizontal sums.
    /// </summary>
    private const int GemmMinRows = GemmKernel.MR, GemmMinKeys = 16;

    private readonly float* q, k, v, y, bias;
    // Elements between consecutive tokens of q, k and v: H·D, or 3·H·D in a packed q | k | v row.
    private readonly long qRow, kRow, vRow;
    private readonly byte* mask;
    private readonly int batch, heads, queries, keys, headDim, valueDim, gridRows, gridColumns;
    private readonly float scale, maskBias;
    private readonly bool causal;
    // Element strides of bias (over b, h, query, key: AttentionOp.BiasLayout) and mask (over b, query, key); 0 on broadcast dims.
    private readonly long biasB, biasH, biasQ, biasK, maskB, maskQ, maskK;

    [ThreadStatic] private static float[]? scoreScratch;

    public AttentionJob(AttentionOp op, ReadOnlySpan<CpuTensor> x, CpuTensor output)
    {
        var descs = new TensorDesc[x.Length];
        for (int i = 0; i < x.Length; i++) descs[i] = x[i].Desc;
        var (oq, ok, ov) = op.Operands(descs);
        q = x[oq.Input].F32Ptr + oq.Offset;
        k = x[ok.Input].F32Ptr + ok.Offset;
        v = x[ov.Input].F32Ptr + ov.Offset;
        (qRow, kRow, vRow) = (oq.RowStride, ok.RowStride, ov.RowStride);
        y = output.F32Ptr;
        (batch, heads, queries, keys) = (oq.Shape[0], op.NumHeads, oq.Shape[1], ok.Shape[1]);
        (headDim, valueDim) = (oq.Shape[2] / heads, ov.Shape[2] / heads);
        (scale, maskBias, causal) = (op.Scale, op.MaskBias, op.Causal);
        int next = op.QkvInputs;
        if (op.HasBias)
        {
            var b = x[next++];
            var layout = op.BiasLayout(b.Shape, queries);
            bias = b.F32Ptr + layout.Offset;
            (biasB, biasH, biasQ, biasK) = (layout.Batch, layout.Head, layout.Query, layout.Key);
            (gridRows, gridColumns) = (op.BiasKeyGridRows, op.BiasKeyGridColumns(keys));
        }
        if (op.HasMask)
        {
            var m = x[next];
            mask = m.Pointer;
            if (m.Desc.DType != DType.U8) throw new BackendException($"Attention: mask must be U8, got {m.Desc}");
            (maskB, _, maskQ, maskK) = AttentionOp.BroadcastStrides(m.Shape);
        }
    }

    public int TileCount => batch * heads * TilesPerHead;

    public long MultiplyAdds => (long)batch * heads * queries * keys * (headDim + valueDim);

    private int TilesPerHead => (queries + TileRows - 1) / TileRows;

    public void RunTile(int tile)
    {
        int bh = tile / TilesPerHead, b = bh / heads, h = bh % heads;
        int first = tile % TilesPerHead * TileRows, end = Math.Min(queries, first + TileRows);
        int group = AttentionSimd.Group;
        bool gemm = end - first >= GemmMinRows && keys >= GemmMinKeys;
        int scoreRows = gemm ? TileRows : group;
        var scratch = scoreScratch;
        if (scratch is null || scratch.Length < scoreRows * keys) scoreScratch = scratch = new float[scoreRows * keys];
        if (gemm)
        {
            fixed (float* scores = scratch) RunTileAsGemms(b, h, first, end - first, scores);
            return;
        }
        float* invSums = stackalloc float[group];
        float** qRows = stackalloc float*[group];
        float** yRows = stackalloc float*[group];
        fixed (float* scores = scratch)
        {
            for (int i = first; i < end; i += group)
            {
                int n = Math.Min(group, end - i);
                // Short groups repeat their last row, so the SIMD kernels always see full groups; only n rows are stored.
                for (int r = 0; r < group; r++)
                {
                    int row = i + Math.Min(r, n - 1);
                    qRows[r] = q + (long)(b * queries + row) * qRow + h * headDim;
                    yRows[r] = y + ((long)(b * queries + row) * heads + h) * valueDim;
                }
                float* key0 = k + (long)b * keys * kRow + h * headDim;
                float* value0 = v + (long)b * keys * vRow + h * valueDim;
                long keyStride = kRow, valueStride = vRow;
                if (n == 1)
                {
                    int used = KeysBeforeMaskedTail(b, i);
                    AttentionSimd.ScoresOne(qRows[0], key0, keyStride, used, headDim, scale, scores);
                    AttentionSimd.WeightedValuesOne(scores, used, ExpRow(b, h, i, scores, used), value0, valueStride, valueDim, yRows[0]);
                    continue;
                }
                AttentionSimd.Scores(qRows, key0, keyStride, keys, headDim, scale, scores);
                for (int r = 0; r < n; r++) invSums[r] = ExpRow(b, h, i + r, scores + r * keys, keys);
                AttentionSimd.WeightedValues(scores, keys, invSums, value0, valueStride, valueDim, yRows, n);
            }
        }
    }

    /// <summary>
    /// Queries [first, first + rows) of head h as S = scale · Q·Kᵀ, each row of S exponentiated in place by
    /// <see cref="ExpRow"/>, then Y = S·V with each row scaled by its 1/Σ — the grouped path's arithmetic in GEMM order.
    /// </summary>
    private void RunTileAsGemms(int b, int h, int first, int rows, float* scores)
    {
        var isa = GemmKernel.Best;
        float* q0 = q + (long)(b * queries + first) * qRow + h * headDim;
        float* key0 = k + (long)b * keys * kRow + h * headDim;
        float* value0 = v + (long)b * keys * vRow + h * valueDim;
        // Key j's element d is at key0 + j·kRow + d: as the (headDim × keys) right operand, rows have stride 1.
        GemmPaths.Packed(new GemmProblem(rows, keys, headDim, MatrixView.RowMajor(q0, (nint)qRow),
            new MatrixView(key0, 1, (nint)kRow), scores, keys, scale), isa);
        float* invSums = stackalloc float[rows];
        for (int r = 0; r < rows; r++) invSums[r] = ExpRow(b, h, first + r, scores + (long)r * keys, keys);
        long yRow = (long)heads * valueDim;
        float* y0 = y + (long)(b * queries + first) * yRow + h * valueDim;
        GemmPaths.Packed(new GemmProblem(rows, valueDim, keys, MatrixView.RowMajor(scores, keys),
            MatrixView.RowMajor(value0, (nint)vRow), y0, (nint)yRow), isa);
        for (int r = 0; r < rows; r++)
        {
            var row = new Span<float>(y0 + r * yRow, valueDim);
            TensorPrimitives.Multiply(row, invSums[r], row);
        }
    }

    /// <summary>
    /// Keys of query i worth reading: all of them, less a tail the mask hides (a decode step's cache slots past its
    /// position, padded context), when some key before it is visible. Hidden keys weigh exp(−10¹⁰ − max) = 0 exactly, so
    /// leaving them out changes no weight; a row that hides every key keeps them all (its uniform average is the
    /// reference's). Only the one-query path trims: there it is most of the work when the cache is long and the text short.
    /// </summary>
    private int KeysBeforeMaskedTail(int b, int i)
    {
        int visible = CausallyVisible(i);
        // A mild mask bias leaves the hidden keys a weight; a key-grid bias (SAM's windows) is written whole.
        if (mask == null || maskBias > -1e9f || gridRows > 0) return keys;
        byte* maskRow = mask + b * maskB + i * maskQ;
        while (visible > 0 && maskRow[(visible - 1) * maskK] == 0) visible--;
        return visible == 0 ? keys : visible;
    }

    /// <summary>
    /// Adds bias and the mask/causal bias to one score row, exponentiates it in place (max-subtracted) and returns
    /// 1/Σ. A key hidden by the mask, by causality or by both gets <see cref="AttentionOp.MaskBias"/> once, as the
    /// reference combines its masks before turning them into a bias. Only the row's first <paramref name="used"/> keys.
    /// </summary>
    private float ExpRow(int b, int h, int i, float* scores, int used)
    {
        var row = new Span<float>(scores, used);
        if (bias != null)
        {
            float* biasRow = bias + b * biasB + h * biasH + i * biasQ;
            if (gridRows > 0) AddDecomposedBias(row, biasRow);
            else if (biasK == 0) TensorPrimitives.Add(row, *biasRow, row);
            else TensorPrimitives.Add(row, new ReadOnlySpan<float>(biasRow, used), row);
        }
        int visible = Math.Min(used, CausallyVisible(i));
        if (mask != null)
        {
            byte* maskRow = mask + b * maskB + i * maskQ;
            for (int j = 0; j < visible; j++)
                if (maskRow[j * maskK] == 0) row[j] += maskBias;
        }
        for (int j = visible; j < used; j++) row[j] += maskBias;
        // An all −∞ row gives max −∞ and (−∞) − (−∞) = NaN, as in the reference.
        float max = TensorPrimitives.Max(row);
        TensorPrimitives.Subtract(row, max, row);
        TensorPrimitives.Exp(row, row);
        return 1f / TensorPrimitives.Sum(row);
    }

    /// <summary>Keys query i may see before the mask: all, or with <see cref="causal"/> those up to its offset position.</summary>
    private int CausallyVisible(int i) => causal ? Math.Clamp(i + keys - queries + 1, 0, keys) : keys;

    /// <summary>
    /// row[(m, n)] += t[m] + t[Kh + n] for the Kh × Kw key grid: each bias term is summed first, then added, so the
    /// scores get the same bits as from the materialised (Lq, Lk) bias. Inline vectors, not library calls: SAM's
    /// windows have 14-wide grid rows, where a call per row cost more than its adds.
    /// </summary>
    private void AddDecomposedBias(Span<float> row, float* terms)
    {
        float* along = terms + gridRows;
        int width = Vector<float>.Count;
        fixed (float* scores = row)
        {
            for (int m = 0; m < gridRows; m++)
            {
                float* part = scores + m * gridColumns;
                var rowTerm = new Vector<float>(terms[m]);
                int n = 0;
                for (; n + width <= gridColumns; n += width)
                    (Vector.Load(part + n) + (rowTerm + Vector.Load(along + n))).Store(part + n);
                for (; n < gridColumns; n++) part[n] += terms[m] + along[n];
            }
        }
    }
}
