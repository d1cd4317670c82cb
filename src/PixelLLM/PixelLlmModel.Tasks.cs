using PixelLLM.Models;
using PixelLLM.Runtime;

namespace PixelLLM;

public sealed partial class PixelLlmModel
{
    private readonly TaskStages stages = new();

    /// <summary>Whether the model has the mask branch (mask adapter + SAM mask decoder) that <see cref="Segment(PixelImage, string, RequestOptions?)"/> needs.</summary>
    public bool CanSegment => files.Config.MaskBranch is not null;

    /// <summary>Whether the model has the box decoder (CenterNet2 detector) that <see cref="DenseCaption"/> needs.</summary>
    public bool CanDenseCaption => files.Config.BoxDecoder is not null;

    /// <summary>
    /// Referring segmentation: context "where is " + <paramref name="text"/>, the expression beam-decoded (beam 3, 1 per node,
    /// α 0.6), the box read at the position before EOS, then the mask branch prompted with that box → a binary mask at the
    /// original resolution, the canvas-grid logits and the IoU prediction.
    /// </summary>
    /// <exception cref="InvalidInputException">The text is empty or too long, or the model has no mask branch.</exception>
    public SegmentResult Segment(PixelImage image, string text, RequestOptions? request = null) => Segment(image, text, decodeText: true, request);

    /// <summary>
    /// <see cref="Segment(PixelImage, string, RequestOptions?)"/>; with <paramref name="decodeText"/> false the expression
    /// itself is the decoder input instead of its beam-decoded text (refer's default, the reference's teacher-forced RefCOCO
    /// mode): the result's text is the expression and its score null.
    /// </summary>
    /// <exception cref="InvalidInputException">The text is empty or too long, or the model has no mask branch.</exception>
    public SegmentResult Segment(PixelImage image, string text, bool decodeText, RequestOptions? request = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Segment(image, [text], decodeText, request)[0];
    }

    /// <summary>
    /// <see cref="Segment(PixelImage, string, RequestOptions?)"/> for several expressions on one image in one batch; results
    /// in the order given.
    /// </summary>
    /// <exception cref="InvalidInputException">No expression, one is empty or too long, or the model has no mask branch.</exception>
    public IReadOnlyList<SegmentResult> Segment(PixelImage image, IReadOnlyList<string> texts, RequestOptions? request = null) =>
        Segment(image, texts, decodeText: true, request);

    /// <summary>
    /// <see cref="Segment(PixelImage, string, bool, RequestOptions?)"/> for several expressions on one image in one batch;
    /// results in the order given.
    /// </summary>
    /// <exception cref="InvalidInputException">No expression, one is empty or too long, or the model has no mask branch.</exception>
    public IReadOnlyList<SegmentResult> Segment(PixelImage image, IReadOnlyList<string> texts, bool decodeText, RequestOptions? request = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (!CanSegment)
            throw new InvalidInputException($"segment: model '{Name ?? files.Path}' has no mask branch (mask_adapter / mask_decoder); use a refseg model");
        CheckExpressions("segment", texts);
        CheckDecode("segment", TaskSettings.Referring(files.Config).WithBeams(request?.Beams), texts.Count);
        return RunTask(request, r => r.Segment(image, texts, decodeText));
    }

    /// <summary>
    /// Dense captioning: the box decoder's detections, all captioned in one batch (one encoder pass, one greedy decode loop
    /// over the K slots). Only the detections scenic's evaluation counts are returned (score &gt; 0), by descending score.
    /// </summary>
    /// <exception cref="InvalidInputException">The model has no box decoder.</exception>
    public DenseCaptionResults DenseCaption(PixelImage image, RequestOptions? request = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (!CanDenseCaption)
            throw new InvalidInputException($"densecap: model '{Name ?? files.Path}' has no box decoder (box_decoder in its config); use a densecap model");
        CheckDecode("densecap", TaskSettings.LocationCaption.WithBeams(request?.Beams), files.Config.BoxDecoder!.NumDetections);
        return RunTask(request, r => r.DenseCaption(image));
    }

    private T RunTask<T>(RequestOptions? request, Func<TaskRunner, T> work)
    {
        request ??= new RequestOptions();
        // Dense captioning decodes K slots: the cache feeds one position per step where the rerun feeds all L (exact alike:
        // the densecap golden passes both ways).
        var engine = options.FullRerunDecoding ? DecodeEngine.FullRerun : DecodeEngine.KvCache;
        return pool.Run(model => work(new TaskRunner(model, files.Tokenizer, request, stages, engine)), request.Cancellation);
    }

    /// <summary>
    /// Answers one request of the JSON-line protocol that <c>pixelllm serve</c>, its HTTP form and the C library
    /// (<c>libpixelllm</c>) speak (schema <c>pixelllm-serve/1</c>, documented in the README): <paramref name="request"/> is
    /// a JSON object such as <c>{"id": 7, "task": "refer", "image": "photo.png", "texts": ["the red ball"]}</c>, the
    /// answer one line, <c>{"id", "ok": true, "ms", "result": pixelllm-result/1 document}</c> or <c>{"id", "ok": false,
    /// "kind", "error": one line naming the field}</c>. Bad input, resource limits and model failures are answers, not
    /// exceptions; thread-safe like every task.
    /// </summary>
    public string Answer(string request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return ServeProtocol.Respond(this, request).Line;
    }
}
