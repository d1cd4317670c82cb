using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// One cached GIT decoding step for R rows, built once per (R, Lmax, M) and re-run for every position. Each layer keeps
/// one key and one value state (R, M + Lmax, d): slots [0, M) hold the prompt memory's keys/values (written once per
/// prompt, see <see cref="GitIncrementalDecoder.Bind"/>), slot M + t the caption position t. A step reorders the rows
/// (beam search), writes the fed token's key/value at <see cref="Slot"/> and attends over the whole state under
/// <see cref="KeyMask"/>, so no memory row is ever recomputed (spec §5.2: memory rows never see the caption).
/// </summary>
public static class GitDecoderStep
{
    /// <summary>I32 (R, 1): the token fed at <see cref="Position"/>.</summary>
    public const string Ids = "git_step.ids";
    /// <summary>I32 (1): caption position of the fed tokens (its position embedding).</summary>
    public const string Position = "git_step.position";
    /// <summary>I32 (1): state slot of that position, M + position.</summary>
    public const string Slot = "git_step.slot";
    /// <summary>
    /// I32 (R): the row of the previous step each row continues; applied to the states before the write. Only in a step
    /// built with rows that move (beams &gt; 1): with one beam every row continues itself.
    /// </summary>
    public const string Parents = "git_step.parents";
    /// <summary>U8 (R, 1, 1, M + Lmax): valid memory slots and caption slots ≤ position.</summary>
    public const string KeyMask = "git_step.key_mask";
    /// <summary>Output F32 (R, V): logits predicting the next position.</summary>
    public const string Logits = "git_step.logits";
    /// <summary>Output F32 (R, d): last-layer state of the fed position (its text feature).</summary>
    public const string Hidden = "git_step.hidden";

    /// <summary>State F32 (R, M + Lmax, d): memory then caption keys of <paramref name="layer"/>.</summary>
    public static string Keys(int layer) => $"git_cache.{layer}.k";
    public static string Values(int layer) => $"git_cache.{layer}.v";

    /// <param name="rowsMove">
    /// Whether a row may continue another one (beam search with beams &gt; 1). Without it the step has no
    /// <see cref="Parents"/> input and writes the states in place with no reorder (two launches per layer fewer).
    /// </param>
    /// <param name="greedyEos">When set, the step also makes the greedy choice next to the logits (<see cref="Decoding.StepChoice"/>).</param>
    /// <param name="beamCandidates">When set, the step also chooses (beams, keep) beam-search candidates (<see cref="Decoding.StepChoice"/>).</param>
    public static void Build(ParamScope p, GitDecoderConfig c, int rows, int maxLength, int memoryLength, bool rowsMove = true, int? greedyEos = null,
        (int Beams, int Keep)? beamCandidates = null)
    {
        c.Validate();
        c.CheckPositions(maxLength, "caption buffer");
        if (rows < 1 || maxLength < 1 || memoryLength < 1)
            throw new GraphBuildException($"GIT decoder step: rows {rows}, length {maxLength} and memory {memoryLength} must be ≥ 1");
        var g = p.Graph;
        int slots = memoryLength + maxLength;
        var ids = g.Input(Ids, DType.I32, rows, 1);
        var position = g.Input(Position, DType.I32, 1);
        var slot = g.Input(Slot, DType.I32, 1);
        var parents = rowsMove ? g.Input(Parents, DType.I32, rows) : null;
        var mask = g.Input(KeyMask, DType.U8, rows, 1, 1, slots);
        var e = p.Sub("embedding");
        var x = g.LayerNorm(g.Add(g.Embedding(e["words.weight"], ids), g.Embedding(e["positions.weight"], position)),
            e["norm.weight"], e["norm.bias"], c.EmbeddingEps);                          // (R, 1, d)
        var allKeys = Enumerable.Range(0, c.NumLayers).Select(i => g.State(Keys(i), DType.F32, rows, slots, c.Hidden)).ToArray();
        var allValues = Enumerable.Range(0, c.NumLayers).Select(i => g.State(Values(i), DType.F32, rows, slots, c.Hidden)).ToArray();
        // Beam search may continue a row from another one: every layer's states move first, in one op — the slots
        // before this step's (memory and earlier tokens); the later ones hold nothing yet.
        if (parents is not null) allKeys[0] = g.ReorderRows([.. allKeys, .. allValues], parents, slot);
        for (int i = 0; i < c.NumLayers; i++)
        {
            var layer = p.Sub($"layers.{i}");
            var (keys, values) = (allKeys[i], allValues[i]);
            // q, k and v in one op (one launch on CUDA); k and v go straight into their state slots, and the attention
            // created after it reads the updated states.
            var a = layer.Sub("attention");
            var q = g.QkvProjection(x, (a["query.weight"], a["query.bias"]), (a["key.weight"], a["key.bias"]), (a["value.weight"], a["value.bias"]),
                keys, values, slot);
            x = GitDecoderLayer.Finish(layer, c, x, GitDecoderLayer.Attend(g, c, q, keys, values, mask));
        }
        var hidden = g.Reshape(x, rows, c.Hidden);
        g.Output(Hidden, hidden);
        // The vocabulary head runs on (R, 1, d), one row per item: on the CPU its GEMM path is then chosen per row, not by
        // how many prompts and beams share the step, so a prompt's logits do not depend on its batch.
        var perRow = GitDecoder.Logits(p, x);
        var logits = g.Reshape(perRow, rows, perRow.Shape[2]);
        g.Output(Logits, logits);
        Decoding.StepChoice.Build(g, logits, ids, greedyEos, beamCandidates, "GIT decoder step");
    }
}
