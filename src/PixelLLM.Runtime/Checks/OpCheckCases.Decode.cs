using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Runtime.Checks;

public static partial class OpCheckCases
{
    /// <summary>
    /// The decode-step shapes the CUDA backend serves with its own kernels instead of the general ones: Linear and the
    /// 1×1 convolution on at most 8 rows (gemv.cu: 16-byte loads when K is a multiple of 8, scalar when K is odd, a
    /// K long enough to take several unrolled passes; 9 rows falls back to cuBLAS), and attention on at most 4 query
    /// rows (attention_decode.cu: T5's (1, H, 1, Lk) bias, a (B, 1, 1, Lk) mask on a beam-like batch, causality with the
    /// Lk − Lq offset, a row with every key hidden, head dims 64 and 80, value dim unlike the key dim).
    /// </summary>
    private static IEnumerable<OpCheckCase> DecodeCases()
    {
        yield return C("gemv 1 row k40 bias", new LinearOp(true), F(1, 1, 40), F(37, 40), F(37));
        yield return C("gemv 3 rows batch dims", new LinearOp(false), F(3, 1, 40), F(33, 40));
        yield return C("gemv 1 row k odd", new LinearOp(false), F(1, 13), F(70, 13));
        yield return C("gemv 8 rows k odd bias", new LinearOp(true), F(2, 4, 27), F(19, 27), F(19));
        yield return C("gemv 2 rows k1032 bias", new LinearOp(true), F(2, 1032), F(5, 1032), F(5));
        yield return C("gemv 5 rows k12", new LinearOp(false), F(5, 1, 12), F(3, 12));
        yield return C("9 rows cublas bias", new LinearOp(true), F(9, 24), F(11, 24), F(11));
        yield return C("gemv 1 row k2048 residual", new LinearOp(false, true), F(1, 1, 2048), F(40, 2048), F(1, 1, 40));
        yield return C("gemv 4 rows k odd bias residual", new LinearOp(true, true), F(4, 27), F(19, 27), F(19), F(4, 19));
        yield return C("12 rows cublas bias residual", new LinearOp(true, true), F(12, 24), F(11, 24), F(11), F(12, 11));
        // Many rows with a bias and a residual: cuBLASLt's epilogue adds both (its C input is the residual); a misaligned
        // residual may find no such algorithm, and then starts C by a copy.
        yield return C("40 rows bias residual epilogue", new LinearOp(true, true), F(2, 20, 64), F(96, 64), F(96), F(2, 20, 96));
        yield return C("40 rows bias residual misaligned", new LinearOp(true, true), F(40, 64), F(96, 64), F(96), F(40, 96)) with { Misaligned = [3] };
        // The prompt adapter's per-query projections: one row per group, then several rows and groups.
        yield return C("grouped 1 row bias", new GroupedLinearOp(true), F(1, 5, 24), F(165, 24), F(165));
        yield return C("grouped rows batch dims", new GroupedLinearOp(false), F(3, 2, 4, 13), F(28, 13));
        yield return C("grouped 9 rows bias", new GroupedLinearOp(true), F(9, 3, 40), F(48, 40), F(48));
        yield return C("9 rows cublas residual", new LinearOp(false, true), F(3, 3, 40), F(33, 40), F(3, 3, 33));
        yield return C("40 rows residual misaligned", new LinearOp(false, true), F(40, 64), F(96, 64), F(40, 96)) with { Misaligned = [2] };
        // gemm_skinny.cu's shapes (PIXELLLM_SKINNY_GEMM=1): 9–64 rows, K and N multiples of 64; split-K (2 and 10
        // splits on a 132-SM card), one split (264 column tiles), every row tile count, several chunks per split.
        yield return C("skinny 40 rows bias residual", new LinearOp(true, true), F(40, 128), F(192, 128), F(192), F(40, 192));
        yield return C("skinny 22 rows k640 ten splits", new LinearOp(false), F(2, 11, 640), F(64, 640));
        yield return C("skinny 64 rows residual", new LinearOp(false, true), F(64, 192), F(128, 192), F(64, 128));
        yield return C("skinny 9 rows one split", new LinearOp(true), F(9, 64), F(16896, 64), F(16896));
        // Nine chunks over 132 column tiles: two uneven splits (5 + 4 chunks), so the W ring refills, both x buffers and
        // the next-chunk prefetch all run.
        yield return C("skinny 40 rows k576 uneven splits", new LinearOp(false, true), F(40, 576), F(8448, 576), F(40, 8448));
        yield return C("gemv 1 row rmsnorm k2048", new RmsNormLinearOp(1e-6f), F(1, 1, 2048), F(2048), F(40, 2048));
        yield return C("gemv 4 rows rmsnorm k odd", new RmsNormLinearOp(1e-6f), F(4, 1, 27), F(27), F(19, 27));
        yield return C("gemv 8 rows rmsnorm k1032", new RmsNormLinearOp(1e-5f), F(8, 1032), F(1032), F(9, 1032));
        yield return C("12 rows cublas rmsnorm", new RmsNormLinearOp(1e-6f), F(12, 40), F(40), F(33, 40));
        yield return C("gemv 1 row rmsnorm geglu k2048", new RmsNormGeGluOp(1e-6f), F(1, 1, 2048), F(2048), F(48, 2048), F(48, 2048));
        yield return C("gemv 4 rows rmsnorm geglu k odd", new RmsNormGeGluOp(1e-6f), F(4, 1, 27), F(27), F(19, 27), F(19, 27));
        yield return C("gemv 8 rows rmsnorm geglu k1032", new RmsNormGeGluOp(1e-5f), F(8, 1032), F(1032), F(9, 1032), F(9, 1032));
        yield return C("12 rows cublas rmsnorm geglu", new RmsNormGeGluOp(1e-6f), F(12, 40), F(40), F(33, 40), F(33, 40));
        // q/k/v in one op: q out, k and v into their caches (compared whole, the other slots included). Inputs: x, wq, wk, wv,
        // key cache, value cache, position, then T5's norm weight or GIT's three biases.
        yield return C("gemv qkv 1 row k2048", new QkvProjectionOp(1e-6f), F(1, 1, 2048), F(64, 2048), F(64, 2048), F(64, 2048),
            F(1, 22, 64), F(1, 22, 64), T(DType.I32, 1), F(2048)) with { Integers = new() { [6] = 22 } };
        yield return C("gemv qkv 4 rows k odd", new QkvProjectionOp(1e-6f), F(4, 1, 27), F(19, 27), F(19, 27), F(19, 27),
            F(4, 9, 19), F(4, 9, 19), T(DType.I32, 1), F(27)) with { Integers = new() { [6] = 9 } };
        yield return C("gemv qkv 3 rows k1032", new QkvProjectionOp(1e-5f), F(3, 1, 1032), F(33, 1032), F(33, 1032), F(33, 1032),
            F(3, 7, 33), F(3, 7, 33), T(DType.I32, 1), F(1032)) with { Integers = new() { [6] = 7 } };
        yield return C("12 rows cublas qkv", new QkvProjectionOp(1e-6f), F(12, 1, 40), F(33, 40), F(33, 40), F(33, 40),
            F(12, 5, 33), F(12, 5, 33), T(DType.I32, 1), F(40)) with { Integers = new() { [6] = 5 } };
        var git = new QkvProjectionOp(0f, HasNorm: false, HasBias: true);
        yield return C("gemv qkv bias 2 rows k768", git, F(2, 1, 768), F(40, 768), F(40, 768), F(40, 768),
            F(2, 11, 40), F(2, 11, 40), T(DType.I32, 1), F(40), F(40), F(40)) with { Integers = new() { [6] = 11 } };
        yield return C("gemv qkv bias 1 row k odd", git, F(1, 1, 25), F(7, 25), F(7, 25), F(7, 25),
            F(1, 4, 7), F(1, 4, 7), T(DType.I32, 1), F(7), F(7), F(7)) with { Integers = new() { [6] = 4 } };
        yield return C("12 rows cublas qkv bias", git, F(12, 1, 24), F(16, 24), F(16, 24), F(16, 24),
            F(12, 6, 16), F(12, 6, 16), T(DType.I32, 1), F(16), F(16), F(16)) with { Integers = new() { [6] = 6 } };
        yield return C("pointwise 3 pixels gemv", new Conv2dOp(1, 1, 0, 0, true), F(1, 1, 3, 6), F(4, 6, 1, 1), F(4));

        yield return C("decode lk1", new AttentionOp(2, 0.125f), F(1, 1, 128), F(1, 1, 128), F(1, 1, 128));
        yield return C("decode lk22 t5 bias", new AttentionOp(4, 1f, HasBias: true), F(1, 1, 256), F(1, 22, 256), F(1, 22, 256), F(1, 4, 1, 22));
        yield return C("decode lk40 mask beam4", new AttentionOp(2, 0.125f, HasMask: true), F(4, 1, 128), F(4, 40, 128), F(4, 40, 128), T(DType.U8, 4, 1, 1, 40));
        yield return C("decode lk300 d80", new AttentionOp(2, 0.1f), F(1, 1, 160), F(1, 300, 160), F(1, 300, 160));
        // Head dim 128 (the kernel's limit) with 64 keys, 65 keys, and a head dim of 12 with 5 heads and a bias.
        yield return C("decode lk64 d128", new AttentionOp(2, 0.09f, HasMask: true), F(2, 1, 256), F(2, 64, 256), F(2, 64, 256), T(DType.U8, 2, 1, 1, 64));
        yield return C("decode lk65", new AttentionOp(2, 0.125f), F(1, 1, 128), F(1, 65, 128), F(1, 65, 128));
        yield return C("decode d12 h5", new AttentionOp(5, 0.3f, HasBias: true), F(1, 1, 60), F(1, 33, 60), F(1, 33, 60), F(1, 5, 1, 33));
        yield return C("decode lq3 bias mask causal", new AttentionOp(3, 0.2f, true, true, true, -1e4f), F(2, 3, 48), F(2, 9, 48), F(2, 9, 48), F(2, 1, 3, 9), T(DType.U8, 1, 1, 3, 9));
        yield return C("decode lq2 dv80", new AttentionOp(2, 0.25f), F(1, 2, 64), F(1, 7, 64), F(1, 7, 160));
        yield return C("decode packed qkv lq3", new AttentionOp(2, 0.3f, PackedQkv: true), F(2, 3, 96));
        yield return C("decode all hidden", new AttentionOp(2, 0.3f, HasMask: true), F(2, 1, 32), F(2, 5, 32), F(2, 5, 32), T(DType.U8, 2, 1, 1, 5))
            with { Integers = new() { [3] = 1 } };
        // Greedy choice (EOS 1): row 1 of each case is forced (its previous token is EOS); "capped" has each row's previous
        // token as its largest logit, so the repeat cap decides; "vocab" is an odd width. The scores (last input) are written
        // in place and compared too.
        var op = new GreedyPickOp(1, -10000f);
        yield return C("pick rows", op, F(3, 37), T(DType.I32, 3), F(3, 2)) with { Values = new() { [1] = [5, 1, 36] } };
        yield return C("pick capped", op, F(2, 1, 9), T(DType.I32, 2, 1), F(2, 2)) with
        {
            Values = new() { [0] = [0.1f, -0.4f, 0.3f, 0.2f, 2.5f, -1f, 0.7f, 0.6f, 0.05f, 1.5f, -0.2f, 0.9f, 0.4f, 0.1f, 0.3f, 3f, -0.5f, 0.2f], [1] = [4, 6] },
        };
        yield return C("pick vocab", op, F(2, 4099), T(DType.I32, 2), F(2, 2)) with { Values = new() { [1] = [4098, 1] } };
        // T5's vocabulary (whole 16-byte vectors), and a wider row whose last element is the scalar tail.
        yield return C("pick t5 vocab", op, F(1, 32128), T(DType.I32, 1), F(1, 2)) with { Values = new() { [1] = [32127] } };
        yield return C("pick streamed", op, F(1, 33001), T(DType.I32, 1), F(1, 2)) with { Values = new() { [1] = [12] } };
        foreach (var c in BeamCases()) yield return c;
    }

    /// <summary>
    /// Beam candidates: inputs logits, live log-probs and values (float bits in I32, the values written in place and
    /// compared). T5's vocabulary over 16 chunks with caption beams (4, keep 8), first-step live scores (−1e7 below beam
    /// 0); two elements of odd width; a last chunk shorter than keep; ties within a row; −∞ logits (a chunk of them in a
    /// finite row, a row finite in one place); a NaN row (every value NaN: the first flat indices win).
    /// </summary>
    private static IEnumerable<OpCheckCase> BeamCases()
    {
        HashSet<int> bits = [1, 2];
        float inf = float.PositiveInfinity;
        yield return C("beam t5 vocab 4 beams", new BeamCandidatesOp(4, 8), F(4, 32128), T(DType.I32, 4), T(DType.I32, 1, 8))
            with { FloatBits = bits, Values = new() { [1] = [-1.5f, -2.25f, -0.75f, -3f] } };
        yield return C("beam first step", new BeamCandidatesOp(4, 8), F(4, 32128), T(DType.I32, 4), T(DType.I32, 1, 8))
            with { FloatBits = bits, Values = new() { [1] = [0f, -1e7f, -1e7f, -1e7f] } };
        yield return C("beam 2 elements odd width", new BeamCandidatesOp(3, 3), F(6, 4099), T(DType.I32, 6), T(DType.I32, 2, 3))
            with { FloatBits = bits };
        yield return C("beam short last chunk", new BeamCandidatesOp(2, 5), F(2, 2050), T(DType.I32, 2), T(DType.I32, 1, 5))
            with { FloatBits = bits, Values = new() { [0] = Enumerable.Range(0, 4100).Select(i => i % 2050 >= 2048 ? 5f + i % 7 : (i % 13) / 7f - 1f).ToArray() } };
        yield return C("beam ties", new BeamCandidatesOp(2, 4), F(2, 5), T(DType.I32, 2), T(DType.I32, 1, 4))
            with { FloatBits = bits, Values = new() { [0] = [1f, 0.5f, 1f, 1f, -1f, 0.25f, 1f, 1f, 0f, 0f], [1] = [0f, -0.5f] } };
        yield return C("beam infinite logits", new BeamCandidatesOp(2, 4), F(2, 2100), T(DType.I32, 2), T(DType.I32, 1, 4))
            with
            {
                FloatBits = bits,
                Values = new() { [0] = Enumerable.Range(0, 4200).Select(i => i < 2048 ? -inf : i < 2100 ? (i % 11) / 5f : i == 3000 ? 3f : -inf).ToArray() },
            };
        yield return C("beam nan row", new BeamCandidatesOp(2, 3), F(2, 6), T(DType.I32, 2), T(DType.I32, 1, 3))
            with { FloatBits = bits, Values = new() { [0] = [0.5f, float.NaN, 1f, 0f, 2f, 0f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f] } };
    }
}
