using System.Runtime.InteropServices;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models.Decoding;

/// <summary>
/// The decoding choices a cached step graph (T5's, GIT's) can make next to its logits, so that a step hands back a few
/// bytes per row: greedy decoding's token and scores (<see cref="GreedyPickOp"/>), beam search's candidates
/// (<see cref="BeamCandidatesOp"/>). The same tensor names in every step graph; the executor helpers read and write them.
/// </summary>
public static class StepChoice
{
    /// <summary>Output (with a greedy EOS): the greedy token per row, I32 (R).</summary>
    public const string GreedyToken = "greedy.token";
    /// <summary>State (with a greedy EOS), written by every step: (log-prob, margin) of that token per row, (R, 2).</summary>
    public const string GreedyScore = "greedy.score";
    /// <summary>Input (with beam candidates): each row's live log-prob as float32 bits, I32 (R).</summary>
    public const string BeamLive = "beam.live";
    /// <summary>Output (with beam candidates): each element's best flat indices beam·V + token, I32 (R / beams, keep).</summary>
    public const string BeamCandidates = "beam.candidates";
    /// <summary>State (with beam candidates), written by every step: their values as float32 bits, I32 (R / beams, keep).</summary>
    public const string BeamValues = "beam.values";

    /// <summary>
    /// Adds the choices asked for after <paramref name="logits"/> (R, V): the greedy one with <paramref name="greedyEos"/> and
    /// each row's fed token <paramref name="ids"/> as the previous one; the beam candidates of <paramref name="beamCandidates"/>.
    /// </summary>
    public static void Build(Graph g, Tensor logits, Tensor ids, int? greedyEos, (int Beams, int Keep)? beamCandidates, string step)
    {
        int rows = logits.Shape[0];
        if (greedyEos is { } eos)
        {
            var scores = g.State(GreedyScore, DType.F32, rows, 2);
            g.Output(GreedyToken, g.GreedyPick(logits, ids, scores, eos, GreedyDecoder.RepeatCap));
        }
        if (beamCandidates is { } choice)
        {
            var (beams, keep) = choice;
            if (beams < 1 || rows % beams != 0) throw new GraphBuildException($"{step}: {rows} rows are not a whole number of {beams}-beam elements");
            var live = g.Input(BeamLive, DType.I32, rows);
            var values = g.State(BeamValues, DType.I32, rows / beams, keep);
            g.Output(BeamCandidates, g.BeamCandidates(logits, live, values, beams, keep));
        }
    }

    /// <summary>The last run's greedy token per row and its (log-prob, margin) pairs; <paramref name="built"/>: the step has the choice.</summary>
    public static void FetchGreedy(GraphExecutor step, bool built, Span<int> tokens, Span<float> scores, string owner)
    {
        if (!built) throw new InvalidOperationException($"this {owner} was built without the greedy choice");
        step.FetchInto(GreedyToken, tokens);
        step.FetchInto(GreedyScore, scores);
    }

    /// <summary>Each row's live log-prob for the candidates of the step's next run (<paramref name="keep"/>: as built, or null).</summary>
    public static void SetLiveLogProbs(GraphExecutor step, int? keep, int rows, ReadOnlySpan<float> live, string owner)
    {
        if (keep is null) throw new InvalidOperationException($"this {owner} was built without the beam candidates");
        if (live.Length != rows) throw new InvalidInputException($"{owner}: {live.Length} live log-probs for {rows} rows");
        step.SetInput(BeamLive, MemoryMarshal.Cast<float, int>(live));
    }

    /// <summary>The last run's candidates per element: flat indices and their values, <paramref name="batch"/> × keep each.</summary>
    public static void FetchCandidates(GraphExecutor step, int? keep, int batch, Span<int> indices, Span<float> values, string owner)
    {
        if (keep is not { } k) throw new InvalidOperationException($"this {owner} was built without the beam candidates");
        if (indices.Length != batch * k || values.Length != batch * k)
            throw new InvalidInputException($"{owner}: beam candidates fill {batch}×{k} values, got {indices.Length} and {values.Length}");
        step.FetchInto(BeamCandidates, indices);
        step.FetchInto(BeamValues, MemoryMarshal.Cast<float, int>(values));
    }
}
