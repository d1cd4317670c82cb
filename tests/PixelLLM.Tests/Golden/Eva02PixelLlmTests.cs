using System.Text.Json;
using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.GoldenTests;

/// <summary>
/// The scenic/PixelLLM variant of EVA02 (spec §3.3: integer RoPE positions, SwiGLU LN eps 1e-5, pos table resized by JAX
/// bicubic, ln_post) against the EVA02 tensors of the end-to-end PixelLLM goldens (mid.git_tokens incl. cls after
/// ln_post, mid.git_visual_features without cls), on the normalised, zero-padded canvas of spec §3.1–3.2.
/// </summary>
public class Eva02PixelLlmTests
{
    // CLIP mean/std (spec §0), applied to 0..255 pixels.
    private static readonly double[] Mean = [0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255];
    private static readonly double[] Std = [0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255];

    public static TheoryData<string, string> Cases => new()
    {
        { "pixelllm", "caption_trace" }, { "pixelllm", "loca_caption" }, { "pixelllm", "referring" },
        { "pixelllm_git", "caption_trace" }, { "pixelllm_git", "loca_caption" },
        { "pixelllm_refseg", "referring_segmentation" }, { "pixelllm_densecap", "densecap" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPixelLlmBackbone(string component, string caseName)
    {
        var dir = Path.Combine(PixelLLM.Tests.Support.Golden.Root, component);
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, caseName + ".json")));
        var root = json.RootElement;
        var git = root.GetProperty("config").GetProperty("git");
        int canvas = root.GetProperty("canvas").GetInt32();
        using var io = SafeTensorsFile.Open(Path.Combine(dir, caseName + ".io.safetensors"));
        using var weightsFile = SafeTensorsFile.Open(Path.Combine(dir, root.GetProperty("model_weights").GetString()!));

        var cfg = Eva02Config.PixelLlm(git.GetProperty("embed_dim").GetInt32(), git.GetProperty("depth").GetInt32(),
            git.GetProperty("num_heads").GetInt32(), git.GetProperty("patch_size").GetInt32(), git.GetProperty("mlp_ratio").GetDouble());
        var g = new Graph();
        var input = g.Input("image", DType.F32, 1, canvas, canvas, 3);
        var outputs = Eva02Encoder.Build(new ParamScope(g, new ScenicEva02Weights(new SafeTensorsWeights(weightsFile))), cfg, input);
        g.Output("tokens", outputs.Features);
        g.Output("grid", outputs.PatchGrid);

        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput("image", NormalisedCanvas(io.Get("in.image"), canvas));
        exec.Run();

        var failures = new List<string>();
        foreach (var (ours, reference) in new[] { ("tokens", "mid.git_tokens"), ("grid", "mid.git_visual_features") })
        {
            if (!io.Contains(reference)) continue;
            var check = GoldenComparison.CompareOne(reference, io.Get(reference), exec.Fetch(ours), Tolerance.Default);
            if (!check.Passed) failures.Add($"{check.Name}: max|err| {check.MaxAbsError:E2} {check.Note}");
        }
        Assert.True(failures.Count == 0, $"{component}/{caseName}:\n" + string.Join("\n", failures));
        Assert.True(io.Contains("mid.git_visual_features"), "case has no EVA02 tensor to compare");
    }

    /// <summary>Integer-position RoPE tables (reference grid = grid) equal the PixelLLM model's aux.git_rope_sin/cos.</summary>
    [Fact]
    public void IntegerRopeTablesMatchScenic()
    {
        using var aux = PixelLLM.Tests.Support.Golden.Open("pixelllm", "tiny_t5.aux.safetensors");
        var expectedSin = aux.Get("aux.git_rope_sin");
        int tokens = expectedSin.Shape[0], headDim = expectedSin.Shape[1], grid = (int)Math.Round(Math.Sqrt(tokens));
        var (sin, cos) = Eva02Rope.Tables(headDim, grid, grid, grid, grid);
        var ss = sin.ToFloatArray().Zip(expectedSin.ToFloatArray(), (a, b) => Math.Abs(a - b)).Max();
        var cc = cos.ToFloatArray().Zip(aux.Get("aux.git_rope_cos").ToFloatArray(), (a, b) => Math.Abs(a - b)).Max();
        Assert.True(ss <= 1e-6 && cc <= 1e-6, $"sin max|err| {ss:E2}, cos max|err| {cc:E2}");
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
                    values[(y * canvas + x) * 3 + c] = (float)((pixels[(y * w + x) * 3 + c] - (float)Mean[c]) / (float)Std[c]);
        return HostTensor.FromArray(values, 1, canvas, canvas, 3);
    }
}
