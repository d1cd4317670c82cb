using System.Text.Json;
using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Runtime.Weights;
using PixelLLM.Tests.Support;
using Xunit.Abstractions;

namespace PixelLLM.Tests.GoldenTests;

/// <summary>
/// The scenic/PixelLLM variant of EVA02 (spec §3.3: integer RoPE positions, SwiGLU LN eps 1e-5, pos table resized by JAX
/// bicubic, ln_post) against the EVA02 tensors of the end-to-end PixelLLM goldens (mid.git_tokens incl. cls after
/// ln_post, mid.git_visual_features without cls), on the normalised, zero-padded canvas of spec §3.1–3.2.
/// </summary>
public class Eva02PixelLlmTests(ITestOutputHelper log)
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
        var outputs = Eva02Encoder.Build(new ParamScope(g, ScenicGolden.Module(weightsFile, "eva02")), cfg, input);
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
            log.WriteLine($"{component}/{caseName} {check.Name} {check.Shape}: max|err| {check.MaxAbsError:E2}");
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

    /// <summary>
    /// PixelLLM's real geometry at a small width: a 384² canvas with patch 14 gives a 27×27 grid (pixels 378..383 unseen) and
    /// the 16×16 pretraining table is resized to it; RoPE positions are i/27·27 in float32, so t[15] = 15.000000954 (errata B8).
    /// </summary>
    [Fact]
    public void BuildsAndRunsTheRealCanvasGeometry()
    {
        var cfg = Eva02Config.PixelLlm(embedDim: 32, depth: 1, numHeads: 2, patchSize: 14);
        var weights = new DictionaryWeights(RandomWeights(cfg, tableGrid: 16, new Random(5)));
        var g = new Graph();
        var image = g.Input("image", DType.F32, 1, 384, 384, 3);
        var outputs = Eva02Encoder.Build(new ParamScope(g, weights), cfg, image);
        Assert.Equal(new Shape(1, 27, 27, 32), outputs.PatchGrid.Shape);
        Assert.Equal(new Shape(1, 1 + 27 * 27, 32), outputs.Features.Shape);
        Assert.Same(outputs.Features, outputs.PreLogits); // no pooling: timm's pre-logits are the features
        g.Output("grid", outputs.PatchGrid);

        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput("image", OpHarness.Random(new Random(6), [1, 384, 384, 3]));
        exec.Run();
        Assert.All(exec.FetchFloats("grid"), v => Assert.True(float.IsFinite(v)));

        var (sin, _) = Eva02Rope.Tables(cfg.HeadDim, 27, 27, 27, 27);
        float t15 = (float)15 / 27 * 27;
        Assert.Equal(15.000000954f, t15);
        // Row 15, column 0: dim 0 rotates by the row position at frequency 1.
        Assert.Equal((float)Math.Sin(t15), sin.ToFloatArray()[15 * 27 * cfg.HeadDim]);
    }

    private static Dictionary<string, HostTensor> RandomWeights(Eva02Config cfg, int tableGrid, Random rng)
    {
        int c = cfg.EmbedDim, h = cfg.MlpHidden, p = cfg.PatchSize;
        var w = new Dictionary<string, HostTensor>
        {
            ["patch_embed.proj.weight"] = OpHarness.Random(rng, [c, 3, p, p], 0.05f), ["patch_embed.proj.bias"] = OpHarness.Random(rng, [c]),
            ["cls_token"] = OpHarness.Random(rng, [1, 1, c]), ["pos_embed"] = OpHarness.Random(rng, [1, 1 + tableGrid * tableGrid, c]),
            ["norm.weight"] = OpHarness.Random(rng, [c]), ["norm.bias"] = OpHarness.Random(rng, [c]),
        };
        for (int i = 0; i < cfg.Depth; i++)
        {
            void Add(string name, params int[] shape) => w[$"blocks.{i}.{name}"] = OpHarness.Random(rng, shape, 0.2f);
            foreach (var n in new[] { "norm1", "norm2" }) { Add(n + ".weight", c); Add(n + ".bias", c); }
            foreach (var n in new[] { "q_proj", "k_proj", "v_proj", "proj" }) Add($"attn.{n}.weight", c, c);
            Add("attn.q_proj.bias", c); Add("attn.v_proj.bias", c); Add("attn.proj.bias", c);
            Add("mlp.fc1_g.weight", h, c); Add("mlp.fc1_g.bias", h); Add("mlp.fc1_x.weight", h, c); Add("mlp.fc1_x.bias", h);
            Add("mlp.norm.weight", h); Add("mlp.norm.bias", h); Add("mlp.fc2.weight", c, h); Add("mlp.fc2.bias", c);
        }
        return w;
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
