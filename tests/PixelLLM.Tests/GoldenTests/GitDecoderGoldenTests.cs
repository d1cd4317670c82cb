using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Models.Decoding;
using PixelLLM.Models.Tokenizers;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using Xunit.Abstractions;

namespace PixelLLM.Tests.GoldenTests;

/// <summary>
/// The GIT decoder against the end-to-end <c>pixelllm_git</c> goldens, stage by stage and without the vision side: the
/// golden prompt-adapter tokens (<c>mid.visual_features</c>, before <c>visual_projection</c>), context ids and decoded
/// tokens drive (1) the teacher-forced rerun (<c>mid.memory</c>, <c>mid.text_feats</c>, <c>mid.tf_logits</c>) and (2) the
/// cached decoder under scenic's greedy / beam search (tokens, scores, beams, greedy margins, texts).
/// </summary>
public class GitDecoderGoldenTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases => new() { "caption_trace", "loca_caption" };

    [Theory]
    [MemberData(nameof(Cases))]
    public void TeacherForcedRerunMatchesGolden(string caseName)
    {
        using var golden = new GitGoldenCase(caseName);
        // In this set the adapter output enters the decoder unprojected (visual_project_layers 'none').
        var same = GoldenComparison.CompareOne("mid.visual_features", golden.Tensor("mid.adapter_out"), golden.Tensor("mid.visual_features"), new(0, 0));
        Assert.True(same.Passed, "mid.visual_features should equal mid.adapter_out in the GIT set");

        var checks = new List<TensorCheck>();
        var featNames = golden.Variants("mid", "text_feats");
        Assert.NotEmpty(featNames);
        foreach (var featName in featNames)
        {
            var logitName = featName[..^"text_feats".Length] + "tf_logits";
            var tokens = golden.Tokens("out" + featName["mid".Length..^"text_feats".Length] + "text_tokens");
            var run = TeacherForced(golden, tokens);
            checks.Add(Check(featName, golden.Tensor(featName), run["feats"], golden.FloatTolerance));
            checks.Add(Check(logitName, golden.Tensor(logitName), run["logits"], golden.LogitTolerance));
            checks.Add(Check("mid.memory", golden.Tensor("mid.memory"), run["memory"], golden.FloatTolerance));
            checks.Add(Check("mid.memory_valid_mask", golden.Tensor("mid.memory_valid_mask"), run["valid"], golden.FloatTolerance));
        }
        AssertAll(caseName, checks);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void DecodingMatchesGolden(string caseName)
    {
        using var golden = new GitGoldenCase(caseName);
        using var backend = new CpuBackend();
        var memory = GitPromptMemory.Compute(golden.Weights, golden.Config, backend, golden.VisualTokens(), golden.ContextTokens());
        using var model = new GitStepLogits(golden.Weights, golden.Config, backend, memory);
        int prompts = memory.Batch, length = golden.Decode.Length;
        var tokenizer = BertWordPieceTokenizer.Load(golden.VocabPath);
        var texts = golden.Root.GetProperty("outputs_text").GetProperty("main").EnumerateArray().Select(e => e.GetString()!).ToArray();
        var checks = new List<TensorCheck>();

        int[][] best;
        float[] scores;
        if (golden.Beam is { } beam)
        {
            var result = BeamSearch.Decode(model, golden.Decode, prompts, beam);
            best = [.. Enumerable.Range(0, prompts).Select(result.Best)];
            scores = [.. Enumerable.Range(0, prompts).Select(result.BestScore)];
            checks.AddRange(BeamChecks(golden, result, tokenizer));
        }
        else
        {
            var recorder = new RecordingStepLogits(model);
            var result = GreedyDecoder.Decode(recorder, golden.Decode, prompts);
            best = result.Tokens;
            scores = result.LogProbs;
            checks.Add(Check("out.greedy_margin", golden.Tensor("out.greedy_margin"),
                Flat(GreedyMargins(recorder, best, golden.Decode), prompts, length - 2), golden.LogitTolerance));
            if (golden.Has("out.beam_text_tokens"))
            {
                checks.Add(Check("out.beam_text_tokens", golden.Tensor("out.beam_text_tokens"), Flat(best, prompts, length), golden.FloatTolerance));
                checks.Add(Check("out.beam_log_probs", golden.Tensor("out.beam_log_probs"), HostTensor.FromArray(scores, 1, prompts, 1), golden.LogitTolerance));
            }
        }
        checks.Add(Check("out.raw_text_tokens", golden.Tensor("out.raw_text_tokens"), Flat(best, prompts, length), golden.FloatTolerance));
        checks.Add(Check("out.text_tokens", golden.Tensor("out.text_tokens"),
            Flat([.. best.Select(s => ZeroAfterEos(s, golden.Decode.Eos))], prompts, length), golden.FloatTolerance));
        checks.Add(Check("out.log_probs", golden.Tensor("out.log_probs"), HostTensor.FromArray(scores, 1, prompts), golden.LogitTolerance));
        AssertAll(caseName, checks);
        Assert.Equal(texts, best.Select(s => tokenizer.Decode(s)).ToArray());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ContextPromptsTokeniseToGoldenIds(string caseName)
    {
        using var golden = new GitGoldenCase(caseName);
        var tokenizer = BertWordPieceTokenizer.Load(golden.VocabPath);
        var context = golden.ContextTokens();
        int lc = context.Shape[1];
        var prompts = golden.Root.GetProperty("prompts").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal(context.Shape[0], prompts.Length);
        for (int n = 0; n < prompts.Length; n++)
            Assert.Equal(context.AsSpan<int>().Slice(n * lc, lc).ToArray(), tokenizer.EncodePrompt(prompts[n], lc));
    }

    private static Dictionary<string, HostTensor> TeacherForced(GitGoldenCase golden, HostTensor tokens)
    {
        var visual = golden.VisualTokens();
        var context = golden.ContextTokens();
        var g = new Graph();
        var p = new ParamScope(g, golden.Weights, "git");
        var visualIn = g.Input("visual", DType.F32, visual.Shape.ToArray());
        var contextIn = g.Input("context", DType.I32, context.Shape.ToArray());
        var textIn = g.Input("text", DType.I32, tokens.Shape.ToArray());
        var outputs = GitDecoder.Build(p, golden.Config, visualIn, contextIn, textIn);
        g.Output("memory", outputs.Memory);
        g.Output("feats", outputs.TextFeats);
        g.Output("logits", outputs.Logits);
        g.Output("valid", GitDecoder.MemoryValidity(g, visual.Shape[0], visual.Shape[1], contextIn));
        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput("visual", visual);
        exec.SetInput("context", context);
        exec.SetInput("text", tokens);
        exec.Run();
        return new[] { "memory", "feats", "logits", "valid" }.ToDictionary(n => n, exec.Fetch);
    }

    /// <summary>Flags, every flagged beam and the best beam exactly; scores of the same slots within the log-prob tolerance.</summary>
    private static IEnumerable<TensorCheck> BeamChecks(GitGoldenCase golden, BeamResult result, BertWordPieceTokenizer tokenizer)
    {
        var refTokens = golden.Tensor("out.beam_text_tokens");
        var refScores = golden.Tensor("out.beam_log_probs").ToFloatArray();
        var refFlags = golden.Tensor("out.beam_finished_flags");
        int prompts = refTokens.Shape[1], beams = refTokens.Shape[2], length = refTokens.Shape[3];
        var flags = result.Finished.SelectMany(f => f.Select(x => x ? (byte)1 : (byte)0)).ToArray();
        yield return Check("out.beam_finished_flags", refFlags, HostTensor.FromArray(flags, 1, prompts, beams), golden.FloatTolerance);
        var allTexts = golden.Root.GetProperty("outputs_text").GetProperty("main_all_beams");
        var ids = refTokens.AsSpan<int>().ToArray();
        var flagBytes = refFlags.AsSpan<byte>().ToArray();
        for (int n = 0; n < prompts; n++)
            for (int b = 0; b < beams; b++)
            {
                if (flagBytes[n * beams + b] == 0 && b != beams - 1) continue;    // unflagged fillers: content hinges on −1e7 rounding
                string slot = $"out.beam_text_tokens[{n},{b}]";
                var expected = HostTensor.FromArray(ids.AsSpan((n * beams + b) * length, length).ToArray(), length);
                yield return Check(slot, expected, HostTensor.FromArray(result.Sequences[n][b], length), golden.FloatTolerance);
                yield return Check($"out.beam_log_probs[{n},{b}]", HostTensor.FromArray(new[] { refScores[n * beams + b] }, 1),
                    HostTensor.FromArray(new[] { result.Scores[n][b] }, 1), golden.LogitTolerance);
                var text = allTexts[n][b].GetString()!;
                var mine = tokenizer.Decode(result.Sequences[n][b]);
                yield return new TensorCheck($"outputs_text.main_all_beams[{n}][{b}]", "text", 0, 0, 0, text == mine, $"'{mine}' vs '{text}'");
            }
    }

    /// <summary>The golden's top-1 − top-2 log-prob per greedy step (−1 after EOS), from the logits the decoder saw.</summary>
    private static float[][] GreedyMargins(RecordingStepLogits recorder, int[][] tokens, DecodeOptions options)
    {
        int rows = tokens.Length, vocab = recorder.VocabSize;
        var margins = new float[rows][];
        for (int r = 0; r < rows; r++)
        {
            margins[r] = new float[options.Length - 2];
            for (int t = 1; t < options.Length - 1; t++)
            {
                int previous = tokens[r][t - 1];
                if (previous == options.Eos) { margins[r][t - 1] = -1f; continue; }
                var row = recorder.Logits[t].AsSpan(r * vocab, vocab).ToArray().Select(x => (double)x).ToArray();
                row[previous] = Math.Min(row[previous], GreedyDecoder.RepeatCap);
                var sorted = row.OrderDescending().ToArray();
                margins[r][t - 1] = (float)(sorted[0] - sorted[1]);     // log-softmax shifts both alike
            }
        }
        return margins;
    }

    private static int[] ZeroAfterEos(int[] sequence, int eos)
    {
        var copy = (int[])sequence.Clone();
        int first = Array.IndexOf(copy, eos);
        if (first >= 0) copy.AsSpan(first + 1).Clear();
        return copy;
    }

    private static HostTensor Flat(int[][] rows, int n, int length) => HostTensor.FromArray(rows.SelectMany(r => r).ToArray(), 1, n, length);
    private static HostTensor Flat(float[][] rows, int n, int length) => HostTensor.FromArray(rows.SelectMany(r => r).ToArray(), n, length);

    /// <summary>Compares after giving ours the reference's shape (same element count, e.g. (N, L, d) vs (1, N, L, d)).</summary>
    private static TensorCheck Check(string name, HostTensor reference, HostTensor mine, Tolerance tol)
    {
        if (mine.Desc.ElementCount == reference.Desc.ElementCount && mine.Shape != reference.Shape)
            mine = new HostTensor(mine.Desc with { Shape = reference.Shape }, mine.Data);
        return GoldenComparison.CompareOne(name, reference, mine, tol);
    }

    private void AssertAll(string caseName, IReadOnlyList<TensorCheck> checks)
    {
        foreach (var c in checks) output.WriteLine($"{caseName} {c.Name} {c.Shape}: max|err| {c.MaxAbsError:g3}, err/tol {c.WorstRatio:g3} {c.Note}");
        var failed = checks.Where(c => !c.Passed).ToList();
        Assert.True(failed.Count == 0, $"{caseName}: " + string.Join("; ",
            failed.Select(c => $"{c.Name} {c.Shape} max|err|={c.MaxAbsError:g3} err/tol={c.WorstRatio:g3} {c.Note}")));
    }

    /// <summary>Keeps a copy of the logits of every call, keyed by the slot being written.</summary>
    private sealed class RecordingStepLogits(IStepLogits inner) : IStepLogits
    {
        public Dictionary<int, float[]> Logits { get; } = [];
        public int VocabSize => inner.VocabSize;

        public void Compute(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, Span<float> logits)
        {
            inner.Compute(sequences, rows, position, parents, logits);
            Logits[position] = logits.ToArray();
        }
    }
}
