namespace PixelLLM.Runtime;

/// <summary>An immutable row-major tensor shape.</summary>
public sealed class Shape : IEquatable<Shape>
{
    private readonly int[] dims;

    public Shape(params int[] dims)
    {
        foreach (var d in dims)
            if (d < 0) throw new ArgumentException($"shape ({string.Join(", ", dims)}) has a negative dimension");
        this.dims = (int[])dims.Clone();
    }

    public static Shape Scalar { get; } = new();
    public int Rank => dims.Length;
    public int this[int axis] => dims[axis < 0 ? axis + dims.Length : axis];
    public ReadOnlySpan<int> Dims => dims;
    public int[] ToArray() => (int[])dims.Clone();

    public long ElementCount
    {
        get { long n = 1; foreach (var d in dims) n *= d; return n; }
    }

    /// <summary>Product of dims in [from, to).</summary>
    public long Product(int from, int to)
    {
        long n = 1;
        for (int i = from; i < to; i++) n *= dims[i];
        return n;
    }

    /// <summary>Contiguous row-major strides in elements.</summary>
    public long[] Strides()
    {
        var s = new long[dims.Length];
        long acc = 1;
        for (int i = dims.Length - 1; i >= 0; i--) { s[i] = acc; acc *= dims[i]; }
        return s;
    }

    public int NormalizeAxis(int axis)
    {
        int a = axis < 0 ? axis + Rank : axis;
        if (a < 0 || a >= Rank) throw new ArgumentOutOfRangeException(nameof(axis), $"axis {axis} out of range for shape {this}");
        return a;
    }

    public Shape With(int axis, int size)
    {
        var d = ToArray();
        d[NormalizeAxis(axis)] = size;
        return new Shape(d);
    }

    public bool Equals(Shape? other) => other is not null && dims.AsSpan().SequenceEqual(other.dims);
    public override bool Equals(object? obj) => Equals(obj as Shape);
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var d in dims) h.Add(d);
        return h.ToHashCode();
    }
    public override string ToString() => "(" + string.Join(", ", dims) + ")";
    public static bool operator ==(Shape? a, Shape? b) => a is null ? b is null : a.Equals(b);
    public static bool operator !=(Shape? a, Shape? b) => !(a == b);
}

/// <summary>The dtype and shape of a tensor; what a graph knows before any data exists.</summary>
public sealed record TensorDesc(DType DType, Shape Shape)
{
    public long ElementCount => Shape.ElementCount;
    public long ByteSize => Shape.ElementCount * DType.SizeOf();
    public override string ToString() => $"{DType}{Shape}";

    /// <summary>Operands a <see cref="List"/> names: a decoder stack has hundreds, and its first layer's say enough.</summary>
    internal const int ListedAtMost = 24;

    /// <summary>The descriptions space-separated, the first <see cref="ListedAtMost"/> of them and then how many there are.</summary>
    internal static string List(IReadOnlyCollection<TensorDesc> descs) =>
        string.Join(" ", descs.Take(ListedAtMost)) + (descs.Count > ListedAtMost ? $" … ({descs.Count} operands)" : "");
}
