using PixelLLM.Models.Common;
using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models;

/// <summary>
/// Referring segmentation on top of a <see cref="PixelLlm"/> whose config has a <see cref="MaskBranchConfig"/> (spec §2.1 step 6,
/// §7.2–7.3; scenic <c>pred_mask</c>). <see cref="Segment"/> runs the whole task; <see cref="PredictMasks"/> is the mask branch
/// alone on the LM's outputs: each detection box's corners embedded by SAM's prompt encoder (normalised by the SAM preprocess
/// size), plus the gated <see cref="MaskAdapter"/> tokens, prompt SAM's frozen mask decoder in single-mask mode on the
/// UN-resized SAM features (dense PE of their grid, no_mask_embed) → 4Hs×4Ws logits and an IoU prediction per box. Every row
/// runs, padding slots with their inverted boxes included (errata D5). Graphs are compiled once per (N, L).
/// </summary>
public sealed class ReferringSegmentation : IDisposable
{
    private readonly PixelLlm model;
    private readonly MaskBranchConfig branch;
    private readonly IWeightSource weights;
    private readonly IBackend backend;
    private readonly CompiledGraphs graphs = new();
    private const string GaussianName = "sam.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix";

    /// <summary>The referring-expression decoding of the refseg configs (spec §8.2): beam 3, 1 per node, alpha 0.6.</summary>
    public static DecodeMode DefaultDecoding { get; } = new DecodeMode.Beam(new BeamOptions(3, 1, 0.6f));

    public ReferringSegmentation(PixelLlm model)
    {
        this.model = model;
        branch = model.Config.MaskBranch
            ?? throw new ModelFileException("pixelllm config: no mask branch (mask_adapter / mask_decoder); this model cannot segment");
        (weights, backend) = model.Parts;
    }

    /// <summary>
    /// Segments N referring expressions in one image: each context row (e.g. "where is " + expression + EOS, 0-padded) is
    /// prompted with the whole-image box, decoded (<see cref="DefaultDecoding"/> unless given) — or, given
    /// <paramref name="teacher"/> rows ([BOS, expression, EOS, 0…], the reference's teacher variant), taken as the decoder
    /// input without decoding —, rerun teacher-forced, located by the point head at the position before EOS ('^end-1'),
    /// and its box segmented. Teacher rows have no score (NaN).
    /// </summary>
    public SegmentedExpression[] Segment(ImageFeatures image, int[][] context, DecodeMode? mode = null, int[][]? teacher = null)
    {
        int n = context.Length;
        if (n == 0) throw new InvalidInputException("segment: no expressions");
        if (teacher is not null && teacher.Length != n) throw new InvalidInputException($"segment: {teacher.Length} teacher rows for {n} expressions");
        var whole = Enumerable.Range(0, n).SelectMany(_ => new float[] { 0, 0, image.Width, image.Height }).ToArray();
        var encoding = model.EncodePrompts(image, HostTensor.FromArray(whole, n, 4), context);
        var decoded = teacher is null ? model.Decode(encoding, mode ?? DefaultDecoding) : null;
        var tokens = teacher ?? decoded!.Raw.Select(r => PixelLlmTokens.ZeroAfterFirstEos(r, model.Config.EndTokenId)).ToArray();
        var text = model.TeacherForced(encoding, tokens, withLogits: false);
        var points = model.Points(text, tokens, image.Height, image.Width, TokenValidity.Referring);
        var masks = PredictMasks(image, encoding, text, points.Boxes);
        model.ReleaseText(text); // read by nothing else: the next expressions need not copy these to the host first
        model.ReleasePrompts(encoding);
        int side = masks.Logits.Shape[1] * masks.Logits.Shape[2];
        var logits = masks.Logits.ToFloatArray();
        return Enumerable.Range(0, n).Select(i =>
        {
            var row = HostTensor.FromArray(logits.AsSpan(i * side, side).ToArray(), masks.Logits.Shape[1], masks.Logits.Shape[2]);
            return new SegmentedExpression(tokens[i], decoded?.LogProbs[i] ?? float.NaN, points.Boxes[i], row,
                MaskPostprocess.ToImageMask(row, image.Height, image.Width, model.Config.Canvas), masks.IouPredictions[i]);
        }).ToArray();
    }

    /// <summary>
    /// The mask branch for N prompts: <paramref name="boxes"/> N × XYXY in pixels (the point boxes), text states (N, L, d) of the
    /// teacher-forced rerun, the visual tokens of <paramref name="encoding"/> and the SAM features of <paramref name="image"/>.
    /// <paramref name="trace"/> receives the intermediates under the golden names (mid.&lt;prefix&gt;mask_*, mid.mask_dense_pe).
    /// </summary>
    public MaskPrediction PredictMasks(ImageFeatures image, PromptEncoding encoding, HostTensor textFeatures, float[][] boxes,
        IDictionary<string, HostTensor>? trace = null, string tracePrefix = "") =>
        PredictMasks(image, encoding, new KeptTensor(textFeatures), boxes, trace, tracePrefix);

    /// <summary>
    /// <see cref="PredictMasks(ImageFeatures, PromptEncoding, HostTensor, float[][], IDictionary{string, HostTensor}?, string)"/>
    /// on a teacher-forced pass's states, each input read where it is (on the backend while its graph still holds it).
    /// </summary>
    public MaskPrediction PredictMasks(ImageFeatures image, PromptEncoding encoding, TextFeatures text, float[][] boxes,
        IDictionary<string, HostTensor>? trace = null, string tracePrefix = "") =>
        PredictMasks(image, encoding, text.KeptStates, boxes, trace, tracePrefix);

    private MaskPrediction PredictMasks(ImageFeatures image, PromptEncoding encoding, KeptTensor textFeatures, float[][] boxes,
        IDictionary<string, HostTensor>? trace, string tracePrefix)
    {
        var sam = image.KeptSam?.Desc ?? throw new InvalidInputException("segment: the image features carry no SAM features (encode the image with this model)");
        var visual = encoding.KeptVisual?.Desc ?? throw new InvalidInputException("segment: the prompt encoding carries no visual tokens");
        var text = textFeatures.Desc;
        int n = boxes.Length;
        if (n == 0 || visual.Shape[0] != n || text.Shape.Rank != 3 || text.Shape[0] != n || boxes.Any(b => b.Length != 4))
            throw new InvalidInputException($"segment: {n} boxes of 4 for visual tokens {visual.Shape} and text states {text.Shape}");
        int hs = sam.Shape[1], ws = sam.Shape[2], l = text.Shape[1];
        var prompt = PromptConfig(hs, ws, sam.Shape[3]);
        var gaussian = weights.Get(GaussianName);
        var corners = SparsePrompts.Encode(gaussian, prompt.InputHeight, prompt.InputWidth, null, null,
            HostTensor.FromArray(boxes.SelectMany(b => b).ToArray(), n, 4))!;

        var exec = graphs.GetOrBuild(backend, $"masks.{n}x{visual.Shape[1]}x{l}.{hs}x{ws}", g => Build(g, prompt, sam, visual, text));
        image.KeptSam.Bind(exec, "sam");
        encoding.KeptVisual.Bind(exec, "visual");
        textFeatures.Bind(exec, "text");
        exec.SetInput("box_features", corners.Features);
        exec.SetInput("box_slots", corners.Slots);
        exec.Run();
        if (trace is not null)
        {
            foreach (var name in new[] { "mask_sparse_box", "mask_adapter_tokens", "mask_sparse_adapted", "mask_upscaled_embedding" })
                trace[$"mid.{tracePrefix}{name}"] = exec.Fetch(name);
            trace["mid.mask_dense_pe"] = HostTensor.FromArray(RandomFourierEncoding.Grid(gaussian, hs, ws).ToFloatArray(), hs, ws, prompt.EmbedDim);
        }
        return new MaskPrediction(exec.Fetch("masks"), exec.FetchFloats("iou"));
    }

    private void Build(Graph g, PromptEncoderConfig prompt, TensorDesc sam, TensorDesc visual, TensorDesc text)
    {
        int n = visual.Shape[0];
        var promptScope = new ParamScope(g, weights, "sam.prompt_encoder");
        var box = PromptEncoder.SparseEmbeddings(promptScope, prompt,
            g.Input("box_features", DType.F32, n, 2, prompt.EmbedDim), g.Input("box_slots", DType.I32, n, 2));
        var adapter = MaskAdapter.Build(new ParamScope(g, weights, "mask_adapter"), branch.Adapter,
            g.Input("visual", DType.F32, visual.Shape.ToArray()), g.Input("text", DType.F32, text.Shape.ToArray()));
        if (adapter.Gated.Shape != box.Shape)
            throw new ModelFileException($"mask adapter: its {adapter.Gated.Shape} tokens cannot be added to the {box.Shape} box embedding (errata D3)");
        var sparse = g.Add(adapter.Gated, box);
        var densePe = PromptEncoder.DensePositionalEncoding(promptScope, prompt);
        var decoded = MaskDecoder.Build(new ParamScope(g, weights, "sam.mask_decoder"), branch.Decoder, g.Input("sam", DType.F32, sam.Shape.ToArray()),
            densePe, sparse, PromptEncoder.NoMaskEmbedding(promptScope, prompt), n);
        // multimask_output=False: mask token 0 and IoU 0; decode_mask's arg-max over that one entry is the identity.
        var (masks, iou) = MaskDecoder.Select(g, decoded, MaskSelection.Single);
        g.Output("masks", g.Reshape(masks, n, masks.Shape[2], masks.Shape[3]));
        g.Output("iou", g.Reshape(iou, n));
        g.Output("mask_sparse_box", box);
        g.Output("mask_adapter_tokens", adapter.Tokens);
        g.Output("mask_sparse_adapted", sparse);
        g.Output("mask_upscaled_embedding", decoded.UpscaledEmbedding!);
    }

    /// <summary>SAM's prompt encoder over the mask decoder's grid, box corners normalised by the SAM preprocess size (errata D4).</summary>
    private PromptEncoderConfig PromptConfig(int height, int width, int channels)
    {
        if (channels != model.Config.PromptEmbedDim || channels != branch.Decoder.TransformerDim)
            throw new ModelFileException($"segment: SAM features have {channels} channels; prompt encoder {model.Config.PromptEmbedDim}, mask decoder {branch.Decoder.TransformerDim}");
        return new PromptEncoderConfig(channels, height, width, branch.PreprocessHeight, branch.PreprocessWidth, MaskInChans: 16);
    }

    public void Dispose()
    {
        graphs.Dispose();
    }
}
