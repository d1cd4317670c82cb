using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Checkpoints;
using PixelLLM.Models.Common;
using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Models;

/// <summary>
/// The GIT decoder on a random odd-sized model (head_dim 5, 3 layers, padded context columns at the start, middle and
/// end): the graph's teacher-forced pass against a float64 reference, the cached step path against the teacher-forced
/// pass under beam-style row reordering, and the scenic name map against the golden checkpoint.
/// </summary>
public class GitDecoderTests
{
    private const int Batch = 2, VisualTokens = 5, Length = 9;
    // Context validity is id > 0: a pad at the start, in the middle and at the end.
    private static readonly int[][] Context = [[0, 7, 3, 0], [5, 0, 9, 2]];

    [Fact]
    public void TeacherForcedPassMatchesFloat64Reference()
    {
        var c = GitTestModel.Config;
        var weights = GitTestModel.Weights(c, GitTestModel.VisualDim, seed: 11);
        var visual = RandomVisual(Batch, seed: 3);
        var rng = new Random(5);
        var captions = Enumerable.Range(0, Batch).Select(_ => Enumerable.Range(0, Length).Select(_ => rng.Next(c.VocabSize)).ToArray()).ToArray();
        captions[1][4] = 0;                                       // a pad mid-caption is an ordinary token (errata D7)

        var logits = TeacherForcedLogits(weights, c, visual, Context, captions);
        var naive = new NaiveGitDecoder(weights, c);
        var expected = new List<double>();
        for (int b = 0; b < Batch; b++)
            foreach (var row in naive.Logits(VisualRows(visual, b), Context[b], captions[b])) expected.AddRange(row);
        OpHarness.AssertClose(expected.ToArray(), logits, 1e-4, 1e-4, "GIT logits");
    }

    [Fact]
    public void CachedStepsMatchTeacherForcedPassUnderBeamReordering()
    {
        var c = GitTestModel.Config;
        var weights = GitTestModel.Weights(c, GitTestModel.VisualDim, seed: 12);
        var visual = RandomVisual(Batch, seed: 4);
        const int beams = 3, rows = Batch * beams;
        using var backend = new CpuBackend();
        var memory = GitPromptMemory.Compute(weights, c, backend, visual, ContextTensor());
        using var model = new GitStepLogits(weights, c, backend, memory);

        var rng = new Random(9);
        var sequences = new int[rows][];
        for (int r = 0; r < rows; r++) { sequences[r] = new int[Length]; Array.Fill(sequences[r], 3); sequences[r][0] = 2; }
        var parents = Enumerable.Range(0, rows).ToArray();
        var logits = new float[rows * c.VocabSize];
        for (int t = 1; t < Length - 1; t++)
        {
            if (t > 1)
            {
                // Continue random rows of the same prompt (repeats included) and write a fresh token at t − 1.
                parents = [.. Enumerable.Range(0, rows).Select(r => r / beams * beams + rng.Next(beams))];
                sequences = [.. Enumerable.Range(0, rows).Select(r => (int[])sequences[parents[r]].Clone())];
                foreach (var s in sequences) s[t - 1] = rng.Next(c.VocabSize);
            }
            model.Compute(sequences.SelectMany(s => s).ToArray(), rows, t, parents, logits);

            var rowContext = Enumerable.Range(0, rows).Select(r => Context[r / beams]).ToArray();
            var full = TeacherForcedLogits(weights, c, TileVisual(visual, beams), rowContext, sequences).ToFloatArray();
            var expected = new double[rows * c.VocabSize];
            for (int r = 0; r < rows; r++)
                for (int v = 0; v < c.VocabSize; v++) expected[r * c.VocabSize + v] = full[(r * Length + t - 1) * c.VocabSize + v];
            OpHarness.AssertClose(expected, logits, 1e-4, 1e-4, $"step logits at slot {t}");
        }
    }

    [Fact]
    public void GreedyDecodeRestartsCleanlyOnTheSameMemory()
    {
        var c = GitTestModel.Config;
        var weights = GitTestModel.Weights(c, GitTestModel.VisualDim, seed: 13);
        using var backend = new CpuBackend();
        var memory = GitPromptMemory.Compute(weights, c, backend, RandomVisual(Batch, seed: 8), ContextTensor());
        using var model = new GitStepLogits(weights, c, backend, memory);
        var options = new DecodeOptions(Bos: 2, Eos: 3, Length: Length);
        var beam = BeamSearch.Decode(model, options, Batch, new BeamOptions(3, 2));
        var first = GreedyDecoder.Decode(model, options, Batch);
        var again = GreedyDecoder.Decode(model, options, Batch);
        var beamAgain = BeamSearch.Decode(model, options, Batch, new BeamOptions(3, 2));
        Assert.Equal(first.Tokens, again.Tokens);
        Assert.Equal(first.LogProbs, again.LogProbs);
        Assert.Equal(beam.Sequences, beamAgain.Sequences);
        Assert.Equal(beam.Scores, beamAgain.Scores);
    }

    [Fact]
    public void ADecoderKeptAcrossRequestsIsReboundToEachMemory()
    {
        var c = GitTestModel.Config;
        var weights = GitTestModel.Weights(c, GitTestModel.VisualDim, seed: 15);
        using var backend = new CpuBackend();
        var first = GitPromptMemory.Compute(weights, c, backend, RandomVisual(Batch, seed: 1), ContextTensor());
        var second = GitPromptMemory.Compute(weights, c, backend, RandomVisual(Batch, seed: 2), ContextTensor());
        var options = new DecodeOptions(Bos: 2, Eos: 3, Length: Length);
        var beam = new BeamOptions(3, 2);
        using var cache = GitStepLogits.Cache(weights, c, backend, ScenicGitNames.EnginePrefix, greedyEos: 3);

        BeamResult Shared(GitPromptMemory memory) => BeamSearch.Decode(new GitStepLogits(cache, c, memory), options, Batch, beam);
        BeamResult Own(GitPromptMemory memory)
        {
            using var model = new GitStepLogits(weights, c, backend, memory, greedyEos: 3);
            return BeamSearch.Decode(model, options, Batch, beam);
        }
        var (a, b, again) = (Shared(first), Shared(second), Shared(first));
        var decoder = cache.Get(Batch, 3, Length, first.Length);

        Assert.Same(decoder, cache.Get(Batch, 3, Length, first.Length));
        Assert.Same(first, decoder.BoundMemory);
        Assert.NotEqual(Own(first).Sequences, Own(second).Sequences);   // the memories lead to different captions
        Assert.Equal(Own(first).Sequences, a.Sequences);
        Assert.Equal(Own(first).Scores, a.Scores);
        Assert.Equal(Own(second).Sequences, b.Sequences);
        Assert.Equal(Own(second).Scores, b.Scores);
        Assert.Equal(a.Scores, again.Scores);
    }

    [Fact]
    public void ScenicNamesCoverTheGoldenCheckpointOneToOne()
    {
        using var file = Runtime.SafeTensors.SafeTensorsFile.Open(Path.Combine(Golden.Root, "pixelllm_git", "tiny_git.weights.safetensors"));
        var textual = file.Names.Where(n => n.StartsWith("textual/", StringComparison.Ordinal)).ToHashSet();
        var mapped = ScenicGitNames.EngineNames(2).Select(n => (Engine: n, Scenic: ScenicGitNames.ToScenic(n))).ToList();
        Assert.All(mapped, m => Assert.NotNull(m.Scenic));
        Assert.Equal(textual.Order(), mapped.Select(m => m.Scenic!.Value.ScenicName).Order());
        Assert.All(mapped, m => Assert.Equal(m.Scenic!.Value.ScenicName.EndsWith("/kernel", StringComparison.Ordinal), m.Scenic.Value.Transpose));
        Assert.All(mapped, m =>
        {
            var shape = file.Get(m.Scenic!.Value.ScenicName).Shape;
            Assert.True(!m.Scenic.Value.Transpose || shape.Rank == 2, $"{m.Engine}: transposed tensors are 2-D");
        });
        foreach (var bad in new[] { "git.layers.01.attention.query.weight", "git.layers.0.attention.query.kernel", "sam.blocks.0.norm1.weight",
                     "git.embedding.words.bias", "git.layers.x.output.weight", "git" })
            Assert.Null(ScenicGitNames.ToScenic(bad));
    }

    [Fact]
    public void BadInputsFailWithTypedErrors()
    {
        var c = GitTestModel.Config;
        var weights = GitTestModel.Weights(c, GitTestModel.VisualDim, seed: 14);
        var g = new Graph();
        var p = new ParamScope(g, weights, "git");
        var flatVisual = g.Input("visual", DType.F32, VisualTokens, GitTestModel.VisualDim);
        var text = g.Input("text", DType.I32, 1, Length);
        var e1 = Assert.Throws<GraphBuildException>(() => GitDecoder.Build(p, c, flatVisual, null, text));
        Assert.Contains("visual", e1.Message);
        var visual = g.Input("visual3", DType.F32, 1, VisualTokens, GitTestModel.VisualDim);
        var tooLong = g.Input("long", DType.I32, 1, c.PositionTable + 1);
        Assert.Contains("position table", Assert.Throws<GraphBuildException>(() => GitDecoder.Build(p, c, visual, null, tooLong)).Message);
        var floatText = g.Input("floats", DType.F32, 1, Length);
        Assert.Throws<GraphBuildException>(() => GitDecoder.Build(p, c, visual, null, floatText));

        using var backend = new CpuBackend();
        var memory = GitPromptMemory.Compute(weights, c, backend, RandomVisual(Batch, 1), ContextTensor());
        using var decoder = new GitIncrementalDecoder(weights, c, backend, Batch, beams: 2, Length, memory.Length);
        var logits = new float[decoder.Rows * c.VocabSize];
        Assert.Throws<InvalidOperationException>(() => decoder.Step([2, 2, 2, 2], 0, default, logits));
        decoder.Bind(memory);
        Assert.Throws<InvalidInputException>(() => decoder.Step([2, 2, 2, c.VocabSize], 0, default, logits));
        Assert.Throws<InvalidInputException>(() => decoder.Step([2, 2, 2, 2], Length, default, logits));
        Assert.Throws<InvalidInputException>(() => decoder.Step([2, 2, 2, 2], 1, [0, 1, 0, 1], logits));   // rows 2, 3 belong to prompt 1
        Assert.Throws<InvalidInputException>(() => GitPromptMemory.Compute(weights, c, backend, RandomVisual(Batch, 1),
            HostTensor.FromArray(new[] { 1, c.VocabSize, 0, 0, 1, 2, 3, 4 }, Batch, 4)));
    }

    private static HostTensor TeacherForcedLogits(IWeightSource weights, GitDecoderConfig c, HostTensor visual, int[][] context, int[][] captions)
    {
        int batch = captions.Length;
        var g = new Graph();
        var p = new ParamScope(g, weights, "git");
        var visualIn = g.Input("visual", DType.F32, visual.Shape.ToArray());
        var contextIn = g.Input("context", DType.I32, batch, context[0].Length);
        var textIn = g.Input("text", DType.I32, batch, captions[0].Length);
        g.Output("logits", GitDecoder.Build(p, c, visualIn, contextIn, textIn).Logits);
        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput("visual", visual);
        exec.SetInput<int>("context", context.SelectMany(x => x).ToArray());
        exec.SetInput<int>("text", captions.SelectMany(x => x).ToArray());
        exec.Run();
        return exec.Fetch("logits");
    }

    internal static HostTensor ContextTensor() => HostTensor.FromArray(Context.SelectMany(x => x).ToArray(), Batch, Context[0].Length);

    internal static HostTensor RandomVisual(int batch, int seed) =>
        OpHarness.Random(new Random(seed), [batch, VisualTokens, GitTestModel.VisualDim]);

    private static HostTensor TileVisual(HostTensor visual, int beams)
    {
        var src = visual.ToFloatArray();
        int size = VisualTokens * GitTestModel.VisualDim;
        var dst = new float[src.Length * beams];
        for (int r = 0; r < visual.Shape[0] * beams; r++) Array.Copy(src, r / beams * size, dst, r * size, size);
        return HostTensor.FromArray(dst, visual.Shape[0] * beams, VisualTokens, GitTestModel.VisualDim);
    }

    private static double[][] VisualRows(HostTensor visual, int b)
    {
        var all = visual.ToFloatArray();
        int dv = GitTestModel.VisualDim;
        return [.. Enumerable.Range(0, VisualTokens).Select(k => all.AsSpan((b * VisualTokens + k) * dv, dv).ToArray().Select(x => (double)x).ToArray())];
    }
}
