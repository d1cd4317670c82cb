using System.Text.Json;
using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using static PixelLLM.Models.Verification.SamGoldenSupport;

namespace PixelLLM.Models.Verification;

/// <summary>sam_two_way_transformer: (B, C, H, W) image embedding and PE are flattened to token-major (B, H·W, C).</summary>
public sealed class TwoWayTransformerRunner : IGoldenRunner
{
    public string Component => "sam_two_way_transformer";

    public static TwoWayTransformerConfig ReadConfig(JsonElement c) => ReadConfig(Fields(c));

    public static TwoWayTransformerConfig ReadConfig(CaseJson c) =>
        new(c.Count("depth"), c.Size("embedding_dim"), c.Size("num_heads"), c.Size("mlp_dim"), c.Size("attention_downsample_rate"));

    public IReadOnlyDictionary<string, HostTensor> Run(GoldenCase golden, IBackend backend)
    {
        var cfg = ReadConfig(golden.Fields);
        var g = new Graph();
        var feeds = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        Tensor Tokens(string name)
        {
            var v = feeds[name] = golden.Input(name);
            return g.Reshape(NchwInput(g, name, v), v.Shape[0], v.Shape[2] * v.Shape[3], v.Shape[1]);
        }
        var image = Tokens("in.image_embedding");
        var pe = Tokens("in.image_pe");
        var points = feeds["in.point_embedding"] = golden.Input("in.point_embedding");
        var queries = g.Input("in.point_embedding", points.DType, points.Shape.ToArray());

        var (q, k) = TwoWayTransformer.Build(new ParamScope(g, golden.Weights), cfg, queries, image, pe);
        g.Output("out.queries", q);
        g.Output("out.keys", k);
        return GoldenGraph.Run(golden, g, backend, feeds);
    }
}
