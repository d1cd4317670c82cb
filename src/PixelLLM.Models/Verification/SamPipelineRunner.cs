using System.Text.Json;
using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using static PixelLLM.Models.Verification.SamGoldenSupport;

namespace PixelLLM.Models.Verification;

/// <summary>
/// sam_pipeline: Sam.forward end to end over a list of images, each with its own prompts (in.&lt;i&gt;.*). Images arrive
/// 3×H×W and are permuted to channels-last in the graph; masks are the fetched logits thresholded on the host.
/// </summary>
public sealed class SamPipelineRunner : IGoldenRunner
{
    public string Component => "sam_pipeline";

    public static SamConfig ReadConfig(JsonElement c) => ReadConfig(Fields(c));

    public static SamConfig ReadConfig(CaseJson c)
    {
        var encoder = SamImageEncoderRunner.ReadConfig(c.Object("encoder"));
        int imageSize = c.Object("encoder").Size("img_size"), grid = imageSize / encoder.PatchSize, dim = encoder.OutChans;
        var transformer = TwoWayTransformerRunner.ReadConfig(c.Object("transformer"));
        // Sam's builder fixes num_multimask_outputs 3 and iou_head_depth 3; the case states only the IoU head width.
        var decoder = new MaskDecoderConfig(dim, transformer);
        var prompt = new PromptEncoderConfig(dim, grid, grid, imageSize, imageSize, c.Size("mask_in_chans"));
        return new SamConfig(encoder, imageSize, prompt, decoder, SamConfig.DefaultPixelMean, SamConfig.DefaultPixelStd);
    }

    public IReadOnlyDictionary<string, HostTensor> Run(GoldenCase golden, IBackend backend)
    {
        var cfg = ReadConfig(golden.Fields);
        int count = golden.Fields.Length("images");
        bool multimask = golden.Fields.Flag("multimask_output");
        var g = new Graph();
        var p = new ParamScope(g, golden.Weights);
        var prompt = p.Sub("prompt_encoder");
        var feeds = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        HostTensor? Optional(string name) => golden.Has(name) ? golden.Input(name) : null;

        var images = new List<SamImageInputs>();
        for (int i = 0; i < count; i++)
        {
            string at = $"in.{i}.";
            var pixels = feeds[at + "image"] = golden.Input(at + "image");
            var image = g.Permute(g.Input(at + "image", DType.F32, pixels.Shape.ToArray()), 1, 2, 0);
            var original = golden.Input(at + "original_size").AsSpan<long>();
            var sparse = PromptEncoder.EncodeSparse(prompt, cfg.Prompt, Optional(at + "point_coords"), Optional(at + "point_labels"), Optional(at + "boxes"));
            Tensor? features = null, slots = null, mask = null;
            if (sparse is not null)
            {
                features = g.Input(at + "sparse_features", DType.F32, sparse.Features.Shape.ToArray());
                slots = g.Input(at + "sparse_slots", DType.I32, sparse.Slots.Shape.ToArray());
                feeds[features.Name!] = sparse.Features;
                feeds[slots.Name!] = sparse.Slots;
            }
            var maskValue = Optional(at + "mask_inputs");
            if (maskValue is not null)
            {
                feeds[at + "mask_inputs"] = maskValue;
                // (P, 1, H, W) and (P, H, W, 1) hold the same bytes.
                mask = g.Reshape(g.Input(at + "mask_inputs", DType.F32, maskValue.Shape.ToArray()), maskValue.Shape[0], maskValue.Shape[2], maskValue.Shape[3], 1);
            }
            int prompts = sparse?.Batch ?? maskValue?.Shape[0] ?? 1;
            images.Add(new SamImageInputs(image, (int)original[0], (int)original[1], prompts, features, slots, mask));
        }

        var (preprocessed, embeddings, outputs) = SamPipeline.Build(p, cfg, images, multimask);
        NchwOutput(g, "mid.preprocessed", preprocessed);
        NchwOutput(g, "mid.image_embeddings", embeddings);
        for (int i = 0; i < count; i++)
        {
            g.Output($"out.{i}.mask_logits", outputs[i].MaskLogits);
            g.Output($"out.{i}.iou_predictions", outputs[i].IouPredictions);
            g.Output($"out.{i}.low_res_logits", outputs[i].LowResLogits);
        }
        var results = GoldenGraph.Run(golden, g, backend, feeds);
        for (int i = 0; i < count; i++)
            results[$"out.{i}.masks"] = SamPipeline.Threshold(results[$"out.{i}.mask_logits"], cfg.MaskThreshold);
        return results;
    }
}
