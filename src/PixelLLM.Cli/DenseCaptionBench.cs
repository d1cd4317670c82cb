using System.Diagnostics;
using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Models.DenseCaptioning;
using PixelLLM.Models.ModelFiles;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Cli;

/// <summary>
/// Dense captioning on seeded random weights, split into the stages the request runs: the shared image encoders (once
/// per image), the box decoder's proposals and K detection slots, the prompt encoder + adapter + projection over K boxes,
/// the T5 encoder over K rows and the greedy KV-cache decode over K rows — and the same per-box stages for ONE box (a
/// single location-conditioned caption). The stages chain their outputs, use the model's own graph builders and
/// weights, and together compute exactly what <see cref="DenseCaptioner"/> computes with <see cref="DecodeEngine.KvCache"/>.
/// Random weights give arbitrary detections, so the box decoder's final NMS is switched off (IoU threshold 1) and
/// <see cref="BoxDecoderConfig.NumDetections"/> set to the requested K: every slot then holds a real proposal's box.
/// </summary>
internal sealed class DenseCaptionBench : IDisposable
{
    private readonly IBackend backend;
    private readonly PixelLlm model;
    private readonly HostTensor image;
    private readonly int[] context;
    private readonly CompiledGraphs graphs = new();

    public DenseCaptionBench(PixelLlmConfig config, DType weightType, int seed, IBackend backend, int? boxes)
    {
        var box = config.BoxDecoder ?? throw new InvalidInputException(
            "--task densecap: this config has no box decoder (use pixelllm-t5xl-densecap or pixelllm-tiny-densecap)");
        int k = boxes ?? box.NumDetections;
        if (k < 1 || k > box.PostNmsTopK)
            throw new InvalidInputException($"--boxes: {k} is not in 1..{box.PostNmsTopK} (the config's post_nms_topk_test proposals)");
        Config = config with { BoxDecoder = box with { NumDetections = k, RoiNmsThreshold = 1f } };
        this.backend = backend;
        Weights = new LazyRandomWeights(EngineParameterShapes.For(Config), seed, weightType == DType.BF16 ? BenchStages.LinearWeightsAsBf16 : null);
        model = new PixelLlm(Config, Weights, backend);
        Captioner = new DenseCaptioner(model);
        var random = new Random(seed);
        var pixels = new byte[Config.Canvas * Config.Canvas * 3];
        random.NextBytes(pixels);
        image = HostTensor.FromArray(pixels, Config.Canvas, Config.Canvas, 3);
        context = new int[BenchStages.ContextTokens];
        for (int i = 0; i < context.Length - 1; i++) context[i] = random.Next(2, Config.T5.VocabSize);
        context[^1] = Config.EndTokenId;
    }

    /// <summary>The benchmarked configuration: the named one with the forced K and the final NMS off.</summary>
    public PixelLlmConfig Config { get; }

    public LazyRandomWeights Weights { get; }

    /// <summary>The product path on the same model, for checking that the stages compute what it computes.</summary>
    public DenseCaptioner Captioner { get; }

    public HostTensor Image => image;

    public int[] Context => context;

    /// <summary>Decode steps per caption (the greedy loop always runs every slot between BOS and the final EOS).</summary>
    public int DecodeSteps => Config.MaxCaptionLength - 2;

    /// <summary>Backbones and fusion: once per image, shared by every box.</summary>
    public ImageFeatures EncodeImage() => model.EncodeImage(image);

    /// <summary>Pyramid, CenterNet heads, proposal selection, RoI head and the K slots.</summary>
    public Detections Detect(ImageFeatures features) => Captioner.BoxDecoder.Detect(features);

    /// <summary>Prompt encoder, adapter and visual projection for N boxes (N, 4) over the shared fused map and dense PE.</summary>
    public HostTensor AdaptPrompts(ImageFeatures features, HostTensor boxes)
    {
        int n = boxes.Shape[0];
        var tokens = PixelLlmPrompts.Encode(boxes, Weights.Get("sam.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"),
            Config.Canvas, Config.BoxPointsPerSide, Config.BoxPointWithOffset, Config.PromptUseBoxes);
        var exec = graphs.GetOrBuild(backend, $"adapter.{n}", g =>
        {
            int grid = Config.FusedGrid, e = Config.PromptEmbedDim;
            var encoder = new ParamScope(g, Weights, "sam.prompt_encoder");
            var sparse = PixelLlmPrompts.Embeddings(encoder, g.Input("sparse_features", DType.F32, n, tokens.Slots.Shape[1], e),
                g.Input("sparse_slots", DType.I32, n, tokens.Slots.Shape[1]));
            var densePe = g.Weight("bench.dense_pe", HostTensor.FromArray(model.DensePe().ToFloatArray(), 1, grid, grid, e));
            var fused = g.Input("fused", DType.F32, 1, grid, grid, Config.FusedChannels);
            var adapted = PromptAdapter.Build(new ParamScope(g, Weights, "prompt_adapter"), Config.Adapter, fused, densePe, sparse, encoder["no_mask_embed.weight"]);
            g.Output("visual", VisualProjection.Build(new ParamScope(g, Weights, "visual_projection"), adapted, Config.T5.DModel, Config.VisualProjectionEps));
        });
        exec.SetInput("fused", features.Fused);
        exec.SetInput("sparse_features", tokens.Features);
        exec.SetInput("sparse_slots", tokens.Slots);
        exec.Run();
        return exec.Fetch("visual");
    }

    /// <summary>The T5 encoder over N rows of [visual tokens; context].</summary>
    public PromptEncoding EncodeText(HostTensor visual)
    {
        int n = visual.Shape[0], k = visual.Shape[1], lc = context.Length;
        var rows = Enumerable.Repeat(context, n).ToArray();
        var valid = PixelLlmTokens.EncoderValid(rows, k);
        var exec = graphs.GetOrBuild(backend, $"t5-encoder.{n}", g => g.Output("encoded", PixelLlmText.Encode(new ParamScope(g, Weights, "t5"), Config.T5,
            g.Input("visual", DType.F32, n, k, Config.T5.DModel), g.Input("context", DType.I32, n, lc), g.Input("mask", DType.U8, n, 1, k + lc, k + lc))));
        exec.SetInput("visual", visual);
        exec.SetInput<int>("context", rows.SelectMany(r => r).ToArray());
        exec.SetInput("mask", PixelLlmTokens.PairwiseMask(valid));
        exec.Run();
        return new PromptEncoding(exec.Fetch("encoded"), valid);
    }

    /// <summary>Greedy decoding of every row with the KV cache (one loop over all rows).</summary>
    public DecodedText Decode(PromptEncoding encoding) => model.Decode(encoding, new DecodeMode.Greedy(), DecodeEngine.KvCache);

    /// <summary>The K detection boxes as prompt boxes (K, 4).</summary>
    public static HostTensor Boxes(Detections detections) => HostTensor.FromArray(detections.Boxes, detections.Slots, 4);

    /// <summary>Slot <paramref name="slot"/>'s box alone (1, 4): the single-caption prompt.</summary>
    public static HostTensor Box(Detections detections, int slot) => HostTensor.FromArray(detections.Boxes.AsSpan(4 * slot, 4).ToArray(), 1, 4);

    /// <summary>Times <paramref name="work"/> once: wall and process CPU milliseconds.</summary>
    public static (T Result, double WallMs, double CpuMs) Time<T>(Func<T> work)
    {
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpuStart = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var result = work();
        double wall = clock.Elapsed.TotalMilliseconds;
        process.Refresh();
        return (result, wall, (process.TotalProcessorTime - cpuStart).TotalMilliseconds);
    }

    public void Dispose()
    {
        graphs.Dispose();
        Captioner.Dispose();
        model.Dispose();
    }
}
