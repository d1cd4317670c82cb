using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Backends.Cuda.Interop;
using PixelLLM.Backends.Cuda.Ops;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Tests;

/// <summary>
/// Which kernel the CUDA elementwise dispatch picks, without a GPU: the broadcast layout coalesced to the fewest dims,
/// 16-byte vector kernels exactly when every pointer and row stride allows them, the strided kernel otherwise.
/// </summary>
public class CudaElementwiseDispatchTests
{
    [Fact]
    public void SameShapeCollapsesToOneDim()
    {
        var (dims, strides) = StridedLayout.Coalesce([1, 24, 24, 1280], [0, 30720, 1280, 1], [0, 30720, 1280, 1]);
        Assert.Equal([24L * 24 * 1280], dims);
        Assert.Equal([1L], strides[0]);
        Assert.Equal([1L], strides[1]);
    }

    [Fact]
    public void BiasBroadcastCollapsesToRowsAndColumns()
    {
        var (dims, strides) = StridedLayout.Coalesce([2, 24, 1280], [30720, 1280, 1], [0, 0, 1]);
        Assert.Equal([48L, 1280], dims);
        Assert.Equal([1280L, 1], strides[0]);
        Assert.Equal([0L, 1], strides[1]);
    }

    [Fact]
    public void InterleavedBroadcastStaysStridedAndOneElementBecomesOneDim()
    {
        var (dims, strides) = StridedLayout.Coalesce([3, 4, 5], [5, 0, 1], [0, 5, 1]);
        Assert.Equal([3L, 4, 5], dims);
        Assert.Equal([5L, 0, 1], strides[0]);

        var (one, oneStrides) = StridedLayout.Coalesce([1, 1], [0, 0], [0, 0]);
        Assert.Equal([1L], one);
        Assert.Equal([0L], oneStrides[1]);
    }

    [Theory]
    [InlineData(new[] { 2, 3, 4, 8 }, new[] { 2, 3, 4, 8 }, 0x1000UL, "binary_rows_vec_f32")]
    [InlineData(new[] { 2, 3, 5, 7 }, new[] { 2, 3, 5, 7 }, 0x1000UL, "binary_rows_vec_f32")] // one row: a ragged tail is fine
    [InlineData(new[] { 2, 3, 4, 8 }, new[] { 2, 3, 4, 8 }, 0x1008UL, "binary_rows_f32")]     // b misaligned
    [InlineData(new[] { 5, 96 }, new[] { 96 }, 0x1000UL, "binary_rows_vec_f32")]
    [InlineData(new[] { 3, 67 }, new[] { 67 }, 0x1000UL, "binary_rows_f32")]                  // rows break 16-byte alignment
    [InlineData(new[] { 3, 1, 5 }, new[] { 4, 5 }, 0x1000UL, "binary_f32")]
    [InlineData(new[] { 6, 10 }, new[] { 10 }, 0x1000UL, "binary_f32")]                       // rows too short for a rows launch
    public void BinaryPicksTheRowKernelsWhenTheLayoutAllows(int[] aShape, int[] bShape, ulong bPtr, string expected)
    {
        var a = Tensor(0x10000, aShape);
        var b = Tensor(bPtr, bShape);
        var yShape = Broadcast.TryShape(a.Shape, b.Shape)!;
        var y = Tensor(0x20000, yShape.ToArray());
        var queue = new KernelNameQueue();

        new CudaOps(queue).Dispatch(new BinaryOp(BinaryKind.Add), [a, b], y);

        Assert.Equal([expected], queue.Kernels);
    }

    [Theory]
    [InlineData(24, 0x1000UL, "linear_bias_vec_f32")]
    [InlineData(13, 0x1000UL, "linear_bias_f32")]
    [InlineData(24, 0x1008UL, "linear_bias_f32")]
    public void LinearBiasVectorisesOnlyAlignedWholeVectorRows(int outFeatures, ulong biasPtr, string expected)
    {
        var queue = new KernelNameQueue();
        new CudaOps(queue).Dispatch(new LinearOp(true), [Tensor(0x10000, 12, 7), Tensor(0x20000, outFeatures, 7), Tensor(biasPtr, outFeatures)],
            Tensor(0x30000, 12, outFeatures)); // 12 rows: past the GEMV cut-off, so cuBLAS + the bias epilogue
        Assert.Equal([expected], queue.Kernels);
    }

    [Theory]
    [InlineData(64, 0x1000UL, "layer_norm_warp_f32")]
    [InlineData(2048, 0x1000UL, "layer_norm_warp_f32")]
    [InlineData(2056, 0x1000UL, "layer_norm_f32")] // wider than a warp holds
    [InlineData(37, 0x1000UL, "layer_norm_f32")]   // not whole vectors
    [InlineData(64, 0x1008UL, "layer_norm_f32")]   // weight misaligned
    public void LayerNormTakesAWarpPerRowOnlyForAlignedRowsUpTo2048(int cols, ulong weightPtr, string expected)
    {
        var queue = new KernelNameQueue();
        new CudaOps(queue).Dispatch(new LayerNormOp(1e-5f), [Tensor(0x10000, 13, cols), Tensor(weightPtr, cols), Tensor(0x30000, cols)],
            Tensor(0x40000, 13, cols));
        Assert.Equal([expected], queue.Kernels);
    }

    [Theory]
    [InlineData(40, "rms_norm_warp_f32")]
    [InlineData(42, "rms_norm_f32")]
    [InlineData(2048, "rms_norm_f32")] // three long rows: fewer than a block of warps, so a block per row
    public void RmsNormTakesAWarpPerRowForWholeVectorRows(int cols, string expected)
    {
        var queue = new KernelNameQueue();
        new CudaOps(queue).Dispatch(new RmsNormOp(1e-6f), [Tensor(0x10000, 3, cols), Tensor(0x20000, cols)], Tensor(0x30000, 3, cols));
        Assert.Equal([expected], queue.Kernels);
    }

    [Theory]
    [InlineData(16, 80, 0x10000UL, "copy_rows_b16")] // 64 floats from a 16-byte offset
    [InlineData(1, 70, 0x10000UL, "copy_rows_b4")]   // a 4-byte start offset
    [InlineData(16, 80, 0x10008UL, "copy_rows_b8")]  // an 8-byte-aligned view
    [InlineData(1, 4, 0x10000UL, "slice_b4")]        // a 12-byte run: per element
    public void SliceCopiesRowsInTheWidestUnitAlignmentAllows(int start, int end, ulong xPtr, string expected)
    {
        var queue = new KernelNameQueue();
        new CudaOps(queue).Dispatch(new SliceOp(2, start, end), [Tensor(xPtr, 4, 7, 96)], Tensor(0x40000, 4, 7, end - start));
        Assert.Equal([expected], queue.Kernels);
    }

    [Fact]
    public void WindowPartitionMovesWholePixelsInVectors()
    {
        var queue = new KernelNameQueue();
        new CudaOps(queue).Dispatch(new WindowPartitionOp(14), [Tensor(0x10000, 1, 24, 24, 1280)], Tensor(0x1000000, 4, 14, 14, 1280));
        Assert.Equal(["window_partition_b16"], queue.Kernels);
    }

    [Theory]
    [InlineData(0x20000UL, "window_partition_b16")] // SAM's qkv bias: aligned, whole vectors
    [InlineData(0x20004UL, "window_partition_b4")]  // a pad row on a 4-byte boundary narrows the copy unit
    public void APadRowIsPassedAndItsAlignmentCounts(ulong padPtr, string expected)
    {
        var queue = new KernelNameQueue();
        new CudaOps(queue).Dispatch(new WindowPartitionOp(14, HasPadRow: true), [Tensor(0x10000, 1, 24, 24, 3840), Tensor(padPtr, 3840)],
            Tensor(0x1000000, 4, 14, 14, 3840));
        Assert.Equal([expected], queue.Kernels);
        Assert.Equal(padPtr, BitConverter.ToUInt64(queue.Arguments.Single(), 8)); // x, then the pad row
    }

    [Fact]
    public void GroupedLinearIsOneStridedBatchedGemmOverTheGroups()
    {
        var queue = new KernelNameQueue();
        // The prompt adapter's shape: one prompt, 32 groups of 512 → 1024, bias after.
        new CudaOps(queue).Dispatch(new GroupedLinearOp(true), [Tensor(0x10000, 1, 32, 512), Tensor(0x100000, 32 * 1024, 512), Tensor(0x4000000, 32 * 1024)],
            Tensor(0x8000000, 1, 32, 1024));
        var call = queue.Gemms.Single();
        Assert.Equal((1, 1024, 512, 32), (call.M, call.N, call.K, call.Batch));
        Assert.Equal((512L, 1024L * 512, 1024L), (call.StrideA, call.StrideB, call.StrideC));
        Assert.Equal((32 * 512, 32 * 1024), (call.Lda, call.Ldc));
        Assert.Equal(["linear_bias_vec_f32"], queue.Kernels); // the bias on every (row, group) in one launch
    }

    private static DeviceTensor Tensor(ulong ptr, params int[] shape) => new(ptr, new TensorDesc(DType.F32, new Shape(shape)), DType.F32);

    private sealed class KernelNameQueue : IDeviceQueue
    {
        public List<string> Kernels { get; } = [];
        public List<byte[]> Arguments { get; } = [];
        public List<GemmCall> Gemms { get; } = [];
        public ulong ErrorWord => 0x8;
        public void Launch(string file, string kernel, (uint X, uint Y, uint Z) grid, int block, KernelArgs args, int sharedBytes = 0)
        {
            Kernels.Add(kernel);
            Arguments.Add(args.Data.ToArray());
        }
        public bool GemmBiasEpilogue => false;
        public void Gemm(in GemmCall call) => Gemms.Add(call);
        public void Copy(ulong destination, ulong source, long bytes) { }
        public void Fill(ulong destination, byte value, long bytes) { }
        public ulong Scratch(int slot, long bytes) => 0x100000000UL;
    }
}
