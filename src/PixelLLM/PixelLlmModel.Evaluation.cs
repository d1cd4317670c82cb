using PixelLLM.Models;
using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;

namespace PixelLLM;

public sealed partial class PixelLlmModel
{
    /// <summary>
    /// Caption + trace of the whole image with GREEDY decoding: the trainer's held-out caption metric (weights-tools/trainer/
    /// eval.py) decodes greedily, where the public <see cref="Caption(PixelImage, Box?, RequestOptions?)"/> uses beam 4.
    /// </summary>
    internal CaptionResult CaptionGreedy(PixelImage image, RequestOptions? request = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        var greedy = TaskSettings.CaptionTrace with { Decoding = new DecodeMode.Greedy() };
        return Run(request, r => r.Caption(image, [Box.Whole(image.Width, image.Height)], greedy))[0];
    }

    /// <summary>
    /// The caption task teacher-forced on a GIVEN caption (whole-image box, the caption context): the decoder's arg-max at
    /// every position and the point head's points — the trace of a known caption, as eval.py scores it.
    /// </summary>
    /// <exception cref="InvalidInputException">The caption is empty or too long, or the model has no point head.</exception>
    internal TeacherForcedCaption TraceCaption(PixelImage image, string caption, RequestOptions? request = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(caption);
        RequirePointHead("trace");
        return RunEvaluation(request, r => r.Caption(image, caption));
    }

    /// <summary>
    /// A referring expression teacher-forced (as <see cref="Refer(PixelImage, string, bool, RequestOptions?)"/> by default) and the mask branch prompted with that box —
    /// eval.py's mask metric; the public <see cref="Segment(PixelImage, string, RequestOptions?)"/> beam-decodes the expression first.
    /// </summary>
    /// <exception cref="InvalidInputException">The expression is empty or too long, or the model has no mask branch.</exception>
    internal TeacherForcedSegment SegmentTeacherForced(PixelImage image, string expression, RequestOptions? request = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(expression);
        RequirePointHead("segment");
        if (!CanSegment)
            throw new InvalidInputException($"segment: model '{Name ?? files.Path}' has no mask branch (mask_adapter / mask_decoder)");
        return RunEvaluation(request, r => r.Segment(image, expression));
    }

    private void RequirePointHead(string task)
    {
        if (!HasPointHead) throw new InvalidInputException($"{task}: model '{Name ?? files.Path}' has no point head");
    }

    private T RunEvaluation<T>(RequestOptions? request, Func<TeacherForcedRunner, T> work)
    {
        request ??= new RequestOptions();
        return pool.Run(model => work(new TeacherForcedRunner(model, files.Tokenizer, stages)), request.Cancellation);
    }
}
