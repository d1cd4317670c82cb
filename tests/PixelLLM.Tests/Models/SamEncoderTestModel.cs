using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Tests.Models;

/// <summary>A tiny random SAM image encoder for tests that need weights of chosen table sizes.</summary>
internal static class SamEncoderTestModel
{
    public static SamImageEncoderConfig Config(bool relPosAntialias) => new(
        EmbedDim: 12, Depth: 2, NumHeads: 2, PatchSize: 4, OutChans: 5, WindowSize: 4, GlobalAttnIndexes: [1],
        MlpRatio: 2.0, LayerNormEps: 1e-6f, RelPosResizeAntialias: relPosAntialias);

    /// <summary>Weights whose pos_embed is (1, posGrid, posGrid, C) and whose global-block rel-pos tables have relLength rows.</summary>
    public static Dictionary<string, HostTensor> RandomWeights(Random rng, SamImageEncoderConfig cfg, int posGrid, int relLength)
    {
        int c = cfg.EmbedDim, hidden = cfg.MlpDim;
        var w = new Dictionary<string, HostTensor>
        {
            ["patch_embed.proj.weight"] = Rand(rng, 0.2f, c, 3, cfg.PatchSize, cfg.PatchSize),
            ["patch_embed.proj.bias"] = Rand(rng, 0.1f, c),
            ["pos_embed"] = Rand(rng, 0.5f, 1, posGrid, posGrid, c),
            ["neck.0.weight"] = Rand(rng, 0.3f, cfg.OutChans, c, 1, 1),
            ["neck.1.weight"] = Rand(rng, 1f, cfg.OutChans),
            ["neck.1.bias"] = Rand(rng, 0.1f, cfg.OutChans),
            ["neck.2.weight"] = Rand(rng, 0.2f, cfg.OutChans, cfg.OutChans, 3, 3),
            ["neck.3.weight"] = Rand(rng, 1f, cfg.OutChans),
            ["neck.3.bias"] = Rand(rng, 0.1f, cfg.OutChans),
        };
        for (int i = 0; i < cfg.Depth; i++)
        {
            var b = $"blocks.{i}.";
            int rel = cfg.IsWindowed(i) ? 2 * cfg.WindowSize - 1 : relLength;
            w[b + "norm1.weight"] = Rand(rng, 1f, c);
            w[b + "norm1.bias"] = Rand(rng, 0.1f, c);
            w[b + "attn.qkv.weight"] = Rand(rng, 0.3f, 3 * c, c);
            w[b + "attn.qkv.bias"] = Rand(rng, 0.1f, 3 * c);
            w[b + "attn.rel_pos_h"] = Rand(rng, 0.5f, rel, cfg.HeadDim);
            w[b + "attn.rel_pos_w"] = Rand(rng, 0.5f, rel, cfg.HeadDim);
            w[b + "attn.proj.weight"] = Rand(rng, 0.3f, c, c);
            w[b + "attn.proj.bias"] = Rand(rng, 0.1f, c);
            w[b + "norm2.weight"] = Rand(rng, 1f, c);
            w[b + "norm2.bias"] = Rand(rng, 0.1f, c);
            w[b + "mlp.lin1.weight"] = Rand(rng, 0.3f, hidden, c);
            w[b + "mlp.lin1.bias"] = Rand(rng, 0.1f, hidden);
            w[b + "mlp.lin2.weight"] = Rand(rng, 0.2f, c, hidden);
            w[b + "mlp.lin2.bias"] = Rand(rng, 0.1f, c);
        }
        return w;
    }

    /// <summary>Runs the encoder on a (B, H, W, 3) image and returns the output and every named intermediate.</summary>
    public static Dictionary<string, float[]> Run(SamImageEncoderConfig cfg, Dictionary<string, HostTensor> weights, HostTensor image)
    {
        var g = new Graph();
        var input = g.Input("image", DType.F32, image.Shape.ToArray());
        g.Output("out", SamImageEncoder.Build(new ParamScope(g, new DictionaryWeights(weights)), cfg, input));
        var mids = new[] { "mid.patch_embed" }.Concat(Enumerable.Range(0, cfg.Depth).Select(i => $"mid.blocks.{i}")).ToArray();
        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend, mids);
        exec.SetInput("image", image);
        exec.Run();
        return mids.Append("out").ToDictionary(n => n, exec.FetchFloats);
    }

    public static HostTensor Rand(Random rng, float scale, params int[] shape) => Support.OpHarness.Random(rng, shape, scale);
}
