using PixelLLM.Models.Checkpoints;
using PixelLLM.Models.Common;
using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models;

/// <summary>
/// PixelLLM, T5 variant (spec §2.1 inference flow), as stages that each run a graph compiled once per shape:
/// <see cref="EncodeImage"/> (both backbones + fusion, once per image) → <see cref="EncodePrompts"/> (prompt tokens,
/// adapter, projection, T5 encoder) → <see cref="Decode"/> (greedy or beam over full decoder reruns) →
/// <see cref="TeacherForced"/> (the rerun on the final tokens) → <see cref="Points"/> (point head, valid masks, boxes).
/// Weights are read under the engine's names (<see cref="ScenicWeights"/> maps a scenic checkpoint onto them).
/// Every stage can report its intermediates under the golden names (mid.*) through <c>trace</c>.
/// </summary>
public sealed class PixelLlm : IDisposable
{
    private readonly IWeightSource weights;
    private readonly IBackend backend;
    private readonly Dictionary<string, GraphExecutor> graphs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PixelLlmDecoder> decoders = new(StringComparer.Ordinal);

    private IDisposable? ownedFile;

    public PixelLlm(PixelLlmConfig config, IWeightSource weights, IBackend backend)
    {
        Config = config;
        this.weights = weights;
        this.backend = backend;
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
        var weights = new ScenicWeights(scenic, new ScenicWeightsOptions(config.LoraScale, config.LoraRank > 0 ? config.LoraRank : null));
        weights.Validate(ScenicParameterShapes.For(config));
        return new PixelLlm(config, weights, backend);
    }

    public PixelLlmConfig Config { get; }

    /// <summary>Backbones and fusion on one U8 (h, w, 3) image already at its eval size.</summary>
    public ImageFeatures EncodeImage(HostTensor image, IDictionary<string, HostTensor>? trace = null)
    {
        var canvas = ImagePreprocess.ToCanvas(image, Config.Canvas);
        var exec = Compiled("vision", BuildVision);
        exec.SetInput("pixels", canvas.Pixels);
        exec.SetInput("padding_mask", canvas.PaddingMask);
        exec.Run();
        var fused = exec.Fetch("mid.fused_features");
        if (trace is not null)
        {
            foreach (var name in new[] { "mid.git_tokens", "mid.git_visual_features", "mid.sam_visual_features", "mid.fused_features" })
                trace[name] = exec.Fetch(name);
            trace["mid.image_shape"] = canvas.ImageShape;
        }
        return new ImageFeatures(fused, canvas.Height, canvas.Width);
    }

    /// <summary>
    /// Prompt boxes F32 (N, 4) XYXY (pixels of the valid image) and context ids (N rows of Lc, 0 = padding) → T5 encoder
    /// output per prompt. <paramref name="fused"/> is <see cref="ImageFeatures.Fused"/>.
    /// </summary>
    public PromptEncoding EncodePrompts(HostTensor fused, HostTensor boxes, int[][] context, IDictionary<string, HostTensor>? trace = null)
    {
        int n = boxes.Shape.Rank == 2 ? boxes.Shape[0] : -1;
        if (n < 1 || context.Length != n) throw new InvalidInputException($"prompts: {context.Length} context rows for boxes {boxes.Shape}");
        int lc = context[0].Length;
        if (context.Any(r => r.Length != lc)) throw new InvalidInputException("prompts: context rows differ in length");
        var gaussian = weights.Get("sam.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix");
        var tokens = PixelLlmPrompts.Encode(boxes, gaussian, Config.Canvas, Config.BoxPointsPerSide, Config.BoxPointWithOffset);
        var valid = PixelLlmTokens.EncoderValid(context, Config.Adapter.NumOutputs);

        var exec = Compiled($"prompts.{n}x{lc}", g => BuildPrompts(g, n, lc, tokens.Slots.Shape[1]));
        exec.SetInput("fused", fused);
        exec.SetInput("sparse_features", tokens.Features);
        exec.SetInput("sparse_slots", tokens.Slots);
        exec.SetInput<int>("context", context.SelectMany(r => r).ToArray());
        exec.SetInput("encoder_mask", PixelLlmTokens.PairwiseMask(valid));
        exec.Run();
        var output = exec.Fetch("mid.encoder_output");
        if (trace is not null)
        {
            foreach (var name in new[] { "mid.sparse_prompt_embeddings", "mid.adapter_out", "mid.visual_features", "mid.encoder_output" })
                trace[name] = exec.Fetch(name);
            trace["mid.dense_pe"] = DensePe();
            trace["mid.box_valid_mask"] = tokens.BoxValid;
            trace["mid.encoder_valid_mask"] = HostTensor.FromArray(valid.SelectMany(r => r.Select(v => (byte)(v ? 1 : 0))).ToArray(), n, valid[0].Length);
        }
        return new PromptEncoding(output, valid);
    }

    /// <summary>
    /// Captions for every prompt (spec §8): greedy or beam search. <see cref="DecodeEngine.FullRerun"/> reruns the whole
    /// decoder with the t5x masks at every step, as the reference; <see cref="DecodeEngine.KvCache"/> feeds one position per
    /// step — the same result as long as no hypothesis holds a 0 (pad) token before its end (README of the goldens).
    /// <paramref name="observer"/> (optional) sees the token buffer before every step (streaming, progress).
    /// </summary>
    public DecodedText Decode(PromptEncoding encoding, DecodeMode mode, DecodeEngine engine = DecodeEngine.FullRerun, DecodeObserver? observer = null)
    {
        var options = new DecodeOptions(Config.BeginTokenId, Config.EndTokenId, Config.MaxCaptionLength);
        int n = encoding.Prompts;
        int beams = mode is DecodeMode.Beam b ? b.Options.Beams : 1;
        using var cached = engine == DecodeEngine.KvCache ? KvStepLogits(encoding) : null;
        IStepLogits step = (IStepLogits?)cached ?? new PixelLlmDecoder.StepLogits(Decoder(n * beams, encoding.EncoderLength),
            encoding.EncoderOutput.ToFloatArray(), encoding.EncoderValid, beams);
        if (observer is not null) step = new ObservedStepLogits(step, observer);
        switch (mode)
        {
            case DecodeMode.Greedy:
            {
                var margins = new GreedyMargins(step);
                var result = GreedyDecoder.Decode(margins, options, n);
                return new DecodedText(result.Tokens, result.LogProbs, result.Tokens.Select(t => new[] { t }).ToArray(),
                    result.LogProbs.Select(s => new[] { s }).ToArray(), null, margins.Margins(result.Tokens, Config.EndTokenId));
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

    private T5StepLogits KvStepLogits(PromptEncoding encoding)
    {
        var keyMask = encoding.EncoderValid.SelectMany(r => r.Select(v => (byte)(v ? 1 : 0))).ToArray();
        return new T5StepLogits(new ScopedWeights(weights, "t5"), Config.T5, backend, encoding.EncoderOutput, keyMask);
    }

    /// <summary>
    /// The teacher-forced pass on <paramref name="tokens"/> (N rows of L, e.g. decoded rows after
    /// <see cref="PixelLlmTokens.ZeroAfterFirstEos"/>), with the t5x target masks.
    /// </summary>
    public TextFeatures TeacherForced(PromptEncoding encoding, int[][] tokens)
    {
        int n = encoding.Prompts, l = Config.MaxCaptionLength;
        if (tokens.Length != n || tokens.Any(t => t.Length != l))
            throw new InvalidInputException($"teacher-forced pass: expected {n} token rows of {l}");
        var (features, logits) = Decoder(n, encoding.EncoderLength).Run(tokens.SelectMany(t => t).ToArray(),
            encoding.EncoderOutput.ToFloatArray(), encoding.EncoderValid, 1);
        return new TextFeatures(HostTensor.FromArray(features, n, l, Config.T5.DModel), HostTensor.FromArray(logits, n, l, Config.T5.VocabSize));
    }

    /// <summary>Point head on every position of text features (N, L, d); coordinates scaled by the valid image size.</summary>
    public PointOutputs Points(HostTensor textFeatures, int[][] tokens, int height, int width, TokenValidity validity)
    {
        var head = Config.PointHead ?? throw new InvalidOperationException("this PixelLLM has no point head");
        int n = textFeatures.Shape[0], l = textFeatures.Shape[1];
        var exec = Compiled($"points.{n}x{l}", g =>
        {
            var (coords, logits) = PointHead.Build(new ParamScope(g, weights, "point_head"), head, g.Input("text_feats", DType.F32, n, l, Config.T5.DModel));
            g.Output("coords", coords);
            g.Output("logits", logits);
        });
        exec.SetInput("text_feats", textFeatures);
        exec.Run();
        var xy = exec.FetchFloats("coords");
        PointBoxes.ToAbsolute(xy, height, width);
        var valid = validity.Mask(tokens, Config.BeginTokenId, Config.EndTokenId);
        int perPrompt = l * head.NumOutputPoints * 2;
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

    private void BuildVision(Graph g)
    {
        int c = Config.Canvas;
        var pixels = g.Input("pixels", DType.F32, 1, c, c, 3);
        var mask = g.Input("padding_mask", DType.F32, 1, c, c, 1);
        // Scopes keep the encoders' own intermediate names (mid.patch_embed, mid.blocks.i) apart.
        Eva02Outputs eva;
        using (g.Scope("eva02"))
            eva = Eva02Encoder.Build(new ParamScope(g, weights, "eva02"), Config.Eva,
                ImagePreprocess.Normalise(g, pixels, mask, PixelLlmConfig.EvaPixelMean, PixelLlmConfig.EvaPixelStd, "eva02"));
        Tensor sam;
        using (g.Scope("sam"))
            sam = SamImageEncoder.Build(new ParamScope(g, weights, "sam.image_encoder"), Config.Sam,
                ImagePreprocess.Normalise(g, pixels, mask, PixelLlmConfig.SamPixelMean, PixelLlmConfig.SamPixelStd, "sam"));
        g.Output("mid.git_tokens", eva.Features);
        g.Output("mid.git_visual_features", eva.PatchGrid);
        g.Output("mid.sam_visual_features", sam);
        g.Output("mid.fused_features", FeatureFusion.Build(g, eva.PatchGrid, sam));
    }

    private void BuildPrompts(Graph g, int n, int contextLength, int promptTokens)
    {
        int grid = Config.FusedGrid, e = Config.PromptEmbedDim, k = Config.Adapter.NumOutputs;
        int fusedChannels = Config.Eva.EmbedDim + Config.Sam.OutChans;
        var fused = g.Input("fused", DType.F32, 1, grid, grid, fusedChannels);
        var promptEncoder = new ParamScope(g, weights, "sam.prompt_encoder");
        var sparse = PixelLlmPrompts.Embeddings(promptEncoder,
            g.Input("sparse_features", DType.F32, n, promptTokens, e), g.Input("sparse_slots", DType.I32, n, promptTokens));
        var densePe = g.Weight("aux.sam.prompt_encoder.dense_pe", HostTensor.FromArray(DensePe().ToFloatArray(), 1, grid, grid, e));
        var adapter = PromptAdapter.Build(new ParamScope(g, weights, "prompt_adapter"), Config.Adapter, fused, densePe, sparse,
            promptEncoder["no_mask_embed.weight"]);
        var visual = VisualProjection.Build(new ParamScope(g, weights, "visual_projection"), adapter, Config.T5.DModel, Config.VisualProjectionEps);
        var encoded = PixelLlmText.Encode(new ParamScope(g, weights, "t5"), Config.T5, visual,
            g.Input("context", DType.I32, n, contextLength), g.Input("encoder_mask", DType.U8, n, 1, k + contextLength, k + contextLength));
        g.Output("mid.sparse_prompt_embeddings", sparse);
        g.Output("mid.adapter_out", adapter);
        g.Output("mid.visual_features", visual);
        g.Output("mid.encoder_output", encoded);
    }

    private PixelLlmDecoder Decoder(int rows, int encoderLength)
    {
        var key = $"{rows}x{Config.MaxCaptionLength}x{encoderLength}";
        if (!decoders.TryGetValue(key, out var d))
            decoders[key] = d = new PixelLlmDecoder(weights, Config.T5, backend, rows, Config.MaxCaptionLength, encoderLength);
        return d;
    }

    private GraphExecutor Compiled(string key, Action<Graph> build)
    {
        if (graphs.TryGetValue(key, out var exec)) return exec;
        var g = new Graph();
        build(g);
        return graphs[key] = new GraphExecutor(g, backend);
    }

    public void Dispose()
    {
        foreach (var e in graphs.Values) e.Dispose();
        foreach (var d in decoders.Values) d.Dispose();
        graphs.Clear();
        decoders.Clear();
        ownedFile?.Dispose();
        ownedFile = null;
    }
}
