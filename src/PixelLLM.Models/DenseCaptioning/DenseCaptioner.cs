using PixelLLM.Models.Tokenizers;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.Models.DenseCaptioning;

/// <summary>
/// Dense captioning results for one image: K slots (spec §7.1, errata E2: positives by descending score, then 0-score
/// padding slots, then −1 slots), each with its XYXY box in canvas pixels, detection score, source proposal (−1: padding),
/// the decoder's raw greedy row (EOS fillers after the first EOS), the same row with zeros after the first EOS, and the
/// mean log-prob. The final score is the detection score (no caption rescoring in the densecap configs).
/// </summary>
public sealed record DenseCaptions(float[][] Boxes, float[] Scores, int[] ProposalIndex, int NumDetections, int[][] RawTokens,
    int[][] Tokens, float[] LogProbs, float[][]? GreedyMargins)
{
    public int Slots => Scores.Length;

    /// <summary>The caption text of every slot.</summary>
    public string[] Captions(ITextTokenizer tokenizer) => Tokens.Select(t => tokenizer.Decode(t)).ToArray();
}

/// <summary>
/// Dense captioning on top of a <see cref="PixelLlm"/> (scenic inference with the box decoder on): the
/// <see cref="BoxDecoder"/> turns the image's fused map into K detection boxes, and all K are captioned IN ONE BATCH —
/// one <see cref="PixelLlm.EncodePrompts"/> pass (prompt encoder and adapter per box over the shared fused map and dense
/// PE, T5 encoder over K rows) and one greedy decode loop over K rows. −1 slots are captioned like any other box.
/// </summary>
public sealed class DenseCaptioner : IDisposable
{
    /// <summary>scenic's densecap context ('an object of ' + EOS, one row per slot).</summary>
    public const string DefaultPrompt = "an object of ";

    private readonly PixelLlm model;

    public DenseCaptioner(PixelLlm model)
    {
        this.model = model;
        var config = model.Config.BoxDecoder
            ?? throw new InvalidInputException("dense captioning: this model's config has no box_decoder (use a densecap configuration)");
        var (weights, backend) = model.Parts;
        BoxDecoder = new BoxDecoder(config, weights, backend, model.Config.Canvas);
    }

    public BoxDecoder BoxDecoder { get; }

    /// <summary>Detections and their captions with the context <paramref name="prompt"/> + EOS in every slot.</summary>
    public DenseCaptions DenseCaption(ImageFeatures image, ITextTokenizer tokenizer, string prompt = DefaultPrompt,
        DecodeEngine engine = DecodeEngine.FullRerun) => DenseCaption(image, tokenizer.Encode(prompt, addEos: true), engine);

    /// <summary>
    /// Detections and their captions; <paramref name="context"/> is the context id row every slot gets (0 = padding).
    /// <paramref name="trace"/> receives the box decoder's and the prompt path's intermediates under the golden names.
    /// Decoding is greedy (scenic's densecap) unless <paramref name="mode"/> says otherwise; a beam search keeps each
    /// slot's best hypothesis and has no greedy margins.
    /// </summary>
    public DenseCaptions DenseCaption(ImageFeatures image, int[] context, DecodeEngine engine = DecodeEngine.FullRerun,
        IDictionary<string, HostTensor>? trace = null, DecodeMode? mode = null)
    {
        if (context.Length == 0) throw new InvalidInputException("dense captioning: empty context row");
        var detections = BoxDecoder.Detect(image, trace);
        int k = detections.Slots;
        var boxes = HostTensor.FromArray(detections.Boxes, k, 4);
        var encoding = model.EncodePrompts(image, boxes, Enumerable.Repeat(context, k).ToArray(), trace);
        DecodedText decoded;
        try { decoded = model.Decode(encoding, mode ?? new DecodeMode.Greedy(), engine); }
        finally { model.ReleasePrompts(encoding); }
        var tokens = decoded.Raw.Select(r => PixelLlmTokens.ZeroAfterFirstEos(r, model.Config.EndTokenId)).ToArray();
        var perSlot = Enumerable.Range(0, k).Select(i => detections.Boxes.AsSpan(4 * i, 4).ToArray()).ToArray();
        return new DenseCaptions(perSlot, detections.Scores, detections.ProposalIndex, detections.NumDetections, decoded.Raw, tokens,
            decoded.LogProbs, decoded.GreedyMargins);
    }

    public void Dispose() => BoxDecoder.Dispose();
}
