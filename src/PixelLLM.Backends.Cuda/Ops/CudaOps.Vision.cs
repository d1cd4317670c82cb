using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>Vision-encoder ops: rope.cu, window_partition.cu, rel_pos_bias.cu, resize.cu.</summary>
internal sealed partial class CudaOps
{
    /// <summary>rel_pos_bias.cu's limit on D (the query in registers) and on Kh and Kw (PXL_REL_MAX).</summary>
    private const int RelPosMax = 256;

    /// <summary>Query tokens per block of rel_pos_bias.cu (REL_WARPS: one warp each).</summary>
    private const int RelPosWarps = 8;

    private void Rope(RopeOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        int width = y.Shape[2], rotated = op.Rotated(width);
        Elements("rope.cu", $"rope_{FloatSuffix(y, "Rope")}", y.Count / 2, Args().Ptr(x[0].Ptr).Ptr(x[1].Ptr).Ptr(x[2].Ptr).Ptr(y.Ptr)
            .I64(y.Count / 2).I32(y.Shape[1]).I32(width).I32(rotated).I32(rotated / op.NumHeads).I32(op.StartToken));
    }

    private void WindowPartition(WindowPartitionOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y) =>
        WindowRows(partition: true, x[0], y, x[0].Shape[1], x[0].Shape[2], op.Window, op.HasPadRow ? x[1] : null);

    private void WindowUnpartition(WindowUnpartitionOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y) =>
        WindowRows(partition: false, x[0], y, op.Height, op.Width, op.Window);

    private void RelPosBias(RelPosBiasOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        int dim = op.QueryWidth(x[0].Desc) / op.NumHeads;
        if (dim > RelPosMax || op.KeyH > RelPosMax || op.KeyW > RelPosMax)
            throw new BackendException($"CUDA RelPosBias: head dim {dim} or key grid {op.KeyH}×{op.KeyW} exceeds {RelPosMax}");
        var (hq, hk, ho) = RelPosScales(op.QueryH, op.KeyH);
        var (wq, wk, wo) = RelPosScales(op.QueryW, op.KeyW);
        long tokens = (long)x[0].Shape[0] * op.NumHeads * op.QueryH * op.QueryW;
        if (tokens == 0) return;
        int rowsH = x[1].Shape[0], rowsW = x[2].Shape[0];
        if (queue.StagedRelPos && RelPosTablesSharedBytes(dim, rowsH, rowsW) is var (pitch, shared) && shared > 0)
        {
            long tableBlocks = (tokens + RelPosWarps * RelPosTokensPerWarp - 1) / (RelPosWarps * RelPosTokensPerWarp);
            queue.Launch("rel_pos_bias.cu", $"rel_pos_bias_tables_{FloatSuffix(y, "RelPosBias")}", ((uint)tableBlocks, 1, 1), 32 * RelPosWarps,
                Args().Ptr(x[0].Ptr).Ptr(x[1].Ptr).Ptr(x[2].Ptr).Ptr(y.Ptr).I64(tokens).I32(op.NumHeads).I32(dim).I32(x[0].Shape[2]).I32(op.QueryH)
                    .I32(op.QueryW).I32(op.KeyH).I32(op.KeyW).I32(rowsH).I32(rowsW).I32(pitch).F32(hq).F32(hk).F32(ho).F32(wq).F32(wk).F32(wo),
                shared);
            return;
        }
        long blocks = (tokens + RelPosWarps - 1) / RelPosWarps;
        if (blocks > int.MaxValue) throw new BackendException($"CUDA RelPosBias: {tokens} query tokens exceed one grid");
        queue.Launch("rel_pos_bias.cu", $"rel_pos_bias_{FloatSuffix(y, "RelPosBias")}", ((uint)blocks, 1, 1), 32 * RelPosWarps,
            Args().Ptr(x[0].Ptr).Ptr(x[1].Ptr).Ptr(x[2].Ptr).Ptr(y.Ptr).I64(tokens).I32(op.NumHeads).I32(dim).I32(x[0].Shape[2]).I32(op.QueryH)
                .I32(op.QueryW).I32(op.KeyH).I32(op.KeyW).F32(hq).F32(hk).F32(ho).F32(wq).F32(wk).F32(wo));
    }

    /// <summary>Query tokens each warp of rel_pos_bias_tables takes in turn (REL_TOKENS_PER_WARP).</summary>
    private const int RelPosTokensPerWarp = 8;

    /// <summary>
    /// rel_pos_bias_tables' row pitch in floats (at least D, 4 mod 8, so eight lanes' 16-byte reads of consecutive rows
    /// hit distinct banks) and its shared memory: both tables and a query row per warp, as f32. (0, 0) where it does not
    /// serve the call: D not a multiple of 4, or more shared memory than a block may have.
    /// </summary>
    private (int Pitch, int Shared) RelPosTablesSharedBytes(int dim, int rowsH, int rowsW)
    {
        if (dim % 4 != 0) return (0, 0);
        int pitch = dim % 8 == 4 ? dim : dim + 4;
        long bytes = (long)(rowsH + rowsW + RelPosWarps) * pitch * sizeof(float);
        return bytes <= queue.Limits.SharedBytesPerBlock ? (pitch, (int)bytes) : (0, 0);
    }

    /// <summary>SAM's get_rel_pos index scales, rounded to fp32 exactly as the CPU backend's RelPosIndex.</summary>
    private static (float Query, float Key, float Offset) RelPosScales(int queries, int keys) =>
        ((float)Math.Max(keys / (double)queries, 1.0), (float)Math.Max(queries / (double)keys, 1.0),
         (float)((keys - 1) * Math.Max(queries / (double)keys, 1.0)));

    private void Resize(ResizeOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var dims = x[0].Shape.ToArray();
        var passes = new List<(int Axis, int Size)>();
        for (int i = 0; i < op.Axes.Length; i++)
        {
            int axis = x[0].Shape.NormalizeAxis(op.Axes[i]);
            if (dims[axis] != op.Sizes[i]) passes.Add((axis, op.Sizes[i]));
            dims[axis] = op.Sizes[i];
        }
        if (passes.Count == 0)
        {
            queue.Copy(y.Ptr, x[0].Ptr, y.Bytes);
            return;
        }
        string s = FloatSuffix(y, "Resize");
        dims = x[0].Shape.ToArray();
        ulong source = x[0].Ptr;
        for (int p = 0; p < passes.Count; p++)
        {
            var (axis, size) = passes[p];
            int inSize = dims[axis];
            dims[axis] = size;
            var shape = new Shape(dims);
            ulong target = p == passes.Count - 1 ? y.Ptr : queue.Scratch(1 + p % 2, shape.ElementCount * y.ElementSize);
            float inverseScale = (float)(1.0 / ((double)size / inSize));
            float kernelScale = op.Antialias ? MathF.Max(inverseScale, 1f) : 1f;
            float radius = (op.Kernel == ResizeKernel.Linear ? 1f : 2f) * kernelScale;
            Elements("resize.cu", $"resize_{s}", shape.ElementCount, Args().Ptr(source).Ptr(target).I64(shape.ElementCount).I32(inSize).I32(size)
                .I64(Math.Max(1, shape.Product(axis + 1, shape.Rank))).I32(op.Kernel == ResizeKernel.Linear ? 0 : 1)
                .F32(inverseScale).F32(kernelScale).F32(radius));
            source = target;
        }
    }
}
