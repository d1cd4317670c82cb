using BenchmarkDotNet.Attributes;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Bench;

/// <summary>Multi-head attention of B sequences of Lq queries over Lk keys, H heads of width D, through one AttentionOp.</summary>
public sealed record AttentionShape(int Batch, int Heads, int Queries, int Keys, int HeadDim) : IWorkload
{
    /// <summary>q·kᵀ and p·v: two products of Lq×Lk×D multiply-adds per head (softmax not counted).</summary>
    public double Flops => 2.0 * 2.0 * Batch * Heads * (double)Queries * Keys * HeadDim;
    public double Bytes => 0;
    public override string ToString() => $"B{Batch} H{Heads} Lq{Queries} Lk{Keys} D{HeadDim}";
}

/// <summary>
/// CPU attention throughput at the model's sizes: SAM's global blocks (576 tokens, D 80) and its 14×14 windows
/// (4 windows of 196), EVA02-L (730 tokens, D 64), and the prompt adapter's cross attentions (729 image tokens and
/// 37 prompt tokens, 8 heads of 32).
/// </summary>
public class AttentionBenchmarks : GraphBenchmark
{
    public static IEnumerable<AttentionShape> Shapes =>
        [new(1, 16, 576, 576, 80), new(4, 16, 196, 196, 80), new(1, 16, 730, 730, 64), new(1, 8, 729, 37, 32), new(1, 8, 37, 729, 32)];

    [ParamsSource(nameof(Shapes))]
    public AttentionShape Shape { get; set; } = null!;

    protected override IReadOnlyDictionary<string, HostTensor> Build(Graph g, Random rng)
    {
        int width = Shape.Heads * Shape.HeadDim;
        var inputs = new Dictionary<string, HostTensor>();
        Tensor Input(string name, int length)
        {
            inputs[name] = Random(rng, Shape.Batch, length, width);
            return g.Input(name, DType.F32, Shape.Batch, length, width);
        }
        var (q, k, v) = (Input("q", Shape.Queries), Input("k", Shape.Keys), Input("v", Shape.Keys));
        g.Output("y", g.Attention(q, k, v, Shape.Heads, 1f / MathF.Sqrt(Shape.HeadDim)));
        return inputs;
    }

    [Benchmark]
    public void Attention() => RunGraph();
}
