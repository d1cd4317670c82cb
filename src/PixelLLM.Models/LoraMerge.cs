using System.Numerics.Tensors;
using PixelLLM.Runtime;

namespace PixelLLM.Models;

/// <summary>
/// Folds a LoRA adapter into its base kernel once at load: W' = W + scale · A·B with Flax layouts
/// W (in, out), A = kernel_left_lora (in, r), B = kernel_right_lora (r, out). PixelLLM uses scale 2 directly (no 1/r).
/// </summary>
public static class LoraMerge
{
    public static HostTensor MergeKernel(HostTensor kernel, HostTensor left, HostTensor right, float scale, string name = "kernel")
    {
        if (kernel.Shape.Rank != 2 || left.Shape.Rank != 2 || right.Shape.Rank != 2
            || left.Shape[0] != kernel.Shape[0] || right.Shape[1] != kernel.Shape[1] || left.Shape[1] != right.Shape[0])
            throw new ModelFileException($"{name}: LoRA shapes do not fit: kernel {kernel.Shape}, left {left.Shape}, right {right.Shape} (expected (in, out), (in, r), (r, out))");
        int rows = kernel.Shape[0], cols = kernel.Shape[1], rank = left.Shape[1];
        var merged = kernel.ToFloatArray();
        var a = left.ToFloatArray();
        var b = right.ToFloatArray();
        Parallel.For(0, rows, i =>
        {
            var row = merged.AsSpan(i * cols, cols);
            for (int r = 0; r < rank; r++)
                TensorPrimitives.MultiplyAdd(b.AsSpan(r * cols, cols), scale * a[i * rank + r], row, row);
        });
        return HostTensor.FromArray(merged, rows, cols);
    }
}
