using PixelLLM.Backends.Cuda.Device;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>The one-warp-per-row launches of layer_norm.cu and rms_norm.cu (layer_norm_warp_*, rms_norm_warp_*).</summary>
internal sealed partial class CudaOps
{
    /// <summary>The widest row a warp holds in registers (PXL_WARP_ROW_MAX in the kernels).</summary>
    private const int WarpRowMax = 2048;

    /// <summary>Rows per block of the warp-per-row kernels.</summary>
    private const int WarpRowsPerBlock = 8;

    /// <summary>
    /// Whether rows of <paramref name="cols"/> elements fit the warp-per-row kernels: at most <see cref="WarpRowMax"/>
    /// wide, whole 16-byte vectors, and every pointer (0 for an absent weight or bias) 16-byte aligned. Fewer than a
    /// block of long rows (the decode step's one to four 2048-wide rows) stay on the block-per-row kernel: on the H100
    /// one warp took 9 µs for a 2048-wide row where a block took 5.5 µs.
    /// </summary>
    private static bool FitsWarpRows(DeviceTensor y, int cols, params ReadOnlySpan<ulong> pointers)
    {
        if (y.Count / cols < WarpRowsPerBlock && cols > 256) return false;
        if (cols > WarpRowMax || cols % (16 / y.ElementSize) != 0 || y.Ptr % 16 != 0) return false;
        foreach (var p in pointers) if (p % 16 != 0) return false;
        return true;
    }

    /// <summary>Eight warps (rows) per block; the kernels stride over rows past the grid.</summary>
    private void WarpRows(string file, string kernel, long rows, KernelArgs a)
    {
        if (rows <= 0) return;
        uint blocks = (uint)Math.Clamp((rows + WarpRowsPerBlock - 1) / WarpRowsPerBlock, 1, 1 << 20);
        queue.Launch(file, kernel, (blocks, 1, 1), WarpRowsPerBlock * 32, a);
    }
}
