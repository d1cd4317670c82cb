using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// One incremental T5 decoder step for R rows, built once per (R, Lmax, Lm) and re-run for every position: the new token
/// of each row goes through every layer, its self-attention key/value is written into per-layer caches (states (R, Lmax,
/// inner)) at the step's position and attention reads the whole cache under a mask of the positions fed so far. Cross
/// attention reads key/value states that <see cref="T5CrossPrefill"/> fills once per memory.
/// </summary>
public static class T5DecoderStep
{
    /// <summary>Token per row, I32 (R, 1).</summary>
    public const string Ids = "step.ids";
    /// <summary>The position being fed, I32 (1).</summary>
    public const string Position = "step.position";
    /// <summary>
    /// Row of the previous step each row continues, I32 (R); applied to the self caches before the write. Only in a step
    /// built with rows that move (beams &gt; 1): with one beam every row continues itself.
    /// </summary>
    public const string Parents = "step.parents";
    /// <summary>Key slots each row's query may attend to (at most the slots fed so far), U8 (R, 1, 1, Lmax).</summary>
    public const string SelfMask = "step.self_mask";
    /// <summary>State: memory keys each row may attend to, U8 (R, 1, 1, Lm).</summary>
    public const string CrossMask = "cache.cross_mask";
    /// <summary>Output: next-token logits (R, V).</summary>
    public const string Logits = "logits";
    /// <summary>Output: final-normed decoder state (R, d).</summary>
    public const string Hidden = "hidden";
    public static string SelfKey(int layer) => $"cache.self.{layer}.k";
    public static string SelfValue(int layer) => $"cache.self.{layer}.v";
    public static string CrossKey(int layer) => $"cache.cross.{layer}.k";
    public static string CrossValue(int layer) => $"cache.cross.{layer}.v";

    /// <summary>Adds the step to <paramref name="p"/>'s graph (inputs, states and the two outputs named above).</summary>
    /// <param name="rowsMove">
    /// Whether a row may continue another one (beam search with beams &gt; 1). Without it the step has no
    /// <see cref="Parents"/> input and writes the caches in place with no reorder.
    /// </param>
    /// <param name="greedyEos">When set, the step also makes the greedy choice next to the logits (<see cref="Decoding.StepChoice"/>).</param>
    /// <param name="beamCandidates">When set, the step also chooses (beams, keep) beam-search candidates (<see cref="Decoding.StepChoice"/>).</param>
    public static void Build(ParamScope p, T5Config c, int rows, int maxLength, int memoryLength, bool rowsMove = true, int? greedyEos = null,
        (int Beams, int Keep)? beamCandidates = null)
    {
        if (rows < 1 || maxLength < 1 || memoryLength < 1)
            throw new GraphBuildException($"T5 decoder step needs rows, max length and memory length ≥ 1, got {rows}, {maxLength}, {memoryLength}");
        if (c.FeedForward != T5FeedForward.GatedGeluTanh)
            throw new GraphBuildException($"T5 decoder step: the cached decoder runs Flan-T5's gated-gelu feed-forward only, not {c.FeedForward}");
        var g = p.Graph;
        var ids = g.Input(Ids, DType.I32, rows, 1);
        var position = g.Input(Position, DType.I32, 1);
        var parents = rowsMove ? g.Input(Parents, DType.I32, rows) : null;
        var selfMask = g.Input(SelfMask, DType.U8, rows, 1, 1, maxLength);
        var crossMask = g.State(CrossMask, DType.U8, rows, 1, 1, memoryLength);
        var stack = p.Sub("decoder");
        // (1, H, 1, Lmax): the bias of every key slot for this step's query, computed on the device from the position.
        var bias = g.Reshape(T5.PositionBias(stack.Sub("block.0.layer.0.SelfAttention"), c, 1, maxLength, bidirectional: false, position: position),
            1, c.NumHeads, 1, maxLength);

        var x = g.Embedding(p["shared.weight"], ids);                                   // (R, 1, d)
        var keys = Enumerable.Range(0, c.NumDecoderLayers).Select(i => g.State(SelfKey(i), DType.F32, rows, maxLength, c.Inner)).ToArray();
        var values = Enumerable.Range(0, c.NumDecoderLayers).Select(i => g.State(SelfValue(i), DType.F32, rows, maxLength, c.Inner)).ToArray();
        // Beam search may continue a row from another one: every layer's cached prefixes move first, in one op (one
        // launch on CUDA for all of them); each layer then appends this step. Only the slots before the position hold
        // anything yet, so only they move (a short caption's step moves a few of Lmax slots).
        if (parents is not null) keys[0] = g.ReorderRows([.. keys, .. values], parents, position);
        var states = Enumerable.Range(0, c.NumDecoderLayers).Select(i => new GraphOps.T5DecoderLayerStates(keys[i], values[i],
            g.State(CrossKey(i), DType.F32, rows, memoryLength, c.Inner), g.State(CrossValue(i), DType.F32, rows, memoryLength, c.Inner))).ToArray();
        var weights = Enumerable.Range(0, c.NumDecoderLayers).Select(i => LayerWeights(stack.Sub($"block.{i}"))).ToArray();
        x = g.T5DecoderStack(new T5DecoderStackOp(c.NumHeads, c.Eps, c.MaskBias, c.NumDecoderLayers), x, weights, states, position, bias,
            selfMask, crossMask);
        var hidden = g.RmsNorm(x, stack["final_layer_norm.weight"], c.Eps);
        var logits = g.Reshape(T5.Logits(p, c, hidden), rows, c.VocabSize);
        g.Output(Logits, logits);
        g.Output(Hidden, g.Reshape(hidden, rows, c.DModel));
        Decoding.StepChoice.Build(g, logits, ids, greedyEos, beamCandidates, "T5 decoder step");
    }

    /// <summary>
    /// One layer's weights: pre-norm self-attention (layer.0), pre-norm cross-attention (layer.1), pre-norm gated-GELU
    /// feed-forward (layer.2), as <see cref="T5DecoderLayerOp"/> reads them (the whole stack is one op: <see cref="T5DecoderStackOp"/>).
    /// </summary>
    private static GraphOps.T5DecoderLayerWeights LayerWeights(ParamScope block)
    {
        var (self, cross, ff) = (block.Sub("layer.0"), block.Sub("layer.1"), block.Sub("layer.2"));
        var (a, e, d) = (self.Sub("SelfAttention"), cross.Sub("EncDecAttention"), ff.Sub("DenseReluDense"));
        return new(self["layer_norm.weight"], a["q.weight"], a["k.weight"], a["v.weight"], a["o.weight"],
            cross["layer_norm.weight"], e["q.weight"], e["o.weight"],
            ff["layer_norm.weight"], d["wi_0.weight"], d["wi_1.weight"], d["wo.weight"]);
    }
}
