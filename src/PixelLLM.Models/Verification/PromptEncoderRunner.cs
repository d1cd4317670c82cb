using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using static PixelLLM.Models.Verification.SamGoldenSupport;

namespace PixelLLM.Models.Verification;

/// <summary>
/// sam_prompt_encoder: five forward calls (points only, boxes only, points + boxes, points + masks, masks only) on the
/// same inputs, plus get_dense_pe(). Dense outputs are compared in the golden's (B, C, He, We) layout.
/// </summary>
public sealed class PromptEncoderRunner : IGoldenRunner
{
    public string Component => "sam_prompt_encoder";

    private sealed record Call(string Name, bool Points, bool Boxes, bool Masks);

    private static readonly Call[] Calls =
    [
        new("points_only", true, false, false), new("boxes_only", false, true, false), new("points_boxes", true, true, false),
        new("points_masks", true, false, true), new("masks_only", false, false, true),
    ];

    public static PromptEncoderConfig ReadConfig(System.Text.Json.JsonElement c) => ReadConfig(Fields(c));

    public static PromptEncoderConfig ReadConfig(CaseJson c)
    {
        var (eh, ew) = c.SizePair("image_embedding_size");
        var (ih, iw) = c.SizePair("input_image_size");
        return new PromptEncoderConfig(c.Size("embed_dim"), eh, ew, ih, iw, c.Size("mask_in_chans"));
    }

    public IReadOnlyDictionary<string, HostTensor> Run(GoldenCase golden, IBackend backend)
    {
        var cfg = ReadConfig(golden.Fields);
        var g = new Graph();
        var p = new ParamScope(g, golden.Weights);
        var feeds = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        var results = new Dictionary<string, HostTensor>(StringComparer.Ordinal);

        var maskIn = golden.Input("in.mask_inputs");
        feeds["in.mask_inputs"] = maskIn;
        // (B, 1, H, W) and (B, H, W, 1) hold the same bytes.
        var mask = g.Reshape(g.Input("in.mask_inputs", maskIn.DType, maskIn.Shape.ToArray()), maskIn.Shape[0], maskIn.Shape[2], maskIn.Shape[3], 1);
        int batch = maskIn.Shape[0];

        foreach (var call in Calls)
        {
            var sparse = PromptEncoder.EncodeSparse(p, cfg,
                call.Points ? golden.Input("in.point_coords") : null, call.Points ? golden.Input("in.point_labels") : null,
                call.Boxes ? golden.Input("in.boxes") : null);
            if (sparse is null)
                results[$"out.{call.Name}.sparse"] = HostTensor.Zeros(DType.F32, batch, 0, cfg.EmbedDim);   // the reference's empty token list
            else
            {
                var features = g.Input($"{call.Name}.features", DType.F32, sparse.Features.Shape.ToArray());
                var slots = g.Input($"{call.Name}.slots", DType.I32, sparse.Slots.Shape.ToArray());
                feeds[features.Name!] = sparse.Features;
                feeds[slots.Name!] = sparse.Slots;
                g.Output($"out.{call.Name}.sparse", PromptEncoder.SparseEmbeddings(p, cfg, features, slots));
            }
            var dense = call.Masks ? PromptEncoder.MaskEmbeddings(p, cfg, mask) : Materialize(g, PromptEncoder.NoMaskEmbedding(p, cfg), batch, cfg);
            NchwOutput(g, $"out.{call.Name}.dense", dense);
        }
        NchwOutput(g, "out.dense_pe", PromptEncoder.DensePositionalEncoding(p, cfg));

        foreach (var (name, t) in GoldenGraph.Run(golden, g, backend, feeds)) results[name] = t;
        return results;
    }

    /// <summary>The broadcast no-mask embedding written out at full (B, He, We, C) size, as the reference's expand reads.</summary>
    private static Tensor Materialize(Graph g, Tensor noMask, int batch, PromptEncoderConfig cfg)
    {
        var name = $"aux.zeros.{batch}x{cfg.EmbeddingHeight}x{cfg.EmbeddingWidth}x1";
        if (!g.TryGet(name, out var zeros)) zeros = g.Weight(name, HostTensor.Zeros(DType.F32, batch, cfg.EmbeddingHeight, cfg.EmbeddingWidth, 1));
        return g.Add(noMask, zeros);
    }
}
