using BenchmarkDotNet.Attributes;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Bench;

/// <summary>Multi-head attention of B sequences of L tokens, H heads of width D, through one AttentionOp.</summary>
public sealed record AttentionShape(int Batch, int Heads, int Length, int HeadDim) : IWorkload
{
    /// <summary>q·kᵀ and p·v: two products of L×L×D multiply-adds per head (softmax not counted).</summary>
    public double Flops => 2.0 * 2.0 * Batch * Heads * (double)Length * Length * HeadDim;
    public double Bytes => 0;
    public override string ToString() => $"B{Batch} H{Heads} L{Length} D{HeadDim}";
}

/// <summary>CPU attention throughput at SAM's windowed-attention size.</summary>
public class AttentionBenchmarks : GraphBenchmark
{
    public static IEnumerable<AttentionShape> Shapes => [new(1, 16, 576, 80)];

    [ParamsSource(nameof(Shapes))]
    public AttentionShape Shape { get; set; } = null!;

    protected override IReadOnlyDictionary<string, HostTensor> Build(Graph g, Random rng)
    {
        int width = Shape.Heads * Shape.HeadDim;
        var inputs = new Dictionary<string, HostTensor>();
        Tensor Input(string name)
        {
            inputs[name] = Random(rng, Shape.Batch, Shape.Length, width);
            return g.Input(name, DType.F32, Shape.Batch, Shape.Length, width);
        }
        var (q, k, v) = (Input("q"), Input("k"), Input("v"));
        g.Output("y", g.Attention(q, k, v, Shape.Heads, 1f / MathF.Sqrt(Shape.HeadDim)));
        return inputs;
    }

    [Benchmark]
    public void Attention() => RunGraph();
}
