using PixelLLM.Backends.Cpu;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Tests.Support;

/// <summary>Runs single ops through the real path (graph → plan → executor → CPU backend) and compares results.</summary>
internal static class OpHarness
{
    /// <summary>Applies <paramref name="op"/> to graph inputs holding <paramref name="inputs"/> and returns the output.</summary>
    public static HostTensor Run(Op op, params HostTensor[] inputs)
    {
        var g = new Graph();
        var xs = inputs.Select((t, i) => g.Input($"x{i}", t.DType, t.Shape.ToArray())).ToArray();
        g.Output("y", g.Apply(op, xs));
        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        for (int i = 0; i < inputs.Length; i++) exec.SetInput($"x{i}", inputs[i]);
        exec.Run();
        return exec.Fetch("y");
    }

    public static HostTensor Random(Random rng, int[] shape, float scale = 1f)
    {
        var n = (int)new Shape(shape).ElementCount;
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return HostTensor.FromArray(v, shape);
    }

    public static double[] AsDoubles(HostTensor t) => t.ToFloatArray().Select(f => (double)f).ToArray();

    /// <summary>Columns [start, start + count) of the last dim of an f32 tensor, copied: one operand of a packed row.</summary>
    public static HostTensor Columns(HostTensor t, int start, int count)
    {
        var all = t.ToFloatArray();
        int width = t.Shape[-1], rows = all.Length / width;
        var values = new float[rows * count];
        for (int r = 0; r < rows; r++) Array.Copy(all, r * width + start, values, r * count, count);
        var dims = t.Shape.ToArray();
        dims[^1] = count;
        return HostTensor.FromArray(values, dims);
    }

    /// <summary>|a − e| ≤ atol + rtol·|e| everywhere; the message names the first bad index.</summary>
    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double atol = 1e-4, double rtol = 1e-4, string what = "")
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            if (!(Math.Abs(a - e) <= atol + rtol * Math.Abs(e)))
                Assert.Fail($"{what}[{i}]: expected {e}, got {a} (atol {atol}, rtol {rtol})");
        }
    }

    public static void AssertClose(double[] expected, HostTensor actual, double atol = 1e-4, double rtol = 1e-4, string what = "") =>
        AssertClose(expected, actual.ToFloatArray(), atol, rtol, what);
}
