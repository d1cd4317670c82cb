using System.Diagnostics;
using PixelLLM.Models;
using PixelLLM.Models.Checkpoints;
using PixelLLM.Models.ModelFiles;
using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Cli;

/// <summary>
/// PixelLLM with seeded random weights (generated lazily, stored f32 or bf16) on one backend, and each stage of a caption
/// request as its own timed piece: the backbones, the prompt adapter, the T5 encoder over 32 visual + 8 context tokens,
/// one KV-cache decode step at beam 1 and 4, the point rerun, and the whole request (beam 1, 20 tokens) through
/// <see cref="PixelLlm"/>. Sub-stage graphs use the same builders and the same weight tensors as the model (no copies).
/// </summary>
internal sealed class BenchStages : IDisposable
{
    public const int ContextTokens = 8;

    private readonly PixelLlmConfig config;
    private readonly IBackend backend;
    private readonly PixelLlm model;
    private readonly HostTensor image;
    private readonly HostTensor box;
    private readonly int[][] context;
    private readonly Random random;

    /// <summary>e2e4's further images: their own stream, so they do not depend on which stages ran before.</summary>
    private readonly Random extraImages;

    /// <summary>Called once per stage between its warm-up and its timed runs (bench --profile resets its profiler here).</summary>
    public Action? AfterWarmUp { get; init; }

    public BenchStages(PixelLlmConfig config, DType weightType, int seed, IBackend backend)
    {
        this.config = config;
        this.backend = backend;
        Weights = new LazyRandomWeights(EngineParameterShapes.For(config), seed,
            weightType == DType.BF16 ? LinearWeightsAsBf16 : null);
        model = new PixelLlm(config, Weights, backend);
        random = new Random(seed);
        extraImages = new Random(seed + 1);
        int side = config.Canvas;
        image = RandomImage(random);
        box = HostTensor.FromArray([side * 0.1f, side * 0.2f, side * 0.7f, side * 0.9f], 1, 4);
        var ids = new int[ContextTokens];
        for (int i = 0; i < ids.Length - 1; i++) ids[i] = random.Next(2, config.T5.VocabSize);
        ids[^1] = config.EndTokenId;
        context = [ids];
    }

    public LazyRandomWeights Weights { get; }

    /// <summary>
    /// bf16 storage for the weights only Linear reads (the CPU backend computes those from bf16; every other op needs
    /// f32): rank-2 ".weight"s except the tables PixelLLM gathers from or adds — embeddings, relative-position biases,
    /// the SAM prompt tables and the adapter's learned query tokens.
    /// </summary>
    public static DType LinearWeightsAsBf16(string name, IReadOnlyList<int> shape) =>
        shape.Count == 2 && name.EndsWith(".weight", StringComparison.Ordinal)
        && name != "t5.shared.weight" && !name.EndsWith(".relative_attention_bias.weight", StringComparison.Ordinal)
        && !name.StartsWith("sam.prompt_encoder.", StringComparison.Ordinal) && name != "prompt_adapter.output_tokens.weight"
            ? DType.BF16 : DType.F32;

    /// <summary>Decode steps per caption: every slot between BOS and the final EOS (the greedy loop always runs them all).</summary>
    public int CaptionTokens => config.MaxCaptionLength - 2;

    public StageTiming Sam(int runs) => GraphStage("SAM image encoder", runs, g =>
        SamImageEncoder.Build(new ParamScope(g, Weights, "sam.image_encoder"), config.Sam, CanvasInput(g)));

    public StageTiming Eva02(int runs) => GraphStage("EVA02 image encoder", runs, g =>
        Eva02Encoder.Build(new ParamScope(g, Weights, "eva02"), config.Eva, CanvasInput(g)).PatchGrid);

    /// <summary>
    /// The model's own vision graph: both encoders on one canvas and their fusion (with concurrent lanes, SAM runs beside
    /// EVA02: compare with the SAM and EVA02 stages added up).
    /// </summary>
    public StageTiming Vision(int runs) => GraphStage("vision graph (SAM + EVA02 + fusion)", runs, g => VisionGraph.Build(g, config, Weights));

    /// <summary>
    /// The vision graph over <paramref name="images"/> canvases in one batch: every encoder GEMM has images × 576/730
    /// rows, where one image's leave most of a large GPU's SMs without a tile. Per image = best / images.
    /// </summary>
    public StageTiming VisionBatch(int runs, int images) =>
        GraphStage($"{images}-image vision graph (per image = best / {images})", runs, g => VisionGraph.Build(g, config, Weights, images));

    /// <summary>Prompt encoder tokens → two-way adapter → projection into T5 (one box).</summary>
    public StageTiming Adapter(int runs)
    {
        var tokens = PixelLlmPrompts.Encode(box, Weights.Get("sam.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"),
            config.Canvas, config.BoxPointsPerSide, config.BoxPointWithOffset, config.PromptUseBoxes);
        int grid = config.FusedGrid, channels = config.FusedChannels;
        return GraphStage("prompt adapter + projection", runs, g =>
        {
            var encoder = new ParamScope(g, Weights, "sam.prompt_encoder");
            var sparse = PixelLlmPrompts.Embeddings(encoder, g.Weight("bench.sparse_features", tokens.Features), g.Weight("bench.sparse_slots", tokens.Slots));
            var dense = model.DensePe();
            var densePe = g.Weight("bench.dense_pe", HostTensor.FromArray(dense.ToFloatArray(), [1, .. dense.Shape.ToArray()]));
            var fused = g.Weight("bench.fused", RandomTensor(1, grid, grid, channels));
            var adapted = PromptAdapter.Build(new ParamScope(g, Weights, "prompt_adapter"), config.Adapter, fused, densePe, sparse, encoder["no_mask_embed.weight"]);
            return VisualProjection.Build(new ParamScope(g, Weights, "visual_projection"), adapted, config.T5.DModel, config.VisualProjectionEps);
        });
    }

    public StageTiming T5Encoder(int runs)
    {
        int k = config.VisualTokens, length = k + ContextTokens;
        var valid = PixelLlmTokens.EncoderValid(context, k);
        return GraphStage($"T5 encoder ({length} positions)", runs, g => PixelLlmText.Encode(new ParamScope(g, Weights, "t5"), config.T5,
            g.Weight("bench.visual", RandomTensor(1, k, config.T5.DModel)), g.Weight("bench.context", HostTensor.FromArray(context[0], 1, ContextTokens)),
            g.Weight("bench.mask", PixelLlmTokens.PairwiseMask(valid))));
    }

    /// <summary>
    /// KV-cache decode steps for <paramref name="beams"/> rows after a cross-attention prefill: one warm-up caption, then
    /// <paramref name="runs"/> captions of <see cref="CaptionTokens"/> steps; per-step best and median over all timed steps.
    /// Each step reads back what decoding reads: one beam the greedy choice made in the step graph (12 bytes), more beams
    /// the caption task's candidates chosen in the step graph (2 per beam, 8 bytes each), not the logits.
    /// </summary>
    public StageTiming DecodeStep(int beams, int runs)
    {
        int memoryLength = config.VisualTokens + ContextTokens, vocab = config.T5.VocabSize, keep = CandidatesPerBeam * beams;
        bool greedy = beams == 1;
        using var decoder = new T5IncrementalDecoder(new ScopedWeights(Weights, "t5"), config.T5, backend, 1, beams, config.MaxCaptionLength, memoryLength,
            greedy ? config.EndTokenId : null, greedy ? null : keep);
        decoder.Prefill(RandomTensor(1, memoryLength, config.T5.DModel));
        var ids = new int[beams];
        var scores = new float[2];
        var live = new float[beams];
        var candidates = new int[keep];
        var values = new float[keep];
        var steps = new List<double>();
        var process = Process.GetCurrentProcess();
        var cpu = TimeSpan.Zero;
        for (int run = 0; run <= runs; run++)
        {
            Array.Fill(ids, config.BeginTokenId);
            Array.Fill(live, 0f);
            for (int position = 0; position < CaptionTokens; position++)
            {
                process.Refresh();
                var cpuStart = process.TotalProcessorTime;
                var clock = Stopwatch.StartNew();
                if (!greedy) decoder.SetLiveLogProbs(live);
                decoder.Run(ids, position, default, default);
                if (greedy) decoder.FetchGreedy(ids, scores);
                else decoder.FetchCandidates(candidates, values);
                if (run > 0) { steps.Add(clock.Elapsed.TotalMilliseconds); process.Refresh(); cpu += process.TotalProcessorTime - cpuStart; }
                if (!greedy)
                    for (int r = 0; r < beams; r++) (ids[r], live[r]) = (candidates[r] % vocab, values[r]);
            }
            if (run == 0) AfterWarmUp?.Invoke();
        }
        return new StageTiming($"decode step, beam {beams} (KV cache)", steps.Min(), BenchTimer.Median(steps),
            cpu.TotalMilliseconds / Math.Max(steps.Count, 1), steps.Count,
            $"{CaptionTokens} steps × {runs}, {(greedy ? "greedy choice" : $"{keep} beam candidates")} in the step graph");
    }

    /// <summary>Candidates a beam-search step keeps per beam in the caption task (scenic's per-node 2).</summary>
    private const int CandidatesPerBeam = 2;

    /// <summary>
    /// The teacher-forced decoder pass over the caption slots plus the point head (spec §2.1 step 4), as a caption request
    /// runs it: features for the points, no vocabulary logits (what the PyTorch baseline's rerun measures too: decoder only,
    /// no lm_head).
    /// </summary>
    public StageTiming PointRerun(int runs)
    {
        var encoding = model.EncodePrompts(HostTensor.FromArray(RandomValues(1 * (config.FusedGrid * config.FusedGrid * (config.FusedChannels))),
            1, config.FusedGrid, config.FusedGrid, config.FusedChannels), box, context);
        var tokens = new int[config.MaxCaptionLength];
        for (int i = 1; i < tokens.Length - 1; i++) tokens[i] = random.Next(2, config.T5.VocabSize);
        tokens[^1] = config.EndTokenId;
        return BenchTimer.Measure($"point rerun ({config.MaxCaptionLength} slots + point head)", runs, afterWarmUp: AfterWarmUp, work: () =>
        {
            var text = model.TeacherForced(encoding, [tokens], withLogits: false);
            model.Points(text, [tokens], config.Canvas, config.Canvas, TokenValidity.Trace);
            model.ReleaseText(text);
        });
    }

    /// <summary>
    /// One caption request through <see cref="PixelLlm"/>: image → prompts → greedy KV-cache decode →
    /// rerun → points. The note gives the phases of the fastest timed run, to compare with the stages measured alone.
    /// With <paramref name="images"/> &gt; 1, that many different images go through as one batch (one vision pass, one
    /// decode over their prompts), the throughput form of the request.
    /// </summary>
    public StageTiming EndToEnd(int runs, int images = 1)
    {
        var phases = new PhaseClock(backend as IHostActivitySource);
        string? best = null;
        double bestMs = double.MaxValue;
        var batch = Enumerable.Range(0, images).Select(i => i == 0 ? image : RandomImage(extraImages)).ToArray();
        var boxes = HostTensor.FromArray(Enumerable.Repeat(box.ToFloatArray(), images).SelectMany(b => b).ToArray(), images, 4);
        var contexts = Enumerable.Repeat(context[0], images).ToArray();
        int[]? promptImages = images == 1 ? null : Enumerable.Range(0, images).ToArray();
        // The warm-up runs eagerly and later runs replay recorded graphs: their tokens must be the warm-up's.
        int[]? warmUpTokens = null;
        bool sameTokens = true;
        string name = images == 1 ? $"end to end caption (beam 1, {CaptionTokens} tokens)" : $"end to end, {images} images in one batch (beam 1)";
        var timing = BenchTimer.Measure(name, runs, afterWarmUp: AfterWarmUp, work: () =>
        {
            phases.Restart();
            var features = model.EncodeImages(batch);
            phases.Lap("vision");
            var encoding = model.EncodePrompts(features, boxes, contexts, promptImages: promptImages);
            phases.Lap("prompts");
            var text = model.Decode(encoding, new DecodeMode.Greedy(), DecodeEngine.KvCache);
            phases.Lap("decode");
            var tokens = text.Raw.Select(t => PixelLlmTokens.ZeroAfterFirstEos(t, config.EndTokenId)).ToArray();
            var flat = tokens.SelectMany(t => t).ToArray();
            if (warmUpTokens is null) warmUpTokens = flat;
            else sameTokens &= flat.AsSpan().SequenceEqual(warmUpTokens);
            var rerun = model.TeacherForced(encoding, tokens, withLogits: false);
            phases.Lap("rerun");
            model.Points(rerun, tokens, features.Sizes, TokenValidity.Trace);
            // As a request does: the next run's image, prompts and rerun need not copy these to the host first.
            model.ReleaseText(rerun);
            model.ReleasePrompts(encoding);
            model.ReleaseImage(features);
            phases.Lap("points");
            if (phases.TotalMs < bestMs) (bestMs, best) = (phases.TotalMs, phases.ToString());
        });
        string perImage = images == 1 ? "" : $"per image {timing.BestMs / images:F1} ms (best); ";
        return timing with { Note = $"{perImage}tokens of every run == warm-up's: {(sameTokens ? "yes" : "NO")}; fastest run, wall/cpu ms: {best}" };
    }

    /// <summary>A canvas-sized RGB image of random bytes from <paramref name="source"/>.</summary>
    private HostTensor RandomImage(Random source)
    {
        var pixels = new byte[config.Canvas * config.Canvas * 3];
        source.NextBytes(pixels);
        return HostTensor.FromArray(pixels, config.Canvas, config.Canvas, 3);
    }

    private StageTiming GraphStage(string name, int runs, Func<Graph, Tensor> build)
    {
        var g = new Graph();
        g.Output("out", build(g));
        using var exec = new GraphExecutor(g, backend);
        foreach (var input in g.Inputs) exec.SetInput(input.Name!, RandomTensor(input.Shape.ToArray()));
        var timing = BenchTimer.Measure(name, runs, exec.Run, afterWarmUp: AfterWarmUp);
        var output = exec.FetchFloats("out");
        if (output.Any(v => !float.IsFinite(v))) throw new BackendException($"bench: {name} produced non-finite values");
        return timing;
    }

    private Tensor CanvasInput(Graph g) => g.Input("canvas", DType.F32, 1, config.Canvas, config.Canvas, 3);

    private HostTensor RandomTensor(params int[] shape) => HostTensor.FromArray(RandomValues((int)new Shape(shape).ElementCount), shape);

    private float[] RandomValues(int count)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }

    public void Dispose() => model.Dispose();
}
