namespace PixelLLM.Tests.Models;

/// <summary>
/// Float64 references for the two ways SAM tables get resized along one axis, written from their definitions:
/// jax.image.resize (spec §12.1) and torch F.interpolate(mode="linear", align_corners=False) without antialias.
/// </summary>
internal static class NaiveTableResize
{
    /// <summary>Resizes axis <paramref name="axis"/> of a row-major tensor; returns the data and the new shape.</summary>
    public static (double[] Data, int[] Shape) Axis(double[] x, int[] shape, int axis, int size, Func<int, int, double[,]> weights)
    {
        int outer = shape[..axis].Aggregate(1, (a, b) => a * b), inner = shape[(axis + 1)..].Aggregate(1, (a, b) => a * b);
        int n = shape[axis];
        var m = weights(n, size); // m[j, i]: weight of input i in output j
        var y = new double[outer * size * inner];
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < size; j++)
                for (int t = 0; t < inner; t++)
                {
                    double acc = 0;
                    for (int i = 0; i < n; i++) acc += m[j, i] * x[(o * n + i) * inner + t];
                    y[(o * size + j) * inner + t] = acc;
                }
        var newShape = (int[])shape.Clone();
        newShape[axis] = size;
        return (y, newShape);
    }

    /// <summary>jax.image.resize weights: scaled kernel taps at (j + ½)·n/size − ½, renormalised, not clamped.</summary>
    public static Func<int, int, double[,]> Jax(bool cubic, bool antialias) => (n, size) =>
    {
        double inv = (double)n / size, widen = antialias ? Math.Max(inv, 1) : 1;
        var m = new double[size, n];
        for (int j = 0; j < size; j++)
        {
            double s = (j + 0.5) * inv - 0.5, sum = 0;
            for (int i = 0; i < n; i++) sum += m[j, i] = Kernel(cubic, Math.Abs(s - i) / widen);
            bool inside = s >= -0.5 && s <= n - 0.5;
            for (int i = 0; i < n; i++) m[j, i] = inside && sum != 0 ? m[j, i] / sum : 0;
        }
        return m;
    };

    /// <summary>PyTorch linear interpolation: source clamped at 0, two taps, the upper one clamped to the last row.</summary>
    public static double[,] TorchLinear(int n, int size)
    {
        var m = new double[size, n];
        double scale = (double)n / size;
        for (int j = 0; j < size; j++)
        {
            double s = Math.Max((j + 0.5) * scale - 0.5, 0);
            int i0 = Math.Min((int)Math.Floor(s), n - 1), i1 = Math.Min(i0 + 1, n - 1);
            double frac = s - i0;
            m[j, i0] += 1 - frac;
            m[j, i1] += frac;
        }
        return m;
    }

    private static double Kernel(bool cubic, double x)
    {
        if (!cubic) return Math.Max(0, 1 - x);
        if (x < 1) return (1.5 * x - 2.5) * x * x + 1;
        if (x < 2) return ((-0.5 * x + 2.5) * x - 4) * x + 2;
        return 0;
    }
}
