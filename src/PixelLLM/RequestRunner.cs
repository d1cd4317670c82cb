using PixelLLM.Models;
using PixelLLM.Models.Decoding;
using PixelLLM.Models.Tokenizers;
using PixelLLM.Runtime;

namespace PixelLLM;

/// <summary>
/// One request on one borrowed <see cref="PixelLlm"/> (spec §2.1): image → eval size → vision features (once) → prompt boxes
/// and context → decode (or the given teacher tokens) → tokens after the first EOS zeroed → teacher-forced rerun → point head.
/// Coordinates enter and leave in ORIGINAL image pixels; the model works in eval-size pixels.
/// </summary>
internal sealed class RequestRunner(PixelLlm model, ITextTokenizer tokenizer, RequestOptions request, DecodeEngine? engine)
{
    private PixelLlmConfig Config => model.Config;
    private RequestOptions Request => request;

    /// <summary>Captions for <paramref name="boxes"/> (original pixels, validated) in one encoder pass.</summary>
    public CaptionResult[] Caption(PixelImage image, IReadOnlyList<Box> boxes, TaskSettings task)
    {
        var context = Enumerable.Range(0, boxes.Count).Select(_ => tokenizer.EncodePrompt(task.Context, task.ContextLength)).ToArray();
        var run = Run(image, boxes, context, task, teacher: null);
        var results = new CaptionResult[boxes.Count];
        for (int i = 0; i < results.Length; i++)
        {
            var tokens = Tokens(run, i);
            results[i] = new CaptionResult(tokenizer.Decode(run.Tokens[i]), tokens, run.Scores![i], boxes[i], run.Box(i));
            Report(new CaptionReady(i, results[i]));
        }
        return results;
    }

    /// <summary>
    /// Captions + traces of several whole images in one batch: one vision pass over all of them, one prompt per image (its
    /// global box), decoded together.
    /// </summary>
    /// <param name="images">The images of this batch.</param>
    /// <param name="task">The caption task's settings.</param>
    /// <param name="firstIndex">The first image's index in the whole request: events number prompts from it.</param>
    public CaptionResult[] CaptionImages(IReadOnlyList<PixelImage> images, TaskSettings task, int firstIndex)
    {
        promptOffset = firstIndex;
        var context = images.Select(_ => tokenizer.EncodePrompt(task.Context, task.ContextLength)).ToArray();
        var evalImages = images.Select(i => i.ToEvalSize(Config.Canvas)).ToArray();
        var scales = images.Select((image, i) => new AxisScale((double)evalImages[i].Shape[1] / image.Width, (double)evalImages[i].Shape[0] / image.Height)).ToArray();
        var boxes = images.Select(i => Box.Whole(i.Width, i.Height)).ToArray();

        Stage("vision");
        var features = model.EncodeImages(evalImages, request.Trace);
        Outcome run;
        try { run = Run(features, boxes, context, task, teacher: null, scales, Enumerable.Range(0, images.Count).ToArray()); }
        finally { model.ReleaseImage(features); }
        var results = new CaptionResult[images.Count];
        for (int i = 0; i < results.Length; i++)
        {
            results[i] = new CaptionResult(tokenizer.Decode(run.Tokens[i]), Tokens(run, i), run.Scores![i], boxes[i], run.Box(i));
            Report(new CaptionReady(promptOffset + i, results[i]));
        }
        return results;
    }

    /// <summary>Added to the prompt index of every event (a later batch of one request's images).</summary>
    private int promptOffset;

    /// <summary>
    /// Referring: per expression a global box and "where is " + expression, all in one batch; the decoder input is each
    /// expression itself unless <paramref name="decode"/>.
    /// </summary>
    public ReferResult[] Refer(PixelImage image, IReadOnlyList<string> expressions, bool decode)
    {
        var task = TaskSettings.Referring(Config).WithBeams(request.Beams);
        int l = Config.MaxCaptionLength, n = expressions.Count;
        var contexts = new int[n][];
        var teacher = decode ? null : new int[n][];
        for (int i = 0; i < n; i++)
        {
            var context = tokenizer.Encode(task.Context + expressions[i], addEos: true);
            var target = tokenizer.Encode(expressions[i], addEos: true);
            if (context.Length > task.ContextLength || target.Length + 1 > l)
                throw new InvalidInputException($"referring expression {(n > 1 ? $"{i + 1} of {n} " : "")}is too long for this model: {target.Length - 1} tokens " +
                    $"(the prompt '{task.Context}…' + EOS must fit {task.ContextLength} tokens and BOS + expression + EOS {l})");
            contexts[i] = TokenSequences.FitToLength(context, task.ContextLength, tokenizer.PadId);
            if (teacher is not null) teacher[i] = tokenizer.EncodeCaptionTarget(expressions[i], l);
        }
        var run = Run(image, Enumerable.Repeat(Box.Whole(image.Width, image.Height), n).ToArray(), contexts, task, teacher);
        var results = new ReferResult[n];
        for (int i = 0; i < n; i++)
        {
            results[i] = new ReferResult(expressions[i], decode ? tokenizer.Decode(run.Tokens[i]) : expressions[i], Tokens(run, i), run.Box(i),
                decode ? run.Scores![i] : null);
            Report(new ReferReady(results[i]));
        }
        return results;
    }

    /// <summary>A per-axis scale between original and eval-size pixels (either way).</summary>
    private readonly record struct AxisScale(double X, double Y);

    /// <summary>Decoded rows, scores and points of every prompt; <paramref name="ToOriginal"/>: eval → original pixels per prompt.</summary>
    private sealed record Outcome(int[][] Tokens, float[]? Scores, PointOutputs? Points, AxisScale[] ToOriginal)
    {
        /// <summary>The prompt's box from its valid points (scenic's inverted box for "no valid point" → null), original pixels.</summary>
        public Box? Box(int prompt)
        {
            if (Points is null) return null;
            var b = Points.Boxes[prompt];
            return b[0] > b[2] || b[1] > b[3] ? null : new Box(b[0], b[1], b[2], b[3]).Scale(ToOriginal[prompt].X, ToOriginal[prompt].Y);
        }
    }

    private Outcome Run(PixelImage image, IReadOnlyList<Box> boxes, int[][] context, TaskSettings task, int[][]? teacher)
    {
        var trace = request.Trace;
        var evalImage = image.ToEvalSize(Config.Canvas);
        int h = evalImage.Shape[0], w = evalImage.Shape[1];
        double toEvalX = (double)w / image.Width, toEvalY = (double)h / image.Height;

        Stage("vision");
        var features = model.EncodeImage(evalImage, trace);
        try { return Run(features, boxes, context, task, teacher, Enumerable.Repeat(new AxisScale(toEvalX, toEvalY), boxes.Count).ToArray(), null); }
        finally { model.ReleaseImage(features); }
    }

    /// <summary>
    /// Prompts → decode → rerun → points on encoded image(s). <paramref name="toEval"/>: each prompt's original → eval
    /// scale; <paramref name="promptImages"/>: each prompt's image in a batch of images (null for one image).
    /// </summary>
    private Outcome Run(ImageFeatures features, IReadOnlyList<Box> boxes, int[][] context, TaskSettings task, int[][]? teacher,
        AxisScale[] toEval, int[]? promptImages)
    {
        var trace = request.Trace;
        Stage("prompts");
        var boxValues = boxes.SelectMany((b, i) => { var e = b.Scale(toEval[i].X, toEval[i].Y); return new[] { e.X0, e.Y0, e.X1, e.Y1 }; }).ToArray();
        var encoding = model.EncodePrompts(features, HostTensor.FromArray(boxValues, boxes.Count, 4), context, trace, promptImages);
        try { return Run(encoding, features, task, teacher, toEval, promptImages); }
        finally { model.ReleasePrompts(encoding); } // done with it: the next request's prompts need not copy it to the host
    }

    /// <summary>Decode → rerun → points on encoded prompts (read on the backend where the prompt graph left them).</summary>
    private Outcome Run(PromptEncoding encoding, ImageFeatures features, TaskSettings task, int[][]? teacher, AxisScale[] toEval, int[]? promptImages)
    {
        var trace = request.Trace;
        var toOriginal = toEval.Select(s => new AxisScale(1 / s.X, 1 / s.Y)).ToArray();

        int[][] raw;
        float[]? scores = null;
        if (teacher is null)
        {
            Stage("decode");
            var stream = new TokenStream(this, encoding.Prompts, task.Decoding is DecodeMode.Greedy);
            var decoded = model.Decode(encoding, task.Decoding, engine, stream.Observe);
            raw = decoded.Raw;
            scores = decoded.LogProbs;
            FiniteOutputs.Require(scores, "decode scores");
            stream.Finish(raw);
            Put(trace, "out.raw_text_tokens", raw);
            if (trace is not null) trace["out.log_probs"] = HostTensor.FromArray(scores, scores.Length);
        }
        else raw = teacher;
        var tokens = raw.Select(r => PixelLlmTokens.ZeroAfterFirstEos(r, Config.EndTokenId)).ToArray();
        Put(trace, "out.text_tokens", tokens);
        if (Config.PointHead is null) return new Outcome(tokens, scores, null, toOriginal);

        Stage("points");
        request.Cancellation.ThrowIfCancellationRequested();
        var text = model.TeacherForced(encoding, tokens, withLogits: trace is not null);
        try { return new Outcome(tokens, scores, Points(text, tokens, features, task, promptImages), toOriginal); }
        finally { model.ReleaseText(text); }
    }

    private PointOutputs Points(TextFeatures text, int[][] tokens, ImageFeatures features, TaskSettings task, int[]? promptImages)
    {
        var trace = request.Trace;
        var sizes = promptImages is null ? Enumerable.Repeat(features.Sizes[0], tokens.Length).ToArray() : promptImages.Select(i => features.Sizes[i]).ToArray();
        var points = model.Points(text, tokens, sizes, task.Validity);
        FiniteOutputs.Require(points.Coords.ToFloatArray(), "trace points");
        if (trace is not null)
        {
            trace["mid.text_feats"] = text.Features;
            trace["mid.tf_logits"] = text.Logits!;
            trace["out.point_coords"] = points.Coords;
            trace["out.point_logits"] = points.Logits;
            trace["out.point_valid_mask"] = HostTensor.FromArray(points.Valid.SelectMany(v => v.Select(b => (byte)(b ? 1 : 0))).ToArray(), tokens.Length, tokens[0].Length);
            trace["out.point_detection_boxes"] = HostTensor.FromArray(points.Boxes.SelectMany(b => b).ToArray(), tokens.Length, 4);
        }
        return points;
    }

    /// <summary>Positions BOS … first EOS of one prompt, with pieces, validity and points in original pixels.</summary>
    private TraceToken[] Tokens(Outcome run, int prompt)
    {
        var row = run.Tokens[prompt];
        int end = Array.IndexOf(row, Config.EndTokenId, 1);
        int count = end < 0 ? row.Length : end + 1;
        var pieces = Pieces(row, count);
        int perPosition = Config.PointHead?.NumOutputPoints ?? 0;
        var coords = run.Points?.Coords.ToFloatArray();
        var result = new TraceToken[count];
        for (int i = 0; i < count; i++)
        {
            var points = new TracePoint[run.Points is null ? 0 : perPosition];
            for (int p = 0; p < points.Length; p++)
            {
                int at = ((prompt * row.Length + i) * perPosition + p) * 2;
                points[p] = new TracePoint((float)(coords![at] * run.ToOriginal[prompt].X), (float)(coords[at + 1] * run.ToOriginal[prompt].Y));
            }
            var box = points.Length == 0 ? default
                : new Box(points.Min(q => q.X), points.Min(q => q.Y), points.Max(q => q.X), points.Max(q => q.Y));
            bool word = i > 0 && row[i] != Config.EndTokenId;
            result[i] = new TraceToken(i, row[i], pieces[i], word, run.Points?.Valid[prompt][i] ?? false, points, box);
        }
        return result;
    }

    /// <summary>The text each position adds: the growth of the decoded prefix (keeps SentencePiece's word spaces).</summary>
    private string[] Pieces(int[] row, int count)
    {
        var pieces = new string[count];
        var prefix = "";
        for (int i = 0; i < count; i++) pieces[i] = Piece(row, i, ref prefix);
        return pieces;
    }

    /// <summary>The piece of position <paramref name="i"/>; <paramref name="prefix"/> is the text of positions before it, then after it.</summary>
    private string Piece(int[] row, int i, ref string prefix)
    {
        if (i == 0 || row[i] == Config.EndTokenId) return "";
        var text = tokenizer.Decode(row.AsSpan(0, i + 1));
        var piece = text.StartsWith(prefix, StringComparison.Ordinal) ? text[prefix.Length..] : tokenizer.Decode([row[0], row[i]]);
        prefix = text;
        return piece;
    }

    private void Stage(string name)
    {
        request.Cancellation.ThrowIfCancellationRequested();
        Report(new StageStarted(name));
    }

    private void Report(PixelLlmEvent e) => request.OnEvent?.Invoke(e);

    private static void Put(IDictionary<string, HostTensor>? trace, string name, int[][] rows)
    {
        if (trace is not null) trace[name] = HostTensor.FromArray(rows.SelectMany(r => r).ToArray(), rows.Length, rows[0].Length);
    }

    /// <summary>
    /// Reports tokens as they become final: greedy rows at the step after they are written (rows never reorder), every row's
    /// remaining tokens once decoding ends (beam search: all of the best beam). Also checks for cancellation every step.
    /// </summary>
    private sealed class TokenStream(RequestRunner owner, int prompts, bool greedy)
    {
        private readonly int[] next = Enumerable.Repeat(1, prompts).ToArray();
        private readonly bool[] ended = new bool[prompts];
        private readonly string[] prefixes = Enumerable.Repeat("", prompts).ToArray();

        public void Observe(int position, ReadOnlySpan<int> sequences, int rows)
        {
            owner.Request.Cancellation.ThrowIfCancellationRequested();
            if (!greedy || owner.Request.OnEvent is null) return;
            int length = sequences.Length / rows;
            for (int r = 0; r < prompts; r++) Emit(r, sequences.Slice(r * length, length).ToArray(), position);
        }

        public void Finish(int[][] raw)
        {
            if (owner.Request.OnEvent is null) return;
            for (int r = 0; r < prompts; r++) Emit(r, raw[r], raw[r].Length);
        }

        private void Emit(int r, int[] row, int upTo)
        {
            int eos = owner.Config.EndTokenId;
            for (; next[r] < upTo && !ended[r]; next[r]++)
            {
                int p = next[r];
                owner.Report(new TokenDecoded(owner.promptOffset + r, p, row[p], owner.Piece(row, p, ref prefixes[r])));
                ended[r] = row[p] == eos;
            }
        }
    }
}
