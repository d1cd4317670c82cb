using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Ops;

/// <summary>
/// Multi-head scaled dot-product attention on token-major layouts, so projections feed it without permutes:
/// q (B, Lq, H·D), k (B, Lk, H·D), v (B, Lk, H·Dv) → (B, Lq, H·Dv).
/// scores = Scale·q·kᵀ [+ bias] [+ MaskBias where mask == 0 or causal hides the key (once, if both do)];
/// bias is F32 broadcastable to (B, H, Lq, Lk); mask is U8 broadcastable to (B, 1, Lq, Lk), nonzero = attend.
/// Causal: query i sees keys j ≤ i + (Lk − Lq), so cached decoding works. The mask is added, not substituted,
/// so a fully masked row reproduces the reference's behaviour (uniform for a finite bias, NaN for −∞).
/// With <see cref="BiasKeyGridRows"/> = Kh &gt; 0 the keys form a Kh × Kw grid (Lk = Kh·Kw) and the bias is SAM's
/// decomposed relative position (<see cref="RelPosBiasOp"/>'s terms t, broadcastable to (B, H, Lq, Kh + Kw)):
/// bias[q, (m, n)] = t[q, m] + t[q, Kh + n], summed before it is added to the score. It is never materialised.
/// With <see cref="BiasByDistance"/> the bias depends on j − i only (T5's relative positions) and is given once per
/// distance, broadcastable to (B, H, Lq + Lk − 1): bias[i, j] = t[j − i + Lq − 1]. The kernels read query i's keys from
/// t's elements Lq − 1 − i onwards (<see cref="BiasLayout"/>), so the (Lq, Lk) bias is never materialised either.
/// With <see cref="PackedQkv"/> one input (B, L, 3·H·D) holds q | k | v side by side in each row (a fused projection's
/// output, SAM's qkv) and the three are read in place, with no split copies; bias and mask follow it.
/// </summary>
public sealed record AttentionOp(int NumHeads, float Scale, bool HasBias = false, bool HasMask = false, bool Causal = false,
    float MaskBias = float.NegativeInfinity, int BiasKeyGridRows = 0, bool PackedQkv = false, bool BiasByDistance = false) : Op
{
    /// <summary>Kw of a decomposed bias (<see cref="BiasKeyGridRows"/> &gt; 0) for <paramref name="keys"/> keys.</summary>
    public int BiasKeyGridColumns(int keys) => BiasKeyGridRows > 0 ? keys / BiasKeyGridRows : 0;

    /// <summary>How many inputs hold q, k and v (1 packed, else 3); the bias and the mask come after them.</summary>
    public int QkvInputs => PackedQkv ? 1 : 3;

    /// <summary>
    /// Where q, k and v are: for each, the input, the element its rows start at, and the elements between rows; with the
    /// shapes (B, L, width) they have as operands.
    /// </summary>
    public (AttentionOperand Q, AttentionOperand K, AttentionOperand V) Operands(IReadOnlyList<TensorDesc> inputs)
    {
        if (!PackedQkv)
            return (Operand(inputs[0], 0, 0, 1), Operand(inputs[1], 1, 0, 1), Operand(inputs[2], 2, 0, 1));
        int width = inputs[0].Shape[2] / 3;
        return (Operand(inputs[0], 0, 0, 3), Operand(inputs[0], 0, width, 3), Operand(inputs[0], 0, 2 * width, 3));
    }

    private static AttentionOperand Operand(TensorDesc t, int input, int offset, int parts) =>
        new(input, offset, t.Shape[2], new Shape(t.Shape[0], t.Shape[1], t.Shape[2] / parts));

    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, QkvInputs + (HasBias ? 1 : 0) + (HasMask ? 1 : 0));
        string[] names = PackedQkv ? ["packed qkv"] : ["q", "k", "v"];
        for (int i = 0; i < names.Length; i++) ExpectRank(inputs[i], names[i], 3, 3);
        if (PackedQkv && inputs[0].Shape[2] % 3 != 0) throw Fail($"packed qkv {inputs[0].Shape} must be 3 equal widths");
        var (oq, ok, ov) = Operands(inputs);
        TensorDesc q = new(inputs[oq.Input].DType, oq.Shape), k = new(inputs[ok.Input].DType, ok.Shape), v = new(inputs[ov.Input].DType, ov.Shape);
        if (NumHeads < 1 || q.Shape[2] % NumHeads != 0 || v.Shape[2] % NumHeads != 0) throw Fail($"width not divisible by {NumHeads} heads");
        if (q.Shape[0] != k.Shape[0] || k.Shape[0] != v.Shape[0]) throw Fail($"batch differs: q {q.Shape}, k {k.Shape}, v {v.Shape}");
        if (q.Shape[2] != k.Shape[2]) throw Fail($"q {q.Shape} and k {k.Shape} widths differ");
        if (k.Shape[1] != v.Shape[1]) throw Fail($"k {k.Shape} and v {v.Shape} lengths differ");
        var full = new Shape(q.Shape[0], NumHeads, q.Shape[1], k.Shape[1]);
        int next = QkvInputs;
        if (BiasByDistance && BiasKeyGridRows != 0) throw Fail("a bias is either by distance or over a key grid, not both");
        if (BiasKeyGridRows != 0)
        {
            int kh = BiasKeyGridRows, kw = BiasKeyGridColumns(k.Shape[1]);
            if (!HasBias) throw Fail($"a key grid of {kh} rows is given for the bias, but there is no bias");
            if (kh < 0 || k.Shape[1] % kh != 0 || kw == 0) throw Fail($"{k.Shape[1]} keys do not form a grid of {kh} rows");
            var terms = inputs[next++];
            CheckBroadcast(terms, new Shape(full[0], full[1], full[2], kh + kw), $"decomposed bias ({kh}×{kw} keys)", DType.F32);
            if (terms.Shape[3] != kh + kw) throw Fail($"decomposed bias {terms.Shape} must end in {kh} + {kw} terms per query");
        }
        else if (BiasByDistance)
        {
            if (!HasBias) throw Fail("a bias by distance is asked for, but there is no bias");
            var t = inputs[next++];
            int span = full[2] + full[3] - 1;
            ExpectDType(t, "bias by distance", DType.F32);
            if (t.Shape.Rank != 3 || t.Shape[2] != span || Broadcast.TryShape(t.Shape, new Shape(full[0], full[1], span)) != new Shape(full[0], full[1], span))
                throw Fail($"bias by distance {t.Shape} must be rank 3 and broadcast to ({full[0]}, {full[1]}, {span}): one value per distance j − i of {full[2]} queries and {full[3]} keys");
        }
        else if (HasBias) CheckBroadcast(inputs[next++], full, "bias", DType.F32);
        if (HasMask) CheckBroadcast(inputs[next], new Shape(q.Shape[0], 1, q.Shape[1], k.Shape[1]), "mask", DType.U8);
        return new TensorDesc(q.DType, new Shape(q.Shape[0], q.Shape[1], v.Shape[2]));
    }

    /// <summary>
    /// Where bias(b, h, i, j) is in a bias input of shape <paramref name="bias"/> for <paramref name="queries"/> queries:
    /// element Offset + b·Batch + h·Head + i·Query + j·Key, 0 on broadcast dims. By distance (<see cref="BiasByDistance"/>)
    /// query i's row starts Lq − 1 − i elements in, one element earlier per query. A decomposed bias's rows are its terms.
    /// Both backends read the bias through this layout.
    /// </summary>
    public AttentionBiasLayout BiasLayout(Shape bias, int queries)
    {
        if (BiasByDistance)
            return new(queries - 1, bias[0] == 1 ? 0 : (long)bias[1] * bias[2], bias[1] == 1 ? 0 : bias[2], -1, 1);
        var (b, h, q, k) = BroadcastStrides(bias);
        return new(0, b, h, q, k);
    }

    /// <summary>Element strides of a rank-4 row-major operand (a bias or a mask) over (b, h, query, key), 0 on its size-1 dims.</summary>
    public static (long B, long H, long Q, long K) BroadcastStrides(Shape s)
    {
        long s2 = s[3], s1 = s2 * s[2], s0 = s1 * s[1];
        return (s[0] == 1 ? 0 : s0, s[1] == 1 ? 0 : s1, s[2] == 1 ? 0 : s2, s[3] == 1 ? 0 : 1);
    }

    private void CheckBroadcast(TensorDesc t, Shape target, string what, DType dtype)
    {
        ExpectDType(t, what, dtype);
        if (t.Shape.Rank != 4 || Broadcast.TryShape(t.Shape, target) != target)
            throw Fail($"{what} {t.Shape} must be rank 4 and broadcast to {target}");
    }
}

/// <summary>Element offset and strides over (b, h, query, key) of an <see cref="AttentionOp"/>'s bias (see <see cref="AttentionOp.BiasLayout"/>).</summary>
public readonly record struct AttentionBiasLayout(long Offset, long Batch, long Head, long Query, long Key);

/// <summary>
/// One of q, k, v as <see cref="AttentionOp"/> reads it: input <paramref name="Input"/>, row r at element
/// Offset + r·RowStride, and its (B, L, width) <paramref name="Shape"/>.
/// </summary>
public readonly record struct AttentionOperand(int Input, int Offset, int RowStride, Shape Shape);

/// <summary>
/// EVA02 2-D rotary embedding, interleaved pairs (timm rotate_half=False): for each head and pair (2i, 2i+1),
/// out = x·cos + (−x₂ᵢ₊₁, x₂ᵢ)·sin. x (B, L, H·D); sin, cos (L − StartToken, D); tokens before StartToken (cls) pass through.
/// <see cref="RotatedWidth"/> &gt; 0 rotates only the first RotatedWidth columns of each row (NumHeads heads of
/// RotatedWidth / NumHeads) and copies the rest: q and k of a packed q | k | v row, with v passed through.
/// </summary>
public sealed record RopeOp(int NumHeads, int StartToken = 0, int RotatedWidth = 0) : Op
{
    /// <summary>The columns of each row that are rotated: <see cref="RotatedWidth"/>, or the whole row.</summary>
    public int Rotated(int rowLength) => RotatedWidth > 0 ? RotatedWidth : rowLength;

    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 3);
        var x = inputs[0];
        ExpectRank(x, "x", 3, 3);
        if (RotatedWidth < 0 || RotatedWidth > x.Shape[2]) throw Fail($"rotated width {RotatedWidth} must be in [1, {x.Shape[2]}] (0: the whole row)");
        int rotated = Rotated(x.Shape[2]);
        if (rotated % NumHeads != 0) throw Fail($"width {rotated} not divisible by {NumHeads} heads");
        int d = rotated / NumHeads;
        var table = new Shape(x.Shape[1] - StartToken, d);
        if (d % 2 != 0) throw Fail($"head dim {d} must be even");
        if (inputs[1].Shape != table || inputs[2].Shape != table) throw Fail($"sin {inputs[1].Shape} / cos {inputs[2].Shape} must be {table}");
        return x;
    }
}

/// <summary>
/// SAM window partition: x (B, H, W, C), padded at bottom/right to multiples of Window,
/// → (B·nWh·nWw, Window, Window, C), windows in row-major order. The padding is zeros, or with <see cref="HasPadRow"/>
/// a second input pad (C) in every padded pixel: what a per-pixel affine map (a Linear with bias) gives for a zero
/// pixel, so that map can run on the H·W pixels before the partition instead of on the padded windows after it.
/// </summary>
public sealed record WindowPartitionOp(int Window, bool HasPadRow = false) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, HasPadRow ? 2 : 1);
        var s = inputs[0].Shape;
        ExpectRank(inputs[0], "x", 4, 4);
        if (Window < 1) throw Fail($"window {Window} must be positive");
        if (HasPadRow && inputs[1].Shape != new Shape(s[3]))
            throw Fail($"pad row {inputs[1].Shape} must be ({s[3]}), one value per channel");
        if (HasPadRow) ExpectDType(inputs[1], "pad row", inputs[0].DType);
        int nh = (s[1] + Window - 1) / Window, nw = (s[2] + Window - 1) / Window;
        return inputs[0] with { Shape = new Shape(s[0] * nh * nw, Window, Window, s[3]) };
    }
}

/// <summary>Inverse of <see cref="WindowPartitionOp"/>: (B·nW, Window, Window, C) → (B, H, W, C), dropping the padding.</summary>
public sealed record WindowUnpartitionOp(int Window, int Height, int Width) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 1);
        var s = inputs[0].Shape;
        ExpectRank(inputs[0], "x", 4, 4);
        int n = ((Height + Window - 1) / Window) * ((Width + Window - 1) / Window);
        if (s[1] != Window || s[2] != Window || s[0] % n != 0) throw Fail($"{s} is not a set of {n} windows of {Window}");
        return inputs[0] with { Shape = new Shape(s[0] / n, Height, Width, s[3]) };
    }
}

/// <summary>
/// SAM decomposed relative-position bias, as its terms: q (B, Qh·Qw, H·D) (unscaled; with PackedQkv the first third of
/// a packed q | k | v row), tables relH (2·max(Qh,Kh)−1, D)
/// and relW → t (B, H, Qh·Qw, Kh + Kw) with t[q=(i,j), m] = q·relH[idx(i,m)] and t[q, Kh + n] = q·relW[idx(j,n)].
/// <see cref="AttentionOp"/> with <see cref="AttentionOp.BiasKeyGridRows"/> = Kh adds bias[q, (m,n)] = t[q, m] + t[q, Kh + n]
/// as it scores, so the (Qh·Qw) × (Kh·Kw) bias is never written out.
/// </summary>
public sealed record RelPosBiasOp(int NumHeads, int QueryH, int QueryW, int KeyH, int KeyW, bool PackedQkv = false) : Op
{
    /// <summary>The query width H·D of input 0 (B, Qh·Qw, row): the whole row, or its first third when <see cref="PackedQkv"/>.</summary>
    public int QueryWidth(TensorDesc q) => PackedQkv ? q.Shape[2] / 3 : q.Shape[2];

    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 3);
        var q = inputs[0];
        ExpectRank(q, "q", 3, 3);
        if (q.Shape[1] != QueryH * QueryW) throw Fail($"q {q.Shape} does not hold {QueryH}×{QueryW} tokens");
        if (PackedQkv && q.Shape[2] % 3 != 0) throw Fail($"packed qkv {q.Shape} must be 3 equal widths");
        if (QueryWidth(q) % NumHeads != 0) throw Fail($"query width {QueryWidth(q)} not divisible by {NumHeads} heads");
        int d = QueryWidth(q) / NumHeads;
        if (inputs[1].Shape != new Shape(2 * Math.Max(QueryH, KeyH) - 1, d)) throw Fail($"rel_pos_h {inputs[1].Shape} must be ({2 * Math.Max(QueryH, KeyH) - 1}, {d})");
        if (inputs[2].Shape != new Shape(2 * Math.Max(QueryW, KeyW) - 1, d)) throw Fail($"rel_pos_w {inputs[2].Shape} must be ({2 * Math.Max(QueryW, KeyW) - 1}, {d})");
        return new TensorDesc(q.DType, new Shape(q.Shape[0], NumHeads, QueryH * QueryW, KeyH + KeyW));
    }
}

public static partial class GraphOps
{
    /// <summary>Attention (see <see cref="AttentionOp"/>); <paramref name="biasKeyGridRows"/> &gt; 0 marks a decomposed relative-position bias.</summary>
    public static Tensor Attention(this Graph g, Tensor q, Tensor k, Tensor v, int numHeads, float scale,
        Tensor? bias = null, Tensor? mask = null, bool causal = false, float maskBias = float.NegativeInfinity, int biasKeyGridRows = 0,
        bool biasByDistance = false) =>
        g.Apply(new AttentionOp(numHeads, scale, bias is not null, mask is not null, causal, maskBias, biasKeyGridRows, BiasByDistance: biasByDistance),
            [q, k, v, .. Optional(bias, mask)]);

    /// <summary>Rotary embedding (see <see cref="RopeOp"/>); <paramref name="rotatedWidth"/> &gt; 0 rotates only that many leading columns.</summary>
    public static Tensor Rope(this Graph g, Tensor x, Tensor sin, Tensor cos, int numHeads, int startToken = 0, int rotatedWidth = 0) =>
        g.Apply(new RopeOp(numHeads, startToken, rotatedWidth), x, sin, cos);

    /// <summary>Window partition (see <see cref="WindowPartitionOp"/>); padded pixels take <paramref name="padRow"/>, or zeros.</summary>
    public static Tensor WindowPartition(this Graph g, Tensor x, int window, Tensor? padRow = null) =>
        padRow is null ? g.Apply(new WindowPartitionOp(window), x) : g.Apply(new WindowPartitionOp(window, HasPadRow: true), x, padRow);

    public static Tensor WindowUnpartition(this Graph g, Tensor x, int window, int height, int width) =>
        g.Apply(new WindowUnpartitionOp(window, height, width), x);

    public static Tensor RelPosBias(this Graph g, Tensor q, Tensor relH, Tensor relW, int numHeads, int qh, int qw, int kh, int kw,
        bool packedQkv = false) =>
        g.Apply(new RelPosBiasOp(numHeads, qh, qw, kh, kw, packedQkv), q, relH, relW);

    /// <summary>Attention reading q | k | v from one packed (B, L, 3·H·D) tensor (see <see cref="AttentionOp.PackedQkv"/>).</summary>
    public static Tensor PackedAttention(this Graph g, Tensor qkv, int numHeads, float scale, Tensor? bias = null, int biasKeyGridRows = 0,
        Tensor? mask = null, bool causal = false, float maskBias = float.NegativeInfinity, bool biasByDistance = false) =>
        g.Apply(new AttentionOp(numHeads, scale, bias is not null, mask is not null, causal, maskBias, biasKeyGridRows, PackedQkv: true, biasByDistance),
            [qkv, .. Optional(bias, mask)]);

    private static Tensor[] Optional(params Tensor?[] tensors) => tensors.OfType<Tensor>().ToArray();
}
