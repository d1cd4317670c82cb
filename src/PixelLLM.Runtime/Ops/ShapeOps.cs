using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Ops;

/// <summary>Reinterprets the shape (one dim may be −1); a view of the input, no copy.</summary>
public sealed record ReshapeOp(int[] NewShape) : Op
{
    public override bool IsView => true;

    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 1);
        var dims = (int[])NewShape.Clone();
        long known = 1; int infer = -1;
        for (int i = 0; i < dims.Length; i++)
        {
            if (dims[i] == -1) { if (infer >= 0) throw Fail("more than one -1"); infer = i; }
            else known *= dims[i];
        }
        long total = inputs[0].ElementCount;
        if (infer >= 0)
        {
            if (known == 0 || total % known != 0) throw Fail($"cannot reshape {inputs[0].Shape} to ({string.Join(", ", NewShape)})");
            dims[infer] = (int)(total / known);
        }
        var shape = new Shape(dims);
        if (shape.ElementCount != total) throw Fail($"cannot reshape {inputs[0].Shape} to {shape}");
        return inputs[0] with { Shape = shape };
    }

    public bool Equals(ReshapeOp? other) => other is not null && NewShape.AsSpan().SequenceEqual(other.NewShape);
    public override int GetHashCode() => NewShape.Length;
}

/// <summary>Reorders dims: out dim i = input dim Perm[i].</summary>
public sealed record PermuteOp(int[] Perm) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 1);
        var s = inputs[0].Shape;
        if (Perm.Length != s.Rank || Perm.Order().Select((p, i) => p == i).Any(ok => !ok))
            throw Fail($"({string.Join(", ", Perm)}) is not a permutation of rank {s.Rank}");
        return inputs[0] with { Shape = new Shape(Perm.Select(p => s[p]).ToArray()) };
    }

    public bool Equals(PermuteOp? other) => other is not null && Perm.AsSpan().SequenceEqual(other.Perm);
    public override int GetHashCode() => Perm.Length;
}

/// <summary>Elements Start, Start+Step, … below End along one axis (End clamped to the dim).</summary>
public sealed record SliceOp(int Axis, int Start, int End, int Step = 1) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 1);
        var s = inputs[0].Shape;
        int a = s.NormalizeAxis(Axis);
        int end = Math.Min(End, s[a]);
        if (Start < 0 || Step < 1 || Start > end) throw Fail($"slice [{Start}:{End}:{Step}] invalid for dim {s[a]} of {s}");
        return inputs[0] with { Shape = s.With(a, (end - Start + Step - 1) / Step) };
    }
}

/// <summary>Joins inputs along one axis; all other dims equal.</summary>
public sealed record ConcatOp(int Axis) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        if (inputs.Count < 1) throw Fail("needs at least one input");
        var first = inputs[0];
        int a = first.Shape.NormalizeAxis(Axis);
        int total = 0;
        foreach (var t in inputs)
        {
            if (t.DType != first.DType || t.Shape.Rank != first.Shape.Rank) throw Fail($"{t} does not match {first}");
            for (int i = 0; i < t.Shape.Rank; i++)
                if (i != a && t.Shape[i] != first.Shape[i]) throw Fail($"{t.Shape} does not match {first.Shape} outside axis {a}");
            total += t.Shape[a];
        }
        return first with { Shape = first.Shape.With(a, total) };
    }
}

public static partial class GraphOps
{
    public static Tensor Reshape(this Graph g, Tensor x, params int[] shape) => g.Apply(new ReshapeOp(shape), x);
    public static Tensor Permute(this Graph g, Tensor x, params int[] perm) => g.Apply(new PermuteOp(perm), x);
    public static Tensor Slice(this Graph g, Tensor x, int axis, int start, int end, int step = 1) => g.Apply(new SliceOp(axis, start, end, step), x);
    public static Tensor Concat(this Graph g, int axis, params Tensor[] xs) => g.Apply(new ConcatOp(axis), xs);
}
