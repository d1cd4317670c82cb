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
        var cfg = ReadConfig(golden.Fields);
        var image = golden.Input("in.image");
        if (image.Shape.Rank != 4) throw new ModelFileException($"{golden.Name}: in.image {image.Shape} must be (B, 3, H, W)");

        var g = new Graph();
        var nchw = g.Input("in.image", DType.F32, image.Shape.ToArray());
        var embeddings = SamImageEncoder.Build(new ParamScope(g, golden.Weights), cfg, g.Permute(nchw, 0, 2, 3, 1));
        g.Output("out.image_embeddings", g.Permute(embeddings, 0, 3, 1, 2));

        return GoldenGraph.Run(golden, g, backend, new Dictionary<string, HostTensor> { ["in.image"] = image.ToF32() });
    }

    /// <summary>The case's ImageEncoderViT arguments; eps fields are read when a case states them.</summary>
    public static SamImageEncoderConfig ReadConfig(JsonElement c) => ReadConfig(SamGoldenSupport.Fields(c));

    public static SamImageEncoderConfig ReadConfig(CaseJson c) => new(
        EmbedDim: c.Size("embed_dim"),
        Depth: c.Count("depth"),
        NumHeads: c.Size("num_heads"),
        PatchSize: c.Size("patch_size"),
        OutChans: c.Size("out_chans"),
        WindowSize: c.Count("window_size"),
        GlobalAttnIndexes: c.Ints("global_attn_indexes"),
        MlpRatio: c.Number("mlp_ratio"),
        LayerNormEps: c.Single("layer_norm_eps", 1e-5f),
        NeckLayerNormEps: c.Single("neck_layer_norm_eps", 1e-6f),
        UseAbsPos: c.Flag("use_abs_pos", true),
        UseRelPos: c.Flag("use_rel_pos", true));
}
