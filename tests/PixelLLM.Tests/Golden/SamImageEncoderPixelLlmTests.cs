using System.Text.Json;
using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.SafeTensors;

namespace PixelLLM.Tests.GoldenTests;

/// <summary>
/// The PixelLLM variant of the SAM encoder (spec §3.4: LN eps 1e-6, pos_embed resized by jax bicubic with antialias,
/// global rel-pos tables by jax linear with antialias, VALID patch conv on a canvas that is not a patch multiple) against
/// mid.sam_visual_features of the end-to-end PixelLLM goldens, on the normalised, zero-padded canvas of spec §3.1–3.2.
/// The tiny model stores tables for a 10×10 grid: 120 canvases run on 7×7 (down-sampling), 240 on 15×15 (up-sampling).
/// </summary>
public class SamImageEncoderPixelLlmTests
{
    // SAM pixel mean/std (spec §0), applied to 0..255 pixels.
    private static readonly float[] Mean = [123.675f, 116.28f, 103.53f];
    private static readonly float[] Std = [58.395f, 57.12f, 57.375f];

    public static TheoryData<string, string> Cases => new()
    {
        { "pixelllm", "caption_trace" }, { "pixelllm", "loca_caption" }, { "pixelllm", "referring" },
        { "pixelllm_git", "caption_trace" }, { "pixelllm_git", "loca_caption" },
        { "pixelllm_refseg", "referring_segmentation" }, { "pixelllm_densecap", "densecap" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPixelLlmSamBackbone(string component, string caseName)
    {
        var dir = Path.Combine(Support.Golden.Root, component);
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, caseName + ".json")));
        var root = json.RootElement;
        int canvas = root.GetProperty("canvas").GetInt32();
        using var io = SafeTensorsFile.Open(Path.Combine(dir, caseName + ".io.safetensors"));
        using var weightsFile = SafeTensorsFile.Open(Path.Combine(dir, root.GetProperty("model_weights").GetString()!));

        var cfg = PixelLlmConfig(root.GetProperty("config").GetProperty("sam"));
        var g = new Graph();
        var input = g.Input("image", DType.F32, 1, canvas, canvas, 3);
        var weights = Support.ScenicGolden.Module(weightsFile, "sam.image_encoder");
        g.Output("features", SamImageEncoder.Build(new ParamScope(g, weights), cfg, input));

        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput("image", NormalisedCanvas(io.Get("in.image"), canvas));
        exec.Run();

        var check = GoldenComparison.CompareOne("mid.sam_visual_features", io.Get("mid.sam_visual_features"), exec.Fetch("features"), Tolerance.Default);
        Assert.True(check.Passed, $"{component}/{caseName}: max|err| {check.MaxAbsError:E2} {check.Note}");
    }

    /// <summary>scenic's sam_backbone arguments (window_block_indexes lists the windowed blocks) with PixelLLM numerics.</summary>
    private static SamImageEncoderConfig PixelLlmConfig(JsonElement sam)
    {
        int depth = sam.GetProperty("depth").GetInt32();
        var windowed = sam.GetProperty("window_block_indexes").EnumerateArray().Select(e => e.GetInt32()).ToHashSet();
        return SamImageEncoderConfig.PixelLlmVitH with
        {
            EmbedDim = sam.GetProperty("embed_dim").GetInt32(),
            Depth = depth,
            NumHeads = sam.GetProperty("num_heads").GetInt32(),
            PatchSize = sam.GetProperty("patch_size").GetInt32(),
            OutChans = sam.GetProperty("out_chans").GetInt32(),
            WindowSize = sam.GetProperty("window_size").GetInt32(),
            MlpRatio = sam.GetProperty("mlp_ratio").GetDouble(),
            GlobalAttnIndexes = [.. Enumerable.Range(0, depth).Where(i => !windowed.Contains(i))],
        };
    }

    /// <summary>uint8 (h, w, 3) image → (1, canvas, canvas, 3): (x − mean)/std on the image, exact zeros in the padding.</summary>
    private static HostTensor NormalisedCanvas(HostTensor image, int canvas)
    {
        int h = image.Shape[0], w = image.Shape[1];
        var pixels = image.Data.Span;
        var values = new float[canvas * canvas * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                    values[(y * canvas + x) * 3 + c] = (pixels[(y * w + x) * 3 + c] - Mean[c]) / Std[c];
        return HostTensor.FromArray(values, 1, canvas, canvas, 3);
    }
}
