using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Ops;

public enum ResizeKernel { Linear, Cubic }

/// <summary>
/// Separable resize with jax.image.resize semantics (spec §12.1) along the given axes:
/// sample s = (j + 0.5)·n_in/n_out − 0.5, kernel widened by max(n_in/n_out, 1) when Antialias,
/// weights renormalised, no edge clamping. Linear without antialias equals PyTorch bilinear (align_corners=False)
/// upsampling. Cubic is Keys with a = −0.5.
/// </summary>
public sealed record ResizeOp(int[] Axes, int[] Sizes, ResizeKernel Kernel, bool Antialias = true) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectDType(inputs[0], "x", DType.F32, DType.F16, DType.BF16);
        if (Axes.Length != Sizes.Length || Axes.Length == 0) throw Fail("axes and sizes must pair up");
        var shape = inputs[0].Shape;
        for (int i = 0; i < Axes.Length; i++)
        {
            if (Sizes[i] < 1) throw Fail($"size {Sizes[i]} must be positive");
            shape = shape.With(Axes[i], Sizes[i]);
        }
        return inputs[0] with { Shape = shape };
    }

    public bool Equals(ResizeOp? other) => other is not null && Axes.AsSpan().SequenceEqual(other.Axes)
        && Sizes.AsSpan().SequenceEqual(other.Sizes) && Kernel == other.Kernel && Antialias == other.Antialias;
    public override int GetHashCode() => HashCode.Combine(Axes.Length, Kernel, Antialias);
}

public static partial class GraphOps
{
    public static Tensor Resize(this Graph g, Tensor x, int[] axes, int[] sizes, ResizeKernel kernel, bool antialias = true) =>
        g.Apply(new ResizeOp(axes, sizes, kernel, antialias), x);
}
