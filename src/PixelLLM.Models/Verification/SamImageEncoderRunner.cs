using System.Text.Json;
using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models.Verification;

/// <summary>
/// segment-anything <c>ImageEncoderViT</c> cases: in.image (B, 3, H, W) → out.image_embeddings (B, out_chans, Hg, Wg),
/// plus mid.patch_embed and mid.blocks.i (B, Hg, Wg, C). The NCHW layouts are permuted in the graph around our
/// channels-last encoder. The cases use torch SAM's module defaults: block LN eps 1e-5, neck eps 1e-6.
/// </summary>
public sealed class SamImageEncoderRunner : IGoldenRunner
{
    public string Component => "sam_image_encoder";

    public IReadOnlyDictionary<string, HostTensor> Run(GoldenCase golden, IBackend backend)
    {
        var cfg = ReadConfig(golden.Config);
        var image = golden.Input("in.image");
        if (image.Shape.Rank != 4) throw new ModelFileException($"{golden.Name}: in.image {image.Shape} must be (B, 3, H, W)");

        var g = new Graph();
        var nchw = g.Input("in.image", DType.F32, image.Shape.ToArray());
        var embeddings = SamImageEncoder.Build(new ParamScope(g, golden.Weights), cfg, g.Permute(nchw, 0, 2, 3, 1));
        g.Output("out.image_embeddings", g.Permute(embeddings, 0, 3, 1, 2));

        return GoldenGraph.Run(golden, g, backend, new Dictionary<string, HostTensor> { ["in.image"] = image.ToF32() });
    }

    /// <summary>The case's ImageEncoderViT arguments; eps fields are read when a case states them.</summary>
    public static SamImageEncoderConfig ReadConfig(JsonElement c)
    {
        try
        {
            return new SamImageEncoderConfig(
                EmbedDim: c.GetProperty("embed_dim").GetInt32(),
                Depth: c.GetProperty("depth").GetInt32(),
                NumHeads: c.GetProperty("num_heads").GetInt32(),
                PatchSize: c.GetProperty("patch_size").GetInt32(),
                OutChans: c.GetProperty("out_chans").GetInt32(),
                WindowSize: c.GetProperty("window_size").GetInt32(),
                GlobalAttnIndexes: [.. c.GetProperty("global_attn_indexes").EnumerateArray().Select(e => e.GetInt32())],
                MlpRatio: c.GetProperty("mlp_ratio").GetDouble(),
                LayerNormEps: c.TryGetProperty("layer_norm_eps", out var eps) ? eps.GetSingle() : 1e-5f,
                NeckLayerNormEps: c.TryGetProperty("neck_layer_norm_eps", out var neckEps) ? neckEps.GetSingle() : 1e-6f,
                UseAbsPos: !c.TryGetProperty("use_abs_pos", out var abs) || abs.GetBoolean(),
                UseRelPos: !c.TryGetProperty("use_rel_pos", out var rel) || rel.GetBoolean());
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new ModelFileException($"sam_image_encoder config: {e.Message}");
        }
    }
}
