using PixelLLM.Models;
using PixelLLM.Models.Tokenizers;
using PixelLLM.Runtime;

namespace PixelLLM;

/// <summary>
/// A caption or referring expression teacher-forced on one borrowed <see cref="PixelLlm"/>: image → eval size → vision →
/// whole-image prompt with the task's context → decoder on the given text → points (and, for referring, the mask branch on
/// the point box). Outputs are mapped back to ORIGINAL image pixels; mask logits stay on the canvas grid.
/// </summary>
internal sealed class TeacherForcedRunner(PixelLlm model, ITextTokenizer tokenizer, TaskStages stages)
{
    private PixelLlmConfig Config => model.Config;

    public TeacherForcedCaption Caption(PixelImage image, string caption)
    {
        var task = TaskSettings.CaptionTrace;
        var tokens = Target(caption, "caption");
        var run = Encode(image, tokenizer.EncodePrompt(task.Context, task.ContextLength));
        var text = model.TeacherForced(run.Encoding, [tokens]);
        var points = model.Points(text, [tokens], run.Features.Height, run.Features.Width, task.Validity);
        int count = Count(tokens);
        return new TeacherForcedCaption(tokens[..count], ArgMax(text.Logits!, count), OriginalPoints(points, count, run.ToOriginalX, run.ToOriginalY));
    }

    public TeacherForcedSegment Segment(PixelImage image, string expression)
    {
        var task = TaskSettings.Referring(Config);
        var context = tokenizer.Encode(task.Context + expression, addEos: true);
        if (context.Length > task.ContextLength)
            throw new InvalidInputException($"segment: the expression '{expression}' is too long for this model ({context.Length} tokens with " +
                $"the prompt '{task.Context}' and EOS, at most {task.ContextLength})");
        var tokens = Target(expression, "segment");
        var (features, toOriginalX, toOriginalY) = Vision(image);
        // The segmentation stage's teacher path: whole-image prompt, the expression as the decoder input, points, mask branch.
        var row = stages.Segmentation(model).Segment(features, [TokenSequences.FitToLength(context, task.ContextLength, tokenizer.PadId)], teacher: [tokens])[0];
        var b = row.Box;
        Box? box = b[0] > b[2] || b[1] > b[3] ? null : new Box(b[0], b[1], b[2], b[3]).Scale(toOriginalX, toOriginalY);
        var logits = new MaskLogits(row.MaskLogits.Shape[1], row.MaskLogits.Shape[0], row.MaskLogits.ToFloatArray());
        return new TeacherForcedSegment(box, logits, features.Width, features.Height, Config.Canvas);
    }

    private sealed record Encoded(ImageFeatures Features, PromptEncoding Encoding, double ToOriginalX, double ToOriginalY);

    /// <summary>The eval-size image's features, and the factors from eval-size back to original pixels.</summary>
    private (ImageFeatures Features, double ToOriginalX, double ToOriginalY) Vision(PixelImage image)
    {
        var evalImage = image.ToEvalSize(Config.Canvas);
        int h = evalImage.Shape[0], w = evalImage.Shape[1];
        // The same factors as RequestRunner's (the inverse of original → eval), so points and boxes match the public API's bit for bit.
        double toEvalX = (double)w / image.Width, toEvalY = (double)h / image.Height;
        return (model.EncodeImage(evalImage), 1 / toEvalX, 1 / toEvalY);
    }

    /// <summary>Vision once, then the whole-image prompt (eval-size pixels) with <paramref name="context"/>.</summary>
    private Encoded Encode(PixelImage image, int[] context)
    {
        var (features, toOriginalX, toOriginalY) = Vision(image);
        var encoding = model.EncodePrompts(features, HostTensor.FromArray(new float[] { 0, 0, features.Width, features.Height }, 1, 4), [context]);
        return new Encoded(features, encoding, toOriginalX, toOriginalY);
    }

    /// <summary>[BOS] + text + [EOS], padded to L; the text must fit.</summary>
    private int[] Target(string text, string task) =>
        tokenizer.EncodeWholeTarget(text, Config.MaxCaptionLength, string.IsNullOrWhiteSpace(text) ? $"{task}: the text" : $"{task}: '{text}'");

    /// <summary>Positions BOS … first EOS.</summary>
    private int Count(int[] tokens)
    {
        int end = Array.IndexOf(tokens, Config.EndTokenId, 1);
        return end < 0 ? tokens.Length : end + 1;
    }

    /// <summary>The arg-max id of the logits (1, L, V) at positions 0 … count − 1 (the first maximum on ties, as torch).</summary>
    private static int[] ArgMax(HostTensor logits, int count)
    {
        var values = logits.ToFloatArray();
        int vocab = logits.Shape[2];
        var result = new int[count];
        for (int i = 0; i < count; i++)
        {
            var row = values.AsSpan(i * vocab, vocab);
            int best = 0;
            for (int v = 1; v < vocab; v++) if (row[v] > row[best]) best = v;
            result[i] = best;
        }
        return result;
    }

    private static TracePoint[][] OriginalPoints(PointOutputs points, int count, double sx, double sy)
    {
        var coords = points.Coords.ToFloatArray();
        int perPosition = points.Coords.Shape[2];
        return Enumerable.Range(0, count).Select(i => Enumerable.Range(0, perPosition).Select(p =>
        {
            int at = (i * perPosition + p) * 2;
            return new TracePoint((float)(coords[at] * sx), (float)(coords[at + 1] * sy));
        }).ToArray()).ToArray();
    }
}
