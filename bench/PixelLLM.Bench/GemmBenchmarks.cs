using BenchmarkDotNet.Attributes;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Bench;

/// <summary>An (M×K)·(K×N) product as the model runs it: a Linear (weight stored (N, K)) or a plain MatMul.</summary>
public sealed record GemmShape(string Kind, int M, int K, int N) : IWorkload
{
    public double Flops => 2.0 * M * K * N;
    public double Bytes => 0;
    public override string ToString() => $"{Kind} {M}x{K}x{N}";
}

/// <summary>CPU GEMM throughput on shapes taken from the model.</summary>
public class GemmBenchmarks : GraphBenchmark
{
    public static IEnumerable<GemmShape> Shapes =>
    [
        new("Linear", 576, 1280, 1280),  // SAM-H attention qkv / projection, one 24×24 window
        new("Linear", 729, 1024, 4096),  // EVA02-L MLP up-projection, 27×27 tokens
        new("Linear", 1, 2048, 2048),    // decode step: a GEMV against a weight
        new("MatMul", 576, 1280, 1280),  // row-major B (no transpose)
    ];

    [ParamsSource(nameof(Shapes))]
    public GemmShape Shape { get; set; } = null!;

    protected override IReadOnlyDictionary<string, HostTensor> Build(Graph g, Random rng)
    {
        var a = g.Input("a", DType.F32, Shape.M, Shape.K);
        Tensor y = Shape.Kind == "Linear"
            ? g.Linear(a, g.Weight("w", Random(rng, Shape.N, Shape.K)))
            : g.MatMul(a, g.Weight("w", Random(rng, Shape.K, Shape.N)));
        g.Output("y", y);
        return new Dictionary<string, HostTensor> { ["a"] = Random(rng, Shape.M, Shape.K) };
    }

    [Benchmark]
    public void Gemm() => RunGraph();
}
