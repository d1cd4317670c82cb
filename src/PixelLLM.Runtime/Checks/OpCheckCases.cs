using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Runtime.Checks;

/// <summary>
/// The catalog of backend-check cases: every op the backends implement, on small odd shapes (nothing a multiple of a
/// warp or a tile), broadcasting and flag variants included, in the spirit of ggml's test-backend-ops.
/// </summary>
public static partial class OpCheckCases
{
    private static TensorDesc F(params int[] shape) => new(DType.F32, new Shape(shape));
    private static TensorDesc T(DType dtype, params int[] shape) => new(dtype, new Shape(shape));
    private static OpCheckCase C(string label, Op op, params TensorDesc[] inputs) => new(label, op, inputs);

    /// <summary>All cases, in a fixed order.</summary>
    public static IReadOnlyList<OpCheckCase> All { get; } = Build();

    private static List<OpCheckCase> Build()
    {
        var cases = new List<OpCheckCase>
        {
            C("batched", new MatMulOp(), F(3, 5, 7), F(3, 7, 9)),
            C("transposes alpha", new MatMulOp(true, true, 0.5f), F(2, 7, 5), F(2, 9, 7)),
            C("broadcast a", new MatMulOp(), F(5, 7), F(2, 7, 3)),
            C("broadcast both", new MatMulOp(false, true), F(2, 1, 5, 7), F(1, 3, 6, 7)),
            C("bias", new LinearOp(true), F(2, 5, 7), F(9, 7), F(9)),
            C("no bias", new LinearOp(false), F(3, 13), F(6, 13)),
            C("3x3 s2 p1", new Conv2dOp(2, 2, 1, 1, true), F(2, 9, 11, 3), F(5, 3, 3, 3), F(5)),
            C("patch 4x4 s4", new Conv2dOp(4, 4, 0, 0, false), F(1, 8, 12, 4), F(6, 4, 4, 4)),
            C("pointwise", new Conv2dOp(1, 1, 0, 0, true), F(1, 5, 7, 6), F(4, 6, 1, 1), F(4)),
            C("s2 bias", new ConvTranspose2dOp(2, true), F(2, 5, 7, 6), F(6, 3, 2, 2), F(3)),
            C("s3 k4", new ConvTranspose2dOp(3, false), F(1, 3, 4, 5), F(5, 2, 4, 4)),
            C("weight bias", new LayerNormOp(1e-5f), F(3, 5, 37), F(37), F(37)),
            C("plain long", new LayerNormOp(1e-6f, false, false), F(2, 1100)),
            C("nchw", new LayerNorm2dOp(1e-6f), F(2, 6, 5, 7), F(6), F(6)),
            C("rows", new RmsNormOp(1e-6f), F(3, 5, 37), F(37)),
            C("long", new RmsNormOp(1e-6f), F(2, 1030), F(1030)),
            C("4d", new GroupNormOp(3, 1e-5f), F(2, 5, 7, 12), F(12), F(12)),
            C("3d", new GroupNormOp(4, 1e-5f), F(3, 10, 8), F(8), F(8)),
            C("", new ScaleOp(0.5f, 1.5f), F(4, 9)),
            C("", new SwiGluOp(), F(3, 17), F(3, 17)),
            C("packed gate | x", new SwiGluOp(Packed: true), F(2, 3, 2 * 21)),
            C("packed gate | x", new GeGluOp(Packed: true), F(5, 2 * 40)),
            C("", new GeGluOp(), F(3, 17), F(3, 17)),
            C("wide", new GeGluOp(), F(2, 1030), F(2, 1030)),
            C("rows", new SoftmaxOp(), F(5, 37)),
            C("long", new SoftmaxOp(), F(2, 1100)),
            C("rows", new LogSoftmaxOp(), F(5, 37)),
            C("long", new LogSoftmaxOp(), F(2, 1100)),
            C("rows", new ArgMaxOp(), F(6, 37)),
            C("long", new ArgMaxOp(), F(3, 2000)),
            C("k4", new TopKOp(4), F(5, 37)),
            C("k1", new TopKOp(1), F(3, 100)),
            C("full", new TopKOp(13), F(2, 13)),
            C("", new TakeAlongLastOp(), F(4, 9), T(DType.I32, 4, 3)) with { Integers = new() { [1] = 9 } },
            C("axis 1", new ReduceMeanOp(1), F(3, 5, 7)),
            C("last keepdim", new ReduceMeanOp(-1, true), F(4, 9)),
            C("axis 1", new ReduceMaxOp(1), F(3, 5, 7)),
            C("last keepdim", new ReduceMaxOp(-1, true), F(4, 9)),
            C("first of 1", new ReduceMaxOp(0), F(1, 6)),
            C("i32 ids", new EmbeddingOp(), F(11, 6), T(DType.I32, 2, 5)) with { Integers = new() { [1] = 11 } },
            C("i64 ids", new EmbeddingOp(), F(11, 6), T(DType.I64, 7)) with { Integers = new() { [1] = 11 } },
            // Small bucket counts, so that odd shapes reach the exact, log-spaced and capped buckets in both directions.
            C("encoder 5x23", new T5PositionBiasOp(5, 23, true, 10, 19), F(10, 3)),
            C("offset 7x4", new T5PositionBiasOp(7, 4, false, 12, 30, QueryOffset: 3), F(12, 5)),
            C("one step row", new T5PositionBiasOp(1, 37, false, 9, 25, HasPosition: true), F(9, 3), T(DType.I32, 1)) with { Integers = new() { [1] = 37 } },
            C("step rows beyond max distance", new T5PositionBiasOp(3, 11, true, 32, 128, QueryOffset: 2, HasPosition: true), F(32, 2), T(DType.I32, 1)) with { Integers = new() { [1] = 300 } },
            C("4d", new PermuteOp([0, 2, 3, 1]), F(2, 3, 4, 5)),
            C("i32 2d", new PermuteOp([1, 0]), T(DType.I32, 3, 5)),
            C("step 3", new SliceOp(1, 2, 8, 3), F(4, 9, 5)),
            C("axis 0", new SliceOp(0, 1, 3), F(4, 9, 5)),
            C("axis 1", new ConcatOp(1), F(2, 3, 4), F(2, 5, 4)),
            C("i32 three", new ConcatOp(0), T(DType.I32, 1, 3), T(DType.I32, 2, 3), T(DType.I32, 3, 3)),
            C("plain", new AttentionOp(4, 0.25f), F(2, 5, 64), F(2, 7, 64), F(2, 7, 32)),
            C("bias", new AttentionOp(4, 0.25f, HasBias: true), F(2, 5, 64), F(2, 7, 64), F(2, 7, 64), F(1, 4, 5, 7)),
            C("mask", new AttentionOp(2, 0.3f, HasMask: true), F(2, 3, 32), F(2, 9, 32), F(2, 9, 32), T(DType.U8, 2, 1, 1, 9)),
            C("causal", new AttentionOp(2, 0.3f, Causal: true), F(1, 3, 32), F(1, 7, 32), F(1, 7, 32)),
            C("d80 long", new AttentionOp(2, 0.1f), F(1, 6, 160), F(1, 45, 160), F(1, 45, 160)),
            C("bias mask causal", new AttentionOp(1, 0.2f, true, true, true, -1e4f), F(2, 6, 16), F(2, 6, 16), F(2, 6, 16), F(2, 1, 6, 6), T(DType.U8, 1, 1, 6, 6)),
            // Both lengths ≥ 16: the CUDA backend's cuBLAS path (scores GEMM, attention_softmax.cu, probabilities · values GEMM)
            // once the work passes its fused-attention limit: these small cases take it with PIXELLLM_FUSED_ATTENTION_FLOPS=0
            // (the GPU script checks them both ways), SAM's and EVA02's real attentions always.
            C("gemm plain", new AttentionOp(3, 0.25f), F(2, 19, 48), F(2, 21, 48), F(2, 21, 33)),
            C("gemm bias", new AttentionOp(2, 0.1f, HasBias: true), F(1, 33, 160), F(1, 37, 160), F(1, 37, 160), F(1, 2, 33, 37)),
            C("gemm bias bcast mask", new AttentionOp(4, 0.3f, true, true, false, -1e4f), F(3, 17, 64), F(3, 23, 64), F(3, 23, 64), F(3, 4, 17, 23), T(DType.U8, 3, 1, 1, 23)),
            C("gemm causal", new AttentionOp(2, 0.2f, Causal: true), F(2, 17, 32), F(2, 29, 32), F(2, 29, 32)),
            // SAM's decomposed rel-pos terms (Kh + Kw per query) summed per key of a Kh × Kw grid: on the cuBLAS path
            // (4×5 keys), on attention.cu (3×5), with heads broadcast, and on attention_decode.cu (one query, 2×7 keys).
            C("gemm rel-pos grid", new AttentionOp(2, 0.125f, HasBias: true, BiasKeyGridRows: 4), F(3, 20, 32), F(3, 20, 32), F(3, 20, 32), F(3, 2, 20, 9)),
            C("rel-pos grid", new AttentionOp(3, 0.2f, HasBias: true, BiasKeyGridRows: 3), F(2, 15, 24), F(2, 15, 24), F(2, 15, 24), F(2, 3, 15, 8)),
            C("rel-pos grid bcast mask", new AttentionOp(2, 0.3f, true, true, false, -1e4f, BiasKeyGridRows: 5), F(2, 6, 16), F(2, 10, 16), F(2, 10, 16), F(2, 1, 6, 7), T(DType.U8, 2, 1, 1, 10)),
            C("decode rel-pos grid", new AttentionOp(2, 0.25f, HasBias: true, BiasKeyGridRows: 2), F(2, 1, 64), F(2, 14, 64), F(2, 14, 64), F(2, 2, 1, 9)),
            // q | k | v packed in one tensor (SAM's qkv): read in place on the cuBLAS path (one window, and several with
            // pointer arrays and the rel-pos terms) and by attention.cu (short).
            C("gemm packed qkv", new AttentionOp(2, 0.125f, PackedQkv: true), F(1, 18, 96)),
            C("gemm packed qkv windows rel-pos", new AttentionOp(2, 0.2f, HasBias: true, BiasKeyGridRows: 4, PackedQkv: true), F(3, 20, 48), F(3, 2, 20, 9)),
            // Tensor-core shapes (attention_mma.cu with PIXELLLM_MMA_ATTENTION=1): EVA02-like packed d64 with a partial last
            // key tile, SAM-like windows of 7×7 tokens at d80 with the decomposed rel-pos terms.
            C("mma packed d64 tail", new AttentionOp(2, 0.125f, PackedQkv: true), F(1, 100, 384)),
            C("mma packed d80 rel-pos windows", new AttentionOp(2, 0.11f, HasBias: true, BiasKeyGridRows: 7, PackedQkv: true), F(2, 49, 480), F(2, 2, 49, 14)),
            // Separate q, k, v at d32 over three key tiles with a full bias (two query blocks); d96 with a key grid whose
            // terms are broadcast over batch and heads; packed d128.
            C("mma d32 full bias", new AttentionOp(3, 0.2f, HasBias: true), F(1, 70, 96), F(1, 130, 96), F(1, 130, 96), F(1, 3, 70, 130)),
            C("mma d96 rel-pos bcast", new AttentionOp(1, 0.1f, HasBias: true, BiasKeyGridRows: 9), F(1, 20, 96), F(1, 90, 96), F(1, 90, 96), F(1, 1, 20, 19)),
            C("mma packed d128", new AttentionOp(1, 0.09f, PackedQkv: true), F(2, 33, 384)),
            // The encoders' sequence lengths with two heads: EVA02's 730 tokens (11 full key tiles and 26 keys), SAM's four
            // 14×14 windows (three full query blocks and 4 rows).
            C("mma eva02 730 d64", new AttentionOp(2, 0.125f, PackedQkv: true), F(1, 730, 384)),
            C("mma sam windows 14x14 d80", new AttentionOp(2, 0.11f, HasBias: true, BiasKeyGridRows: 14, PackedQkv: true), F(4, 196, 480), F(4, 2, 196, 28)),
            C("packed qkv short mask", new AttentionOp(3, 0.3f, HasMask: true, MaskBias: -1e4f, PackedQkv: true), F(2, 7, 72), T(DType.U8, 2, 1, 1, 7)),
            // T5's encoder attention as the engine runs it (packed q | k | v, relative bias, key mask) and a cross attention
            // shaped like the point rerun's: on CUDA one attention.cu launch each, reading the packed rows in place.
            C("fused packed t5 encoder", new AttentionOp(4, 1f, true, true, false, -1e10f, PackedQkv: true, BiasByDistance: true), F(1, 40, 192), F(1, 4, 79), T(DType.U8, 1, 1, 40, 40)),
            C("fused t5 cross 22x40", new AttentionOp(4, 1f, HasMask: true, MaskBias: -1e10f), F(2, 22, 64), F(2, 40, 64), F(2, 40, 64), T(DType.U8, 2, 1, 1, 40)),
            // T5's encoder: q | k | v with its position bias by distance and mask (causality too, as a decoder would).
            C("gemm packed qkv t5 causal", new AttentionOp(2, 1f, true, true, true, -1e10f, PackedQkv: true, BiasByDistance: true), F(2, 22, 48), F(1, 2, 43), T(DType.U8, 2, 1, 1, 22)),
            // A bias by distance (Lq + Lk − 1 values per head, query i's row starting Lq − 1 − i in) on the other paths:
            // attention.cu with more keys than queries and the heads broadcast, attention_decode.cu (three queries), the
            // cuBLAS path with a per-batch bias, and attention_mma.cu over two key tiles.
            C("distance bcast heads", new AttentionOp(3, 0.3f, HasBias: true, BiasByDistance: true), F(2, 5, 48), F(2, 9, 48), F(2, 9, 48), F(2, 1, 13)),
            C("decode distance", new AttentionOp(2, 0.25f, HasBias: true, Causal: true, BiasByDistance: true), F(2, 3, 64), F(2, 11, 64), F(2, 11, 64), F(1, 2, 13)),
            C("gemm distance per batch", new AttentionOp(2, 0.2f, HasBias: true, BiasByDistance: true), F(2, 19, 32), F(2, 26, 32), F(2, 26, 32), F(2, 2, 44)),
            C("mma distance d64", new AttentionOp(2, 0.125f, HasBias: true, BiasByDistance: true), F(1, 70, 128), F(1, 90, 128), F(1, 90, 128), F(1, 2, 159)),
            // SAM's attention blocks as one op: windows over an odd map with the pad row, the whole grid, zero padding, no
            // rel-pos; then shapes grid_attention.cu takes (PIXELLLM_GRID_ATTENTION=1): SAM's four 14×14 windows over 24² at
            // d80, a whole odd 10×13 grid at d64 (three query blocks, three key tiles), zero-padded 7×7 windows at d32.
            C("windows 3 pad row", new GridAttentionOp(2, 0.3f, 3, HasPadRow: true), F(2, 5, 7, 48), F(48), F(5, 8), F(5, 8)),
            C("whole grid", new GridAttentionOp(2, 0.25f), F(1, 4, 6, 48), F(7, 8), F(11, 8)),
            C("windows zero pad", new GridAttentionOp(3, 0.2f, 4), F(1, 6, 9, 72), F(7, 8), F(7, 8)),
            C("windows no rel-pos", new GridAttentionOp(2, 0.3f, 3, HasPadRow: true, HasRelPos: false), F(1, 5, 4, 48), F(48)),
            C("mma sam windows 24x24 d80", new GridAttentionOp(2, 0.11f, 14, HasPadRow: true), F(1, 24, 24, 480), F(480), F(27, 80), F(27, 80)),
            C("mma whole 10x13 d64", new GridAttentionOp(2, 0.125f), F(1, 10, 13, 384), F(19, 64), F(25, 64)),
            C("mma windows 9x11 d32 zero pad", new GridAttentionOp(2, 0.17f, 7), F(2, 9, 11, 192), F(13, 32), F(13, 32)),
            // SAM ViT-H's own blocks at 384² (16 heads of 80 over 24²): windowed with the qkv bias as pad row, and global.
            C("mma sam-h windows", new GridAttentionOp(16, 0.1118f, 14, HasPadRow: true), F(1, 24, 24, 3840), F(3840), F(27, 80), F(27, 80)),
            C("mma sam-h global", new GridAttentionOp(16, 0.1118f), F(1, 24, 24, 3840), F(47, 80), F(47, 80)),
            // EVA02's attention blocks as one op (Rope on q and k, then attention): a cls token, none; then shapes
            // rotary_attention.cu takes (PIXELLLM_MMA_ATTENTION=1): 12² + cls tokens at d64 (three query blocks and key
            // tiles), two batch elements at d32.
            C("cls start", new RotaryAttentionOp(3, 0.3f, 1), F(2, 9, 72), F(8, 8), F(8, 8)),
            C("no prefix", new RotaryAttentionOp(2, 0.25f), F(1, 20, 36), F(20, 6), F(20, 6)),
            C("mma eva02 cls 145 d64", new RotaryAttentionOp(2, 0.125f, 1), F(1, 145, 384), F(144, 64), F(144, 64)),
            C("mma batch d32", new RotaryAttentionOp(2, 0.17f), F(2, 70, 192), F(70, 32), F(70, 32)),
            // EVA02-L's own block at 384² (16 heads of 64, 27² patches and cls).
            C("mma eva02-l", new RotaryAttentionOp(16, 0.125f, 1), F(1, 730, 3072), F(729, 64), F(729, 64)),
            // Dense stacks as one op (the point head: pre-LayerNorm, GELU between layers), on 22 rows; without the norm with
            // ReLU; one layer; and 40 rows, past mlp.cu's 32 (PIXELLLM_FUSED_MLP=1 takes the other three).
            C("fused point head 22 rows", new MlpOp(4, UnaryKind.Gelu, PreNorm: true), F(2, 11, 64), F(64), F(64),
                F(48, 64), F(48), F(48, 48), F(48), F(48, 48), F(48), F(8, 48), F(8)),
            C("fused relu no norm", new MlpOp(2, UnaryKind.Relu), F(5, 30), F(17, 30), F(17), F(3, 17), F(3)),
            C("fused one layer", new MlpOp(1, UnaryKind.Gelu, PreNorm: true, NormEps: 1e-5f), F(3, 16), F(16), F(16), F(5, 16), F(5)),
            C("40 rows by steps", new MlpOp(3, UnaryKind.Gelu, PreNorm: true), F(40, 24), F(24), F(24), F(20, 24), F(20), F(20, 20), F(20), F(6, 20), F(6)),
            // EVA02's gate and sub-LayerNorm as one op: rows padded to 2,736 with 2,730 normalised (EVA02-L's MLP), a
            // whole 40-wide row; swiglu_norm.cu (PIXELLLM_FUSED_SWIGLU_NORM=1) takes both (whole 16-byte vectors), not the
            // 13-wide rows.
            C("fused eva02-l padded", new SwiGluNormOp(1e-6f, 2730), F(3, 5, 2 * 2736), F(2730), F(2730)),
            C("fused whole rows", new SwiGluNormOp(1e-5f), F(17, 80), F(40), F(40)),
            C("odd rows by steps", new SwiGluNormOp(1e-6f), F(9, 26), F(13), F(13)),
            C("cls start", new RopeOp(3, 1), F(2, 5, 24), F(4, 8), F(4, 8)),
            C("packed q k of qkv", new RopeOp(4, 1, RotatedWidth: 32), F(2, 5, 48), F(4, 8), F(4, 8)),
            C("padded", new WindowPartitionOp(3), F(2, 5, 7, 3)),
            C("padded with a row", new WindowPartitionOp(3, HasPadRow: true), F(2, 5, 7, 3), F(3)),
            C("cropped", new WindowUnpartitionOp(3, 5, 7), F(12, 3, 3, 3)),
            C("q3x4 k5x2", new RelPosBiasOp(2, 3, 4, 5, 2), F(2, 12, 16), F(9, 8), F(7, 8)),
            C("q14x14 d80", new RelPosBiasOp(2, 14, 14, 14, 14), F(1, 196, 160), F(27, 80), F(27, 80)),
            C("packed q3x5", new RelPosBiasOp(2, 3, 5, 3, 5, PackedQkv: true), F(2, 15, 48), F(5, 8), F(9, 8)),
            C("linear aa", new ResizeOp([1, 2], [13, 4], ResizeKernel.Linear), F(2, 7, 9, 3)),
            C("cubic", new ResizeOp([-1], [11], ResizeKernel.Cubic, false), F(1, 5, 6)),
            C("axis 1", new WriteAtOp(1), F(3, 8, 5), F(3, 2, 5), T(DType.I32, 1)) with { Integers = new() { [2] = 7 } },
            C("", new ReorderRowsOp(), F(4, 6), T(DType.I32, 4)) with { Integers = new() { [1] = 4 } },
            // Several caches by the same rows (a beam step's): x_0, rows, then the others, updated in place.
            C("3 tensors", new ReorderRowsOp(3), F(4, 5, 6), T(DType.I32, 4), F(4, 5, 6), F(4, 5, 6)) with { Integers = new() { [1] = 4 } },
            C("2 tensors u8", new ReorderRowsOp(2), T(DType.U8, 5, 3), T(DType.I32, 5), T(DType.U8, 5, 3)) with { Integers = new() { [1] = 5, [0] = 256, [2] = 256 } },
            // Rows of whole 16-byte vectors (a KV cache's, on the device's vector path), and more rows than it takes in place.
            C("4 caches of vectors", new ReorderRowsOp(4), F(4, 3, 8), T(DType.I32, 4), F(4, 3, 8), F(4, 3, 8), F(4, 3, 8)) with { Integers = new() { [1] = 4 } },
            C("20 rows", new ReorderRowsOp(2), F(20, 5), T(DType.I32, 20), F(20, 5)) with { Integers = new() { [1] = 20 } },
            // A beam step's caches, moving only the slots before the step's position (the limit; 0 to past the end).
            C("valid prefix", new ReorderRowsOp(3, ValidPrefix: true), F(4, 9, 8), T(DType.I32, 4), F(4, 9, 8), F(4, 9, 8), T(DType.I32, 1))
                with { Integers = new() { [1] = 4, [4] = 11 } },
            C("valid prefix of elements", new ReorderRowsOp(2, ValidPrefix: true), F(3, 5, 3), T(DType.I32, 3), F(3, 5, 3), T(DType.I32, 1))
                with { Integers = new() { [1] = 3, [3] = 6 } },
            C("valid prefix, 20 rows", new ReorderRowsOp(2, ValidPrefix: true), F(20, 6, 2), T(DType.I32, 20), F(20, 6, 2), T(DType.I32, 1))
                with { Integers = new() { [1] = 20, [3] = 7 } },
        };
        foreach (var kind in Enum.GetValues<UnaryKind>())
            cases.Add(C(kind.ToString(), new UnaryOp(kind), F(3, 7, 11)) with { Positive = kind == UnaryKind.Sqrt ? [0] : [] });
        foreach (var kind in Enum.GetValues<BinaryKind>())
            cases.Add(C($"{kind} broadcast", new BinaryOp(kind), F(3, 1, 5), F(4, 5)) with { Positive = kind == BinaryKind.Div ? [1] : [] });
        cases.Add(C("Div i32", new BinaryOp(BinaryKind.Div), T(DType.I32, 3, 5), T(DType.I32, 5)) with { Integers = new() { [0] = 100, [1] = 9 }, SignedIntegers = [0], Positive = [1] });
        cases.Add(C("Sub u8", new BinaryOp(BinaryKind.Sub), T(DType.U8, 2, 7), T(DType.U8, 2, 7)) with { Integers = new() { [0] = 256, [1] = 256 } });
        cases.Add(C("Max i64", new BinaryOp(BinaryKind.Max), T(DType.I64, 6), T(DType.I64, 2, 1)) with { Integers = new() { [0] = 50, [1] = 50 }, SignedIntegers = [0, 1] });
        cases.Add(C("Mul f16", new BinaryOp(BinaryKind.Mul), T(DType.F16, 2, 3, 5), T(DType.F16, 5)));
        foreach (var (from, to) in new[] { (DType.F32, DType.I32), (DType.F32, DType.BF16), (DType.F32, DType.F16), (DType.I32, DType.F32),
                     (DType.F16, DType.F32), (DType.I64, DType.I32), (DType.F32, DType.U8), (DType.U8, DType.F32) })
            cases.Add(C($"{from}->{to}", new CastOp(to), T(from, 3, 7)) with { Integers = new() { [0] = 1000 }, SignedIntegers = [0] });
        cases.AddRange(RoiAlignCases());
        cases.AddRange(DecodeCases());
        cases.AddRange(DecoderLayerCases());
        cases.AddRange(ElementwiseCases());
        cases.AddRange(CopyRowCases());
        return cases;
    }
}
