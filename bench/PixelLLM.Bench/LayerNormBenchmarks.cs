using BenchmarkDotNet.Attributes;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Bench;

/// <summary>LayerNorm over the last dim of a (Rows, Width) activation, with weight and bias.</summary>
public sealed record LayerNormShape(int Rows, int Width) : IWorkload
{
    public double Flops => 0;

    /// <summary>x read once, y written once (the weight and bias stay in cache).</summary>
    public double Bytes => 2.0 * Rows * Width * sizeof(float);

    public override string ToString() => $"{Rows}x{Width}";
}

/// <summary>CPU LayerNorm bandwidth at EVA02-L's token count and width.</summary>
public class LayerNormBenchmarks : GraphBenchmark
{
    public static IEnumerable<LayerNormShape> Shapes => [new(729, 1024)];

    [ParamsSource(nameof(Shapes))]
    public LayerNormShape Shape { get; set; } = null!;

    protected override IReadOnlyDictionary<string, HostTensor> Build(Graph g, Random rng)
    {
        var x = g.Input("x", DType.F32, Shape.Rows, Shape.Width);
        var weight = g.Weight("weight", Random(rng, Shape.Width));
        var bias = g.Weight("bias", Random(rng, Shape.Width));
        g.Output("y", g.LayerNorm(x, weight, bias, 1e-6f));
        return new Dictionary<string, HostTensor> { ["x"] = Random(rng, Shape.Rows, Shape.Width) };
    }

    [Benchmark]
    public void LayerNorm() => RunGraph();
}
