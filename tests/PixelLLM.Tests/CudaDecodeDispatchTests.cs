using PixelLLM.Backends.Cpu;
using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Backends.Cuda.Interop;
using PixelLLM.Backends.Cuda.Ops;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Checks;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Tests;

/// <summary>
/// Which kernels the decode-step shapes reach on CUDA (no GPU needed: a recording queue): Linear on ≤ 8 rows is one
/// gemv.cu launch with the bias fused and no cuBLAS call, 9 rows is cuBLAS plus the bias kernel; attention with ≤ 4 query
/// rows goes to attention_decode.cu, with one block per query row, and longer queries or key sets past its shared
/// memory stay on attention.cu. The catalog's decode cases really take these paths.
/// </summary>
public class CudaDecodeDispatchTests
{
    [Theory]
    [InlineData(1, "gemv_f32_r1")]
    [InlineData(2, "gemv_f32_r2")]
    [InlineData(3, "gemv_f32_r4")]
    [InlineData(5, "gemv_f32_r8")]
    [InlineData(8, "gemv_f32_r8")]
    public void LinearOnFewRowsIsOneGemvLaunchWithTheBiasFused(int rows, string kernel)
    {
        var queue = Dispatch(new LinearOp(true), DType.F32, [rows, 1, 40], [37, 40], [37]);

        Assert.Equal(0, queue.Gemms);
        var launch = Assert.Single(queue.Launches);
        Assert.Equal(("gemv.cu", kernel), (launch.File, launch.Kernel));
        Assert.Equal(((37u + 3) / 4, 1u, 1u), launch.Grid);
    }

    [Fact]
    public void BrainFloatStorageNamesTheBf16Gemv()
    {
        var queue = Dispatch(new LinearOp(false), DType.BF16, [4, 2048], [2048, 2048]);
        Assert.Equal("gemv_bf16_r4", Assert.Single(queue.Launches).Kernel);
    }

    [Fact]
    public void NineRowsGoToCublasAndTheBiasKernel()
    {
        var queue = Dispatch(new LinearOp(true), DType.F32, [9, 24], [11, 24], [11]);

        Assert.Equal(1, queue.Gemms);
        Assert.Equal(("linear.cu", "linear_bias_f32"), (queue.Launches.Single().File, queue.Launches.Single().Kernel));
    }

    [Fact]
    public void WithTheCublasLtEpilogueTheBiasRidesInTheGemm()
    {
        var queue = Dispatch(new LinearOp(true), DType.BF16, [[40, 24], [64, 24], [64]], [DType.F32, DType.F32, DType.F32], biasEpilogue: true);
        Assert.Equal(1, queue.Gemms);
        Assert.NotEqual(0UL, queue.GemmBiases.Single());
        Assert.Empty(queue.Launches);
        var without = Dispatch(new LinearOp(true), DType.BF16, [40, 24], [64, 24], [64]);
        Assert.Equal(0UL, without.GemmBiases.Single());
        Assert.Equal("linear.cu", without.Launches.Single().File);
    }

    [Fact]
    public void ResidualOnFewRowsStaysOneGemvLaunch()
    {
        var queue = Dispatch(new LinearOp(true, true), DType.BF16, [1, 1, 2048], [2048, 2048], [2048], [1, 1, 2048]);
        Assert.Equal(0, queue.Gemms);
        Assert.Equal(("gemv.cu", "gemv_bf16_r1"), (queue.Launches.Single().File, queue.Launches.Single().Kernel));
    }

    [Fact]
    public void ResidualOnManyRowsIsCopiedIntoCAndTheGemmAddsOntoIt()
    {
        var queue = Dispatch(new LinearOp(true, true), DType.F32, [40, 24], [64, 24], [64], [40, 64]);
        Assert.Equal(1, queue.Gemms);
        Assert.Equal(1, queue.Copies);
        Assert.Equal(1f, queue.GemmBetas.Single());
        Assert.Equal(["linear.cu"], queue.Launches.Select(l => l.File));
    }

    [Fact]
    public void WithTheCublasLtEpilogueTheResidualRidesInTheGemmToo()
    {
        var queue = Dispatch(new LinearOp(true, true), DType.BF16, [[40, 24], [64, 24], [64], [40, 64]],
            [DType.F32, DType.F32, DType.F32, DType.F32], biasEpilogue: true);
        var call = Assert.Single(queue.Calls);
        Assert.Equal(1f, call.Beta);
        Assert.NotEqual(0UL, call.Bias);
        Assert.NotEqual(0UL, call.Residual);
        Assert.NotEqual(call.C, call.Residual);
        Assert.Equal(0, queue.Copies);
        Assert.Empty(queue.Launches);
    }

    [Fact]
    public void WithTheResidualEpilogueOffTheResidualIsAddedAfter()
    {
        var queue = Dispatch(new LinearOp(true, true), DType.BF16, [[40, 24], [64, 24], [64], [40, 64]],
            [DType.F32, DType.F32, DType.F32, DType.F32], biasEpilogue: true, residualEpilogue: false);
        var call = Assert.Single(queue.Calls);
        Assert.Equal((0f, 0UL), (call.Beta, call.Residual));
        Assert.NotEqual(0UL, call.Bias);
        Assert.Equal("binary.cu", Assert.Single(queue.Launches).File);
    }

    [Fact]
    public void WithoutABiasTheResidualIsStillTheGemmsCInput()
    {
        // T5's o and wo projections: no bias, a skip connection, 40 encoder rows.
        var queue = Dispatch(new LinearOp(false, true), DType.BF16, [[40, 24], [64, 24], [40, 64]], [DType.F32, DType.F32, DType.F32],
            biasEpilogue: true);
        var call = Assert.Single(queue.Calls);
        Assert.Equal((1f, 0UL), (call.Beta, call.Bias));
        Assert.NotEqual(0UL, call.Residual);
        Assert.NotEqual(call.C, call.Residual);
        Assert.Equal(0, queue.Copies);
        Assert.Empty(queue.Launches);
    }

    [Fact]
    public void WithoutTheResidualEpilogueABiasFreeResidualStartsC()
    {
        var queue = Dispatch(new LinearOp(false, true), DType.BF16, [[40, 24], [64, 24], [40, 64]], [DType.F32, DType.F32, DType.F32],
            biasEpilogue: true, residualEpilogue: false);
        var call = Assert.Single(queue.Calls);
        Assert.Equal((1f, 0UL), (call.Beta, call.Residual));
        Assert.Equal(1, queue.Copies);
        Assert.Empty(queue.Launches);
    }

    [Fact]
    public void RmsNormLinearOnFewRowsIsOneGemvLaunch()
    {
        var queue = Dispatch(new RmsNormLinearOp(1e-6f), DType.BF16, [1, 1, 2048], [2048], [2048, 2048]);
        Assert.Equal(0, queue.Gemms);
        Assert.Equal(("gemv.cu", "gemv_rmsnorm_bf16_r1"), (queue.Launches.Single().File, queue.Launches.Single().Kernel));
    }

    [Fact]
    public void RmsNormLinearOnManyRowsIsTheNormKernelThenCublas()
    {
        var queue = Dispatch(new RmsNormLinearOp(1e-6f), DType.F32, [40, 64], [64], [24, 64]);
        Assert.Equal(1, queue.Gemms);
        Assert.Equal("rms_norm.cu", queue.Launches.Single().File);
    }

    private static readonly DType[] QkvTypes = [DType.F32, DType.F32, DType.F32, DType.F32, DType.F32, DType.F32, DType.I32, DType.F32];

    [Fact]
    public void QkvProjectionOnFewRowsIsOneGemvLaunchOverThreeProducts()
    {
        var queue = Dispatch(new QkvProjectionOp(1e-6f), DType.BF16,
            [[1, 1, 2048], [2048, 2048], [2048, 2048], [2048, 2048], [1, 22, 2048], [1, 22, 2048], [1], [2048]], QkvTypes);
        Assert.Equal(0, queue.Gemms);
        var launch = queue.Launches.Single();
        Assert.Equal(("gemv.cu", "gemv_rmsnorm_qkv_bf16_r1"), (launch.File, launch.Kernel));
        Assert.Equal((512u, 3u, 1u), launch.Grid); // 2048 columns, 4 per block; q, k and v
    }

    /// <summary>T5-XL's decoder layer shapes for <paramref name="rows"/> rows (d 2048, 32 heads, dff 5120, 22 slots, 40 memory keys).</summary>
    private static (int[][] Shapes, DType[] Types) T5XlLayer(int rows)
    {
        int[][] shapes = [[rows, 1, 2048], [2048], [2048, 2048], [2048, 2048], [2048, 2048], [2048, 2048], [rows, 22, 2048], [rows, 22, 2048],
            [1], [1, 32, 1, 22], [rows, 1, 1, 22], [2048], [2048, 2048], [2048, 2048], [rows, 40, 2048], [rows, 40, 2048], [rows, 1, 1, 40],
            [2048], [5120, 2048], [5120, 2048], [2048, 5120]];
        var types = shapes.Select(_ => DType.F32).ToArray();
        types[(int)T5DecoderLayerOp.Input.Position] = DType.I32;
        types[(int)T5DecoderLayerOp.Input.SelfMask] = types[(int)T5DecoderLayerOp.Input.CrossMask] = DType.U8;
        return (shapes, types);
    }

    [Theory]
    [InlineData(1, "decoder_layer_bf16_r1", 2496)] // (6144 + 2048 + 2048 + 2048 + 5120 + 2048) columns / 8 per block + 2 × 32 heads
    [InlineData(4, "decoder_layer_bf16_r4", 2688)] // the same columns + 2 × 32 heads × 4 rows
    public void A16BitT5XlLayerOnUpToFourRowsIsOneLaunch(int rows, string kernel, int blocks)
    {
        var (shapes, types) = T5XlLayer(rows);
        var queue = Dispatch(new T5DecoderLayerOp(32, 1e-6f, -1e10f), DType.BF16, shapes, types);
        Assert.Equal(0, queue.Gemms);
        var launch = queue.Launches.Single();
        Assert.Equal(("decoder_layer.cu", kernel), (launch.File, launch.Kernel));
        Assert.Equal(((uint)blocks, 1u, 1u), launch.Grid);
    }

    [Fact]
    public void ByDefaultOneRowRunsAsEightOpsAndBeamsAsOneLaunch()
    {
        var op = new T5DecoderLayerOp(32, 1e-6f, -1e10f);
        var (shapes, types) = T5XlLayer(1);
        Assert.Equal(8, Dispatch(op, DType.BF16, shapes, types, fusedLayerMinRows: 2).Launches.Count);
        (shapes, types) = T5XlLayer(4);
        Assert.Equal("decoder_layer.cu", Dispatch(op, DType.BF16, shapes, types, fusedLayerMinRows: 2).Launches.Single().File);
    }

    [Fact]
    public void TheLayerRunsAsItsEightOpsWhenSwitchedOffOrOnMoreRowsThanTheKernelServes()
    {
        var op = new T5DecoderLayerOp(32, 1e-6f, -1e10f);
        var (shapes, types) = T5XlLayer(1);
        var off = Dispatch(op, DType.BF16, shapes, types, fusedLayerMinRows: int.MaxValue);
        Assert.Equal(["gemv_rmsnorm_qkv_bf16_r1", "attention_decode_bf16", "gemv_bf16_r1", "gemv_rmsnorm_bf16_r1", "attention_decode_bf16",
            "gemv_bf16_r1", "gemv_rmsnorm_geglu_bf16_r1", "gemv_bf16_r1"], off.Launches.Select(l => l.Kernel));
        (shapes, types) = T5XlLayer(6);
        var wide = Dispatch(op, DType.BF16, shapes, types);
        Assert.DoesNotContain(wide.Launches, l => l.File == "decoder_layer.cu");
        Assert.Equal(8, wide.Launches.Count(l => l.File is "gemv.cu" or "attention_decode.cu"));
    }

    [Fact]
    public void QkvProjectionOnManyRowsIsTheNormOnceAGemmForEachAndWriteAtForTheCaches()
    {
        var queue = Dispatch(new QkvProjectionOp(1e-6f), DType.F32,
            [[12, 1, 40], [33, 40], [33, 40], [33, 40], [12, 5, 33], [12, 5, 33], [1], [40]], QkvTypes);
        Assert.Equal(3, queue.Gemms);
        Assert.Equal(["rms_norm.cu", "write_at.cu", "write_at.cu"], queue.Launches.Select(l => l.File));
    }

    [Fact]
    public void GitQkvProjectionWithBiasesIsOneGemvLaunchWithoutTheNorm()
    {
        var queue = Dispatch(new QkvProjectionOp(0f, HasNorm: false, HasBias: true), DType.BF16,
            [[4, 1, 768], [768, 768], [768, 768], [768, 768], [4, 30, 768], [4, 30, 768], [1], [768], [768], [768]],
            [DType.F32, DType.F32, DType.F32, DType.F32, DType.F32, DType.F32, DType.I32, DType.F32, DType.F32, DType.F32]);
        Assert.Equal(("gemv.cu", "gemv_qkv_bf16_r4", (192u, 3u, 1u)), queue.Launches.Select(l => (l.File, l.Kernel, l.Grid)).Single());
    }

    [Fact]
    public void RmsNormGeGluOnFewRowsIsOneGatedGemvLaunch()
    {
        var queue = Dispatch(new RmsNormGeGluOp(1e-6f), DType.BF16, [4, 1, 2048], [2048], [5120, 2048], [5120, 2048]);
        Assert.Equal(0, queue.Gemms);
        Assert.Equal(("gemv.cu", "gemv_rmsnorm_geglu_bf16_r4"), (queue.Launches.Single().File, queue.Launches.Single().Kernel));
    }

    [Fact]
    public void RmsNormGeGluOnManyRowsIsNormTwoGemmsAndGeGlu()
    {
        var queue = Dispatch(new RmsNormGeGluOp(1e-6f), DType.F32, [40, 64], [64], [24, 64], [24, 64]);
        Assert.Equal(2, queue.Gemms);
        Assert.Equal([("rms_norm.cu", "rms_norm_warp_f32"), ("swiglu.cu", "geglu_f32")], queue.Launches.Select(l => (l.File, l.Kernel)));
    }

    [Fact]
    public void GemmAttentionOverWindowsIsOneSoftmaxLaunch()
    {
        var queue = Dispatch(new AttentionOp(16, 0.125f), DType.BF16, [[4, 196, 1280], [4, 196, 1280], [4, 196, 1280]], [DType.F32, DType.F32, DType.F32],
            pointerArrays: false);
        Assert.Equal(8, queue.Gemms); // scores and probabilities · values per window
        var softmax = Assert.Single(queue.Launches);
        Assert.Equal(("attention_softmax.cu", (196u, 16u, 4u)), (softmax.File, softmax.Grid));
    }

    /// <summary>
    /// With pointer-array GEMMs the windows' scores and p·v are one GEMM each over 4·16 (window, head) matrices, and the
    /// addresses gemm_pointers.cu computes (its formula evaluated here on the arguments it is given) are exactly those the
    /// per-window strided GEMMs use for every window and head.
    /// </summary>
    [Fact]
    public void GemmAttentionOverWindowsWithPointerArraysIsTwoGemmsOverEveryWindowAndHead()
    {
        int[][] shapes = [[4, 196, 1280], [4, 196, 1280], [4, 196, 1280], [4, 16, 196, 28]];
        DType[] types = [DType.F32, DType.F32, DType.F32, DType.F32];
        var op = new AttentionOp(16, 0.125f, HasBias: true, BiasKeyGridRows: 14);
        var strided = Dispatch(op, DType.BF16, shapes, types, pointerArrays: false);
        var pointers = Dispatch(op, DType.BF16, shapes, types, pointerArrays: true);

        Assert.Equal(["gemm_pointers.cu", "attention_softmax.cu"], pointers.Launches.Select(l => l.File));
        Assert.Equal(2, pointers.Calls.Count);
        Assert.All(pointers.Calls, c => Assert.True(c.PointerArrays && c.Batch == 64));
        var addresses = EvaluateGemmPointers(pointers.LaunchArgs[0]);
        // Strided calls: window z's scores GEMM is call z, its p·v GEMM call 4 + z; head h is h strides on.
        for (int gemm = 0; gemm < 2; gemm++)
        for (int z = 0; z < 4; z++)
        for (int h = 0; h < 16; h++)
        {
            var c = strided.Calls[gemm * 4 + z];
            int t = z * 16 + h;
            long es = 2, cSize = gemm == 0 ? 4 : 2;
            Assert.Equal(c.A + (ulong)(h * c.StrideA * es), addresses[gemm * 3 + 0][t]);
            Assert.Equal(c.B + (ulong)(h * c.StrideB * es), addresses[gemm * 3 + 1][t]);
            Assert.Equal(c.C + (ulong)(h * c.StrideC * cSize), addresses[gemm * 3 + 2][t]);
            var p = pointers.Calls[gemm];
            Assert.Equal((c.M, c.N, c.K, c.Lda, c.Ldb, c.Ldc, c.Alpha, c.OutType), (p.M, p.N, p.K, p.Lda, p.Ldb, p.Ldc, p.Alpha, p.OutType));
        }
    }

    /// <summary>
    /// SAM's packed q | k | v: the pointer-array GEMMs read q, k and v in place (columns 0, C and 2C of each 3C-wide row,
    /// leading dimension 3C), with no split copies; attention.cu reads a short packed attention in place too.
    /// </summary>
    [Fact]
    public void PackedQkvIsReadInPlaceByTheGemmsAndSplitForTheShortKernel()
    {
        var op = new AttentionOp(16, 0.125f, HasBias: true, BiasKeyGridRows: 14, PackedQkv: true);
        var queue = Dispatch(op, DType.BF16, [[4, 196, 3840], [4, 16, 196, 28]], [DType.F32, DType.F32]);
        Assert.Equal(["gemm_pointers.cu", "attention_softmax.cu"], queue.Launches.Select(l => l.File));
        Assert.Equal((3840, 3840), (queue.Calls[0].Lda, queue.Calls[0].Ldb));
        Assert.Equal(3840, queue.Calls[1].Ldb);
        var addresses = EvaluateGemmPointers(queue.LaunchArgs[0]);
        ulong qkv = addresses[0][0];
        Assert.Equal((qkv + 1280 * 2, qkv + 2560 * 2), (addresses[1][0], addresses[4][0]));
        Assert.Equal(qkv + 196 * 3840 * 2 + 80 * 2, addresses[0][17]); // window 1, head 1

        var shortQueue = Dispatch(op with { HasBias = false, BiasKeyGridRows = 0 }, DType.BF16, [[2, 7, 240]], [DType.F32]);
        Assert.Equal("attention.cu", Assert.Single(shortQueue.Launches).File);
        Assert.Equal((240, 240, 240), RowStrides(shortQueue.LaunchArgs[0]));
    }

    /// <summary>
    /// T5-XL's encoder attention (40 tokens, 32 heads, packed q | k | v, bias and mask: 13 MFLOP) takes the cuBLAS path by
    /// default (the limit is 0 since run 11 measured it faster); with PIXELLLM_FUSED_ATTENTION_FLOPS at 16 MFLOP it is one
    /// attention.cu launch reading the packed rows in place, and EVA02's 577 tokens and the adapter's 576 image keys take
    /// cuBLAS whatever the limit.
    /// </summary>
    [Fact]
    public void ShortAttentionIsOneFusedLaunchUpToTheWorkLimit()
    {
        var op = new AttentionOp(32, 1f, HasBias: true, HasMask: true, MaskBias: -1e10f, PackedQkv: true);
        int[][] shapes = [[1, 40, 6144], [1, 32, 40, 40], [1, 1, 40, 40]];
        DType[] types = [DType.F32, DType.F32, DType.U8];

        var fused = Dispatch(op, DType.BF16, shapes, types, fusedAttentionMaxFlops: IDeviceQueue.FusedAttentionFlopsMeasured);
        Assert.Equal(0, fused.Gemms);
        Assert.Equal(("attention.cu", (10u, 32u, 1u)), (Assert.Single(fused.Launches).File, fused.Launches[0].Grid));
        Assert.Equal((6144, 6144, 6144), RowStrides(fused.LaunchArgs[0]));
        var (q, k, v) = (Pointer(fused.LaunchArgs[0], 0), Pointer(fused.LaunchArgs[0], 1), Pointer(fused.LaunchArgs[0], 2));
        Assert.Equal((q + 2048 * 2, q + 4096 * 2), (k, v));

        var cublas = Dispatch(op, DType.BF16, shapes, types);
        Assert.Equal(2, cublas.Gemms);
        Assert.Equal("attention_softmax.cu", Assert.Single(cublas.Launches).File);

        var eva = Dispatch(new AttentionOp(16, 0.125f, PackedQkv: true), DType.BF16, [[1, 577, 3072]], [DType.F32],
            fusedAttentionMaxFlops: IDeviceQueue.FusedAttentionFlopsMeasured);
        Assert.Equal(2, eva.Gemms);
        // The prompt adapter's tokens over the image (11 MFLOP, but 576 keys for one block to walk): cuBLAS.
        var adapter = Dispatch(new AttentionOp(8, 0.25f), DType.BF16, [[1, 37, 128], [1, 576, 128], [1, 576, 128]], [DType.F32, DType.F32, DType.F32],
            fusedAttentionMaxFlops: IDeviceQueue.FusedAttentionFlopsMeasured);
        Assert.Equal(2, adapter.Gemms);
    }

    /// <summary>attention.cu's q_row, k_row, v_row arguments (after q, k, v, bias, mask, y, heads, lq, lk, dim, vdim).</summary>
    private static (int Q, int K, int V) RowStrides((byte[] Data, int[] Offsets) args) =>
        (BitConverter.ToInt32(args.Data, args.Offsets[11]), BitConverter.ToInt32(args.Data, args.Offsets[12]), BitConverter.ToInt32(args.Data, args.Offsets[13]));

    private static ulong Pointer((byte[] Data, int[] Offsets) args, int index) => BitConverter.ToUInt64(args.Data, args.Offsets[index]);

    /// <summary>gemm_pointers.cu's formula on its recorded arguments: addresses[operand][t], t = z·heads + h.</summary>
    private static ulong[][] EvaluateGemmPointers((byte[] Data, int[] Offsets) args)
    {
        long Dim(int arg, int i) => BitConverter.ToInt64(args.Data, args.Offsets[arg] + 8 * i);
        int I32(int arg) => BitConverter.ToInt32(args.Data, args.Offsets[arg]);
        int operands = I32(4), heads = I32(5), count = I32(6);
        return Enumerable.Range(0, operands).Select(o => Enumerable.Range(0, heads * count)
            .Select(t => (ulong)(Dim(1, o) + t / heads * Dim(2, o) + t % heads * Dim(3, o))).ToArray()).ToArray();
    }

    [Fact]
    public void GeGluIsOneSwigluFileLaunch()
    {
        var queue = Dispatch(new GeGluOp(), DType.BF16, [1, 1, 5120], [1, 1, 5120]);
        Assert.Equal(("swiglu.cu", "geglu_bf16"), (queue.Launches.Single().File, queue.Launches.Single().Kernel));
    }

    [Fact]
    public void PointwiseConvolutionOfFewPixelsIsAGemv()
    {
        var queue = Dispatch(new Conv2dOp(1, 1, 0, 0, true), DType.F32, [1, 1, 3, 6], [4, 6, 1, 1], [4]);
        Assert.Equal(0, queue.Gemms);
        Assert.Equal("gemv_f32_r4", Assert.Single(queue.Launches).Kernel);
    }

    [Theory]
    [InlineData(1, 40, "attention_decode.cu")]
    [InlineData(4, 7, "attention_decode.cu")]
    [InlineData(1, CudaOps.DecodeAttentionMaxKeys, "attention_decode.cu")]
    [InlineData(5, 7, "attention.cu")]
    [InlineData(1, CudaOps.DecodeAttentionMaxKeys + 1, "attention.cu")]
    public void AttentionPicksTheDecodeKernelForFewQueryRows(int lq, int lk, string file)
    {
        var queue = Dispatch(new AttentionOp(2, 0.125f), DType.F32, [3, lq, 128], [3, lk, 128], [3, lk, 128]);

        var launch = Assert.Single(queue.Launches);
        Assert.Equal(file, launch.File);
        uint rowBlocks = file == "attention_decode.cu" ? (uint)lq : (uint)(lq + 3) / 4;
        Assert.Equal((rowBlocks, 2u, 3u), launch.Grid);
    }

    [Fact]
    public void CatalogDecodeCasesTakeTheNewKernels()
    {
        var decodeCases = OpCheckCases.All.Where(c => c.Label.StartsWith("gemv") || c.Label.StartsWith("decode")).ToArray();
        Assert.True(decodeCases.Length >= 10, $"only {decodeCases.Length} decode cases in the catalog");
        foreach (var c in decodeCases)
        {
            var queue = Dispatch(c.Op, DType.F32, c.Inputs.Select(i => i.Shape.ToArray()).ToArray(), c.Inputs.Select(i => i.DType).ToArray());
            if (c.Op is T5DecoderLayerOp or T5DecoderStackOp && c.Label.EndsWith("by ops"))
            {
                Assert.True(queue.Launches.Count >= 8 && queue.Launches.All(l => l.File != "decoder_layer.cu"), $"{c.Label}: {string.Join(", ", queue.Launches)}");
                continue;
            }
            var expected = c.Op switch { AttentionOp => "attention_decode.cu", T5DecoderLayerOp or T5DecoderStackOp => "decoder_layer.cu", _ => "gemv.cu" };
            Assert.True(queue.Launches.All(l => l.File == expected) && queue.Gemms == 0, $"{c.Label}: {string.Join(", ", queue.Launches)}");
        }
    }

    [Fact]
    public void TheAllHiddenDecodeCaseIsANaNRowOnTheReference()
    {
        var c = OpCheckCases.All.Single(c => c.Label == "decode all hidden");
        using var cpu = new CpuBackend();
        var output = BackendCheck.RunOne(cpu, c, c.MakeInputs(new Random(1234), v => v)).ToFloatArray();
        Assert.All(output, v => Assert.True(float.IsNaN(v)));
    }

    private static Recorder Dispatch(Op op, DType storage, params int[][] shapes) =>
        Dispatch(op, storage, shapes, shapes.Select(_ => DType.F32).ToArray());

    private static Recorder Dispatch(Op op, DType storage, int[][] shapes, DType[] types, bool biasEpilogue = false, bool pointerArrays = true,
        int fusedLayerMinRows = 1, long fusedAttentionMaxFlops = IDeviceQueue.DefaultFusedAttentionMaxFlops, bool residualEpilogue = true)
    {
        var graph = new Graph();
        var inputs = shapes.Select((s, i) => graph.Input($"x{i}", types[i], s)).ToArray();
        var output = graph.Apply(op, inputs);
        ulong next = 0x10000;
        DeviceTensor Fake(TensorDesc d)
        {
            var t = new DeviceTensor(next, d, d.DType == DType.F32 ? storage : d.DType);
            next += (ulong)Math.Max(256, d.ByteSize + 255) / 256 * 256;
            return t;
        }
        var x = inputs.Select(i => Fake(i.Desc)).ToArray();
        var recorder = new Recorder
        {
            GemmBiasEpilogue = biasEpilogue, PointerArrayGemm = pointerArrays, FusedDecoderLayerMinRows = fusedLayerMinRows,
            FusedAttentionMaxFlops = fusedAttentionMaxFlops, GemmResidualEpilogue = residualEpilogue,
        };
        new CudaOps(recorder).Dispatch(op, x, Fake(output.Desc));
        return recorder;
    }

    private sealed class Recorder : IDeviceQueue
    {
        public List<(string File, string Kernel, (uint, uint, uint) Grid)> Launches { get; } = [];
        public int Gemms { get; private set; }
        public List<ulong> GemmBiases { get; } = [];
        public List<float> GemmBetas { get; } = [];
        public int Copies { get; private set; }
        public bool GemmBiasEpilogue { get; init; }
        public bool GemmResidualEpilogue { get; init; } = true;
        public bool PointerArrayGemm { get; init; } = true;
        public int FusedDecoderLayerMinRows { get; init; } = 1;
        public long FusedAttentionMaxFlops { get; init; } = IDeviceQueue.DefaultFusedAttentionMaxFlops;
        public List<GemmCall> Calls { get; } = [];
        public List<(byte[] Data, int[] Offsets)> LaunchArgs { get; } = [];
        public ulong ErrorWord => 0x8;
        public void Launch(string file, string kernel, (uint X, uint Y, uint Z) grid, int block, KernelArgs args, int sharedBytes = 0)
        {
            Launches.Add((file, kernel, grid));
            LaunchArgs.Add((args.Data.ToArray(), Enumerable.Range(0, args.Count).Select(args.Offset).ToArray()));
        }
        public void Gemm(in GemmCall call)
        {
            Calls.Add(call);
            Gemms++;
            GemmBiases.Add(call.Bias);
            GemmBetas.Add(call.Beta);
        }
        public void Copy(ulong destination, ulong source, long bytes) => Copies++;
        public void Fill(ulong destination, byte value, long bytes) { }
        public ulong Scratch(int slot, long bytes) => 0x100000000UL * (ulong)(slot + 1);
    }
}
