using PixelLLM.Models;
using PixelLLM.Models.DenseCaptioning;
using PixelLLM.Models.Tokenizers;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;

namespace PixelLLM;

/// <summary>
/// Referring segmentation and dense captioning requests on one borrowed <see cref="PixelLlm"/>: the image is resized to its eval
/// size and encoded once, the Models-level stage runs, and its eval-size outputs are mapped back to the ORIGINAL image.
/// </summary>
internal sealed class TaskRunner(PixelLlm model, ITextTokenizer tokenizer, RequestOptions request, TaskStages stages, DecodeEngine engine)
{
    private PixelLlmConfig Config => model.Config;

    /// <summary>
    /// Referring segmentation of every expression on one image, in one batch (one vision pass, one beam search); with
    /// <paramref name="decode"/> false the expressions themselves are the decoder input (as refer's default).
    /// </summary>
    public SegmentResult[] Segment(PixelImage image, IReadOnlyList<string> expressions, bool decode)
    {
        var task = TaskSettings.Referring(Config).WithBeams(request.Beams);
        int n = expressions.Count, l = Config.MaxCaptionLength;
        var contexts = new int[n][];
        var teacher = decode ? null : new int[n][];
        for (int i = 0; i < n; i++)
        {
            // An expression of no word (only characters the tokenizer drops, e.g. "▁") is refused here as refer refuses it:
            // the prompt's own words would otherwise make it look like a request.
            _ = tokenizer.Encode(expressions[i], addEos: false);
            var context = tokenizer.Encode(task.Context + expressions[i], addEos: true);
            if (context.Length > task.ContextLength)
                throw new InvalidInputException($"segment: the expression {(n > 1 ? $"{i + 1} of {n} " : "")}is too long for this model ({context.Length} tokens with the " +
                    $"prompt '{task.Context}' and EOS, at most {task.ContextLength})");
            contexts[i] = TokenSequences.FitToLength(context, task.ContextLength, tokenizer.PadId);
            if (teacher is not null) teacher[i] = tokenizer.EncodeWholeTarget(expressions[i], l, $"segment: the expression{(n > 1 ? $" {i + 1} of {n}" : "")}");
        }
        var segmentation = stages.Segmentation(model);
        var (features, toOriginalX, toOriginalY) = Encode(image);

        Stage("segment");
        IReadOnlyList<SegmentedExpression> rows;
        try { rows = segmentation.Segment(features, contexts, task.Decoding, teacher); }
        finally { model.ReleaseImage(features); }
        var results = new SegmentResult[n];
        for (int i = 0; i < n; i++)
        {
            var row = rows[i];
            int gridH = row.MaskLogits.Shape[0], gridW = row.MaskLogits.Shape[1];
            var logits = row.MaskLogits.ToFloatArray();
            FiniteOutputs.Require(logits, "mask logits");
            FiniteOutputs.Require(row.Box, "referring box");
            if (decode) FiniteOutputs.Require([row.Score], "decode score");
            var mask = OriginalMask(logits, gridH, gridW, features.Height, features.Width, image.Height, image.Width);
            var b = row.Box;
            Box? box = b[0] > b[2] || b[1] > b[3] ? null : new Box(b[0], b[1], b[2], b[3]).Scale(toOriginalX, toOriginalY);
            results[i] = new SegmentResult(expressions[i], decode ? tokenizer.Decode(row.Tokens) : expressions[i], UpToEos(row.Tokens),
                decode ? row.Score : null, box, mask,
                new MaskLogits(gridW, gridH, logits), row.Iou);
        }
        if (request.Trace is { } trace)
        {
            // One expression keeps its (grid, grid) logits; several are stacked (N, grid, grid).
            trace["out.detection_masks"] = n == 1 ? rows[0].MaskLogits
                : HostTensor.FromArray(rows.SelectMany(r => r.MaskLogits.ToFloatArray()).ToArray(), [n, .. rows[0].MaskLogits.Shape.ToArray()]);
            trace["out.text_tokens"] = HostTensor.FromArray(rows.SelectMany(r => r.Tokens).ToArray(), n, rows[0].Tokens.Length);
        }
        foreach (var result in results) request.OnEvent?.Invoke(new SegmentReady(result));
        return results;
    }

    public DenseCaptionResults DenseCaption(PixelImage image)
    {
        var task = TaskSettings.LocationCaption.WithBeams(request.Beams);
        var captioner = stages.Captioner(model);
        var (features, toOriginalX, toOriginalY) = Encode(image);

        Stage("densecap");
        var context = tokenizer.EncodePrompt(task.Context, task.ContextLength);
        DenseCaptions captions;
        try { captions = captioner.DenseCaption(features, context, engine, request.Trace, task.Decoding); }
        finally { model.ReleaseImage(features); }
        for (int i = 0; i < captions.NumDetections; i++)
        {
            FiniteOutputs.Require(captions.Boxes[i], "detection boxes");
            FiniteOutputs.Require([captions.Scores[i], captions.LogProbs[i]], "detection scores");
        }
        // scenic's evaluation counts the first num_detections slots (score > 0); −1 and 0-score padding slots come after them.
        var detections = Enumerable.Range(0, captions.NumDetections).Select(i =>
        {
            var b = captions.Boxes[i];
            return new DenseCaptionResult(i, new Box(b[0], b[1], b[2], b[3]).Scale(toOriginalX, toOriginalY), captions.Scores[i],
                tokenizer.Decode(captions.Tokens[i]), UpToEos(captions.Tokens[i]), captions.LogProbs[i]);
        }).ToArray();
        var result = new DenseCaptionResults(detections, captions.Slots);
        request.OnEvent?.Invoke(new DenseCaptionReady(result));
        return result;
    }

    private (ImageFeatures Features, double ToOriginalX, double ToOriginalY) Encode(PixelImage image)
    {
        var evalImage = image.ToEvalSize(Config.Canvas);
        Stage("vision");
        var features = model.EncodeImage(evalImage, request.Trace);
        return (features, (double)image.Width / evalImage.Shape[1], (double)image.Height / evalImage.Shape[0]);
    }

    /// <summary>
    /// The evaluator's post-processing with the crop taken from the EVAL size (the part of the canvas the image covers) and
    /// the resize going to the ORIGINAL size: at an image that is its own eval size this is <see cref="MaskPostprocess.ToImageMask"/>.
    /// </summary>
    private BinaryMask OriginalMask(float[] logits, int gridH, int gridW, int evalH, int evalW, int height, int width)
    {
        // Integer arithmetic is exact where Python's int(h·96/384) truncates a float.
        int cropH = Math.Max(1, (int)((long)evalH * gridH / Config.Canvas)), cropW = Math.Max(1, (int)((long)evalW * gridW / Config.Canvas));
        var resized = MaskPostprocess.ResizeBilinear(logits, gridH, gridW, cropH, cropW, height, width);
        var pixels = new byte[resized.Length];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(resized[i] > 0 ? 1 : 0);
        return new BinaryMask(pixels, width, height);
    }

    private int[] UpToEos(int[] row)
    {
        int end = Array.IndexOf(row, Config.EndTokenId, 1);
        return end < 0 ? row : row[..(end + 1)];
    }

    private void Stage(string name)
    {
        request.Cancellation.ThrowIfCancellationRequested();
        request.OnEvent?.Invoke(new StageStarted(name));
    }
}
