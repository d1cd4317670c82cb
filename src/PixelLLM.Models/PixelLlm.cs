using PixelLLM.Models.Checkpoints;
using PixelLLM.Models.Common;
using PixelLLM.Models.Decoding;
using PixelLLM.Models.TextModels;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models;

/// <summary>
/// PixelLLM (spec §2.1 inference flow), T5 or BERT/GIT language model, as stages that each run a graph compiled once per
/// shape: <see cref="EncodeImage"/> (both backbones + fusion, once per image) → <see cref="EncodePrompts"/> (prompt tokens,
/// adapter, then the language model's prompt encoding: T5 projection + encoder, or the GIT memory) → <see cref="Decode"/>
/// (greedy or beam) → <see cref="TeacherForced"/> (the rerun on the final tokens) → <see cref="Points"/> (point head, valid
/// masks, boxes). The language model sits behind one internal seam (<see cref="IPixelLlmTextModel"/>).
/// Weights are read under the engine's names (<see cref="ScenicWeights"/> maps a scenic checkpoint onto them).
/// Every stage can report its intermediates under the golden names (mid.*) through <c>trace</c>.
/// </summary>
public sealed class PixelLlm : IDisposable
{
    private readonly IWeightSource weights;
    private readonly IBackend backend;
    private readonly CompiledGraphs graphs = new();
    private readonly IPixelLlmTextModel text;

    private IDisposable? ownedFile;

    public PixelLlm(PixelLlmConfig config, IWeightSource weights, IBackend backend)
    {
        Config = config;
        this.weights = weights;
        this.backend = backend;
        text = PixelLlmTextModels.Create(config, weights, backend);
    }

    /// <summary>
    /// Sketch of the file entry point (the request API builds on it): a scenic-style model config JSON (the object itself, or
    /// a document with a "config" member such as a golden case) and the parameters — a safetensors file of scenic-named
    /// tensors, or scenic's own Flax msgpack <c>checkpoint_&lt;step&gt;</c>. The file stays open (memory-mapped) for the
    /// model's lifetime.
    /// </summary>
    public static PixelLlm Load(string configPath, string weightsPath, IBackend backend)
    {
        PixelLlmConfig config;
        try
        {
            FileKind.RequireRegularInput(configPath, "a config file");
            using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(configPath));
            var root = json.RootElement;
            config = PixelLlmConfigJson.FromScenic(root.TryGetProperty("config", out var c) ? c : root);
        }
        catch (System.Text.Json.JsonException e) { throw new ModelFileException($"{configPath}: not valid JSON ({e.Message})", e); }
        catch (IOException e) { throw new ModelFileException($"{configPath}: {e.Message}", e); }
        IDisposable file;
        IWeightSource source;
        if (weightsPath.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
        {
            var st = Runtime.SafeTensors.SafeTensorsFile.Open(weightsPath);
            (file, source) = (st, new Verification.SafeTensorsWeights(st));
        }
        else
        {
            var checkpoint = Runtime.Checkpoints.ScenicCheckpoint.Open(weightsPath);
            (file, source) = (checkpoint, checkpoint);
        }
        try
        {
            var model = FromScenic(config, new Float32Weights(source), backend);
            model.ownedFile = file;
            return model;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A model over a scenic parameter dict (Flax names and layouts, LoRA unmerged), validated against the parameters
    /// <paramref name="config"/> needs (<see cref="ScenicParameterShapes"/>) before anything is built.
    /// </summary>
    public static PixelLlm FromScenic(PixelLlmConfig config, IWeightSource scenic, IBackend backend)
    {
        var weights = new ScenicWeights(scenic, ScenicWeightsOptions.For(config));
        weights.Validate(ScenicParameterShapes.For(config));
        return new PixelLlm(config, weights, backend);
    }

    public PixelLlmConfig Config { get; }

    /// <summary>Weights (engine names) and backend, for stages kept outside this class (<see cref="ReferringSegmentation"/>, dense captioning).</summary>
    internal (IWeightSource Weights, IBackend Backend) Parts => (weights, backend);

    /// <summary>Backbones and fusion on one U8 (h, w, 3) image already at its eval size.</summary>
    /// <remarks>
    /// The features stay on the backend until the next call: <see cref="EncodePrompts(ImageFeatures, HostTensor, int[][], IDictionary{string, HostTensor}?, int[]?)"/>
    /// copies them there, and their host copies are made when read or, at the latest, before this runs again.
    /// </remarks>
    public ImageFeatures EncodeImage(HostTensor image, IDictionary<string, HostTensor>? trace = null) => EncodeImages([image], trace);

    /// <summary>
    /// <see cref="EncodeImage"/> on several images in one batch (one vision graph of B images): features (B, G, G, C), each
    /// image's equal to what it gets alone. Prompts of any of them are then encoded together
    /// (<see cref="EncodePrompts(ImageFeatures, HostTensor, int[][], IDictionary{string, HostTensor}?, int[]?)"/>).
    /// </summary>
    public ImageFeatures EncodeImages(IReadOnlyList<HostTensor> images, IDictionary<string, HostTensor>? trace = null)
    {
        var canvas = ImagePreprocess.ToCanvases(images, Config.Canvas);
        int count = canvas.Sizes.Length;
        var exec = graphs.GetOrBuild(backend, count == 1 ? "vision" : $"vision.x{count}", g => VisionGraph.Build(g, Config, weights, count));
        exec.SetInput("pixels", canvas.Pixels);
        exec.SetInput("padding_mask", canvas.PaddingMask);
        exec.Run();
        if (trace is not null)
        {
            foreach (var name in new[] { "mid.git_tokens", "mid.git_visual_features", "mid.sam_visual_features", "mid.fused_features" })
                trace[name] = exec.Fetch(name);
            trace["mid.image_shape"] = canvas.ImageShape;
        }
        return new ImageFeatures(exec.Keep("mid.fused_features"), exec.Keep("mid.sam_visual_features"), canvas.Sizes);
    }

    /// <summary>
    /// Says the caller is done with <paramref name="image"/> (a request at its end): the next image then need not copy it to
    /// the host first, and reading it after that image throws instead.
    /// </summary>
    public void ReleaseImage(ImageFeatures image) => image.Release();

    /// <summary>
    /// Says the caller is done with <paramref name="encoding"/> (a request at its end): the next prompts of its shape then
    /// need not copy it to the host first, and reading it after them throws instead.
    /// </summary>
    public void ReleasePrompts(PromptEncoding encoding) => encoding.Release();

    /// <summary>
    /// Says the caller is done with <paramref name="text"/>'s states (a request at its end): the next teacher-forced pass of
    /// their shape then need not copy them to the host first, and reading them after it throws instead.
    /// </summary>
    public void ReleaseText(TextFeatures text) => text.KeptStates.Release();

    /// <summary>
    /// <see cref="EncodePrompts(HostTensor, HostTensor, int[][], IDictionary{string, HostTensor}?)"/> on an image's
    /// features, copied on the backend while this model's vision graph still holds them (no host round trip).
    /// </summary>
    /// <param name="image">One image's features, or a batch's.</param>
    /// <param name="boxes">Prompt boxes F32 (N, 4), each in pixels of its image.</param>
    /// <param name="context">N rows of context ids.</param>
    /// <param name="trace">Where intermediates go under their golden names, or null.</param>
    /// <param name="promptImages">For a batch of images: which image each prompt is on (N values in [0, B)).</param>
    public PromptEncoding EncodePrompts(ImageFeatures image, HostTensor boxes, int[][] context, IDictionary<string, HostTensor>? trace = null,
        int[]? promptImages = null)
    {
        if (image.Count == 1 && promptImages is null) return EncodePrompts(exec => image.SetFusedInput(exec, "fused"), boxes, context, trace);
        if (promptImages is null || promptImages.Length != context.Length || promptImages.Any(i => i < 0 || i >= image.Count))
            throw new InvalidInputException($"prompts: a batch of {image.Count} images needs the image of each of the {context.Length} prompts, in [0, {image.Count})");
        return EncodePrompts(exec =>
        {
            image.SetFusedInput(exec, "fused");
            exec.SetInput<int>("prompt_images", promptImages);
        }, boxes, context, trace, image.Count);
    }

    /// <summary>
    /// Prompt boxes F32 (N, 4) XYXY (pixels of the valid image) and context ids (N rows of Lc, 0 = padding) → the language
    /// model's encoding per prompt (T5 encoder output, or the GIT layer-0 memory). <paramref name="fused"/> is
    /// <see cref="ImageFeatures.Fused"/>.
    /// </summary>
    public PromptEncoding EncodePrompts(HostTensor fused, HostTensor boxes, int[][] context, IDictionary<string, HostTensor>? trace = null) =>
        EncodePrompts(exec => exec.SetInput("fused", fused), boxes, context, trace);

    private PromptEncoding EncodePrompts(Action<GraphExecutor> setFused, HostTensor boxes, int[][] context, IDictionary<string, HostTensor>? trace,
        int images = 0)
    {
        int n = boxes.Shape.Rank == 2 ? boxes.Shape[0] : -1;
        if (n < 1 || context.Length != n) throw new InvalidInputException($"prompts: {context.Length} context rows for boxes {boxes.Shape}");
        int lc = context[0].Length;
        if (context.Any(r => r.Length != lc)) throw new InvalidInputException("prompts: context rows differ in length");
        var gaussian = weights.Get("sam.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix");
        var tokens = PixelLlmPrompts.Encode(boxes, gaussian, Config.Canvas, Config.BoxPointsPerSide, Config.BoxPointWithOffset, Config.PromptUseBoxes);
        var valid = PixelLlmTokens.EncoderValid(context, Config.VisualTokens);

        var key = images == 0 ? $"prompts.{n}x{lc}" : $"prompts.{n}x{lc}.of{images}";
        var exec = graphs.GetOrBuild(backend, key, g => BuildPrompts(g, n, lc, tokens.Slots.Shape[1], images));
        setFused(exec);
        exec.SetInput("sparse_features", tokens.Features);
        exec.SetInput("sparse_slots", tokens.Slots);
        exec.SetInput<int>("context", context.SelectMany(r => r).ToArray());
        text.BindPromptInputs(exec, valid);
        exec.Run();
        if (trace is not null)
        {
            foreach (var name in new[] { "mid.sparse_prompt_embeddings", "mid.adapter_out", "mid.visual_features", text.EncodingName })
                trace[name] = exec.Fetch(name);
            trace["mid.dense_pe"] = DensePe();
            trace["mid.box_valid_mask"] = tokens.BoxValid;
            trace[text.ValidMaskName] = HostTensor.FromArray(valid.SelectMany(r => r.Select(v => (byte)(v ? 1 : 0))).ToArray(), n, valid[0].Length);
        }
        return new PromptEncoding(exec.Keep(text.EncodingName), valid, exec.Keep("mid.visual_features"));
    }

    /// <summary>
    /// Captions for every prompt (spec §8): greedy or beam search. <see cref="DecodeEngine.FullRerun"/> reruns the whole
    /// decoder at every step, as the reference; <see cref="DecodeEngine.KvCache"/> feeds one position per step and gives the
    /// same result (T5: the t5x rule that masks key j when token j + 1 is 0 is applied per step; GIT: errata D7). Without
    /// <paramref name="engine"/>, the KV cache.
    /// <paramref name="observer"/> (optional) sees the token buffer before every step (streaming, progress).
    /// </summary>
    public DecodedText Decode(PromptEncoding encoding, DecodeMode mode, DecodeEngine? engine = null, DecodeObserver? observer = null)
    {
        var options = new DecodeOptions(Config.BeginTokenId, Config.EndTokenId, Config.MaxCaptionLength);
        int n = encoding.Prompts;
        int beams = mode is DecodeMode.Beam b ? b.Options.Beams : 1;
        var step = text.StepLogits(encoding, beams, engine ?? text.DefaultEngine);
        using var owned = step as IDisposable;
        if (observer is not null) step = new ObservedStepLogits(step, observer);
        switch (mode)
        {
            case DecodeMode.Greedy:
            {
                var result = GreedyDecoder.Decode(step, options, n);
                return new DecodedText(result.Tokens, result.LogProbs, result.Tokens.Select(t => new[] { t }).ToArray(),
                    result.LogProbs.Select(s => new[] { s }).ToArray(), null, result.Margins);
            }
            case DecodeMode.Beam beam:
            {
                var result = BeamSearch.Decode(step, options, n, beam.Options);
                return new DecodedText(Enumerable.Range(0, n).Select(result.Best).ToArray(), Enumerable.Range(0, n).Select(result.BestScore).ToArray(),
                    result.Sequences, result.Scores, result.Finished, null);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown decode mode");
        }
    }

    /// <summary>The engine <see cref="Decode"/> uses when none is named.</summary>
    public DecodeEngine DefaultDecodeEngine => text.DefaultEngine;

    /// <summary>
    /// The teacher-forced pass on <paramref name="tokens"/> (N rows of L, e.g. decoded rows after
    /// <see cref="PixelLlmTokens.ZeroAfterFirstEos"/>): T5 with the t5x target masks, GIT with its causal mask only.
    /// </summary>
    /// <param name="encoding">The prompts' encoding.</param>
    /// <param name="tokens">N rows of L token ids.</param>
    /// <param name="withLogits">Also fetch the vocabulary logits (N, L, V): a few MB per pass that a caption never reads.</param>
    public TextFeatures TeacherForced(PromptEncoding encoding, int[][] tokens, bool withLogits = true) => text.TeacherForced(encoding, tokens, withLogits);

    /// <summary>Point head on every position of text features (N, L, d); coordinates scaled by the valid image size.</summary>
    public PointOutputs Points(HostTensor textFeatures, int[][] tokens, int height, int width, TokenValidity validity) =>
        Points(textFeatures, tokens, Enumerable.Repeat((height, width), textFeatures.Shape[0]).ToArray(), validity);

    /// <summary>Point head on every position of text features (N, L, d); each prompt's coordinates scaled by its image's valid size.</summary>
    public PointOutputs Points(HostTensor textFeatures, int[][] tokens, IReadOnlyList<(int Height, int Width)> promptSizes, TokenValidity validity) =>
        Points(new KeptTensor(textFeatures), tokens, promptSizes, validity);

    /// <summary>
    /// Point head on every position of a teacher-forced pass's states, read where they are (on the backend while resident);
    /// coordinates scaled by the valid image size.
    /// </summary>
    public PointOutputs Points(TextFeatures text, int[][] tokens, int height, int width, TokenValidity validity) =>
        Points(text.KeptStates, tokens, Enumerable.Repeat((height, width), text.KeptStates.Desc.Shape[0]).ToArray(), validity);

    /// <summary>
    /// Point head on every position of a teacher-forced pass's states, read where they are (on the backend while resident);
    /// each prompt's coordinates scaled by its image's valid size.
    /// </summary>
    public PointOutputs Points(TextFeatures text, int[][] tokens, IReadOnlyList<(int Height, int Width)> promptSizes, TokenValidity validity) =>
        Points(text.KeptStates, tokens, promptSizes, validity);

    private PointOutputs Points(KeptTensor textFeatures, int[][] tokens, IReadOnlyList<(int Height, int Width)> promptSizes, TokenValidity validity)
    {
        var head = Config.PointHead ?? throw new InvalidOperationException("this PixelLLM has no point head");
        var shape = textFeatures.Desc.Shape;
        if (shape.Rank != 3) throw new InvalidInputException($"points: text features must be (N, L, d), got {textFeatures.Desc}");
        int n = shape[0], l = shape[1];
        if (promptSizes.Count != n) throw new InvalidInputException($"points: {promptSizes.Count} image sizes for {n} prompts");
        var exec = graphs.GetOrBuild(backend, $"points.{n}x{l}", g =>
        {
            var (coords, logits) = PointHead.Build(new ParamScope(g, weights, "point_head"), head, g.Input("text_feats", DType.F32, n, l, Config.TextWidth));
            g.Output("coords", coords);
            g.Output("logits", logits);
        });
        textFeatures.Bind(exec, "text_feats");
        exec.Run();
        var xy = exec.FetchFloats("coords");
        int perPrompt = l * head.NumOutputPoints * 2;
        for (int i = 0; i < n; i++) PointBoxes.ToAbsolute(xy.AsSpan(i * perPrompt, perPrompt), promptSizes[i].Height, promptSizes[i].Width);
        var valid = validity.Mask(tokens, Config.BeginTokenId, Config.EndTokenId);
        var boxes = Enumerable.Range(0, n).Select(i => PointBoxes.Box(xy.AsSpan(i * perPrompt, perPrompt), valid[i], head.NumOutputPoints)).ToArray();
        return new PointOutputs(HostTensor.FromArray(xy, n, l, head.NumOutputPoints, 2), exec.Fetch("logits"), valid, boxes);
    }

    /// <summary>The prompt encoder's dense PE of the fused grid (G, G, E), precomputed on the host (errata B13).</summary>
    public HostTensor DensePe()
    {
        int grid = Config.FusedGrid;
        var pe = RandomFourierEncoding.Grid(weights.Get("sam.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"), grid, grid);
        return HostTensor.FromArray(pe.ToFloatArray(), grid, grid, pe.Shape[3]);
    }

    /// <summary>The prompts graph; <paramref name="images"/> &gt; 0: the fused input is a batch of that many images and
    /// input "prompt_images" says which one each prompt is on.</summary>
    private void BuildPrompts(Graph g, int n, int contextLength, int promptTokens, int images)
    {
        int grid = Config.FusedGrid, e = Config.PromptEmbedDim;
        int fusedChannels = Config.FusedChannels;
        var fused = g.Input("fused", DType.F32, Math.Max(images, 1), grid, grid, fusedChannels);
        var promptImages = images > 0 ? g.Input("prompt_images", DType.I32, n) : null;
        var promptEncoder = new ParamScope(g, weights, "sam.prompt_encoder");
        var sparse = PixelLlmPrompts.Embeddings(promptEncoder,
            g.Input("sparse_features", DType.F32, n, promptTokens, e), g.Input("sparse_slots", DType.I32, n, promptTokens));
        var densePe = g.Weight("aux.sam.prompt_encoder.dense_pe", HostTensor.FromArray(DensePe().ToFloatArray(), 1, grid, grid, e));
        var adapter = PromptAdapter.Build(new ParamScope(g, weights, "prompt_adapter"), Config.Adapter, fused, densePe, sparse,
            promptEncoder["no_mask_embed.weight"], promptImages);
        g.Output("mid.sparse_prompt_embeddings", sparse);
        g.Output("mid.adapter_out", adapter);
        text.BuildPrompts(g, adapter, g.Input("context", DType.I32, n, contextLength));
    }

    public void Dispose()
    {
        graphs.Dispose(); // features and encodings handed out stay readable: each executor copies them to the host first
        text.Dispose();
        ownedFile?.Dispose();
        ownedFile = null;
    }
}
