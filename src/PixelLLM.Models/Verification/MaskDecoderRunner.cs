using System.Text.Json;
using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using static PixelLLM.Models.Verification.SamGoldenSupport;

namespace PixelLLM.Models.Verification;

/// <summary>sam_mask_decoder: one decoder graph, its outputs selected three ways (multimask, single, all).</summary>
public sealed class MaskDecoderRunner : IGoldenRunner
{
    public string Component => "sam_mask_decoder";

    public static MaskDecoderConfig ReadConfig(JsonElement c) => ReadConfig(Fields(c));

    public static MaskDecoderConfig ReadConfig(CaseJson c) =>
        new(c.Size("transformer_dim"), TwoWayTransformerRunner.ReadConfig(c.Object("transformer")), c.Size("num_multimask_outputs"), c.Size("iou_head_depth"));

    public IReadOnlyDictionary<string, HostTensor> Run(GoldenCase golden, IBackend backend)
    {
        var cfg = ReadConfig(golden.Fields);
        var g = new Graph();
        var feeds = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        Tensor Nhwc(string name) => NchwInput(g, name, feeds[name] = golden.Input(name));
        var image = Nhwc("in.image_embeddings");
        var pe = Nhwc("in.image_pe");
        var dense = Nhwc("in.dense_prompt_embeddings");
        var sparseValue = feeds["in.sparse_prompt_embeddings"] = golden.Input("in.sparse_prompt_embeddings");
        var sparse = g.Input("in.sparse_prompt_embeddings", sparseValue.DType, sparseValue.Shape.ToArray());

        var all = MaskDecoder.Build(new ParamScope(g, golden.Weights), cfg, image, pe, sparse, dense, sparseValue.Shape[0]);
        foreach (var (selection, name) in new[] { (MaskSelection.Multimask, "multimask"), (MaskSelection.Single, "single"), (MaskSelection.All, "all") })
        {
            var (masks, iou) = MaskDecoder.Select(g, all, selection);
            g.Output($"out.{name}.masks", masks);
            g.Output($"out.{name}.iou_pred", iou);
        }
        return GoldenGraph.Run(golden, g, backend, feeds);
    }
}
