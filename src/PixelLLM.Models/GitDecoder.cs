using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>Tensors of a teacher-forced GIT pass: the layer-0 memory, the last layer's caption rows and their logits.</summary>
/// <param name="Memory">(B, K + Lc, d): projected visual tokens followed by the context embeddings.</param>
/// <param name="TextFeats">(B, L, d): last-layer caption rows, no final norm (the point head's input).</param>
/// <param name="Logits">(B, L, V): <c>output</c> Dense (+ bias) on <paramref name="TextFeats"/>.</param>
public sealed record GitDecoderOutputs(Tensor Memory, Tensor TextFeats, Tensor Logits);

/// <summary>
/// PixelLLM's BERT/GIT text decoder (spec §5.2, errata D7/D8): a single post-LN stack over
/// [visual memory (K tokens after <c>visual_projection</c>) ; context embeddings (Lc) ; caption embeddings (L)].
/// Memory rows see every valid memory column and no caption; caption rows see valid memory columns and the caption
/// causally; context columns whose id is 0 are −∞ for every row. There is no caption padding mask (errata D7).
/// Parameters are read under engine names (see <see cref="Checkpoints.ScenicGitNames"/>), relative to <c>p</c>.
/// </summary>
public static class GitDecoder
{
    /// <summary>
    /// The reference's full pass: <paramref name="visual"/> (B, K, Dv) F32 prompt-adapter tokens (before the
    /// projection), <paramref name="context"/> (B, Lc) I32 or null, <paramref name="text"/> (B, L) I32.
    /// </summary>
    public static GitDecoderOutputs Build(ParamScope p, GitDecoderConfig c, Tensor visual, Tensor? context, Tensor text)
    {
        c.Validate();
        var g = p.Graph;
        var memory = Memory(p, c, visual, context);
        CheckIds(text, "caption", memory.Shape[0]);
        int batch = memory.Shape[0], memoryLength = memory.Shape[1], length = text.Shape[1];
        var x = g.Concat(1, memory, Embed(p, c, text, "caption"));
        var mask = g.Mul(StructureMask(g, memoryLength, length), ColumnMask(g, visual.Shape[1], context, batch, length));
        for (int i = 0; i < c.NumLayers; i++) x = GitDecoderLayer.Forward(p.Sub($"layers.{i}"), c, x, mask);
        var feats = g.Slice(x, 1, memoryLength, memoryLength + length);
        return new GitDecoderOutputs(memory, feats, Logits(p, feats));
    }

    /// <summary>Layer-0 memory (B, K + Lc, d): LN(Dense(visual)) followed by the context embeddings (positions from 0).</summary>
    public static Tensor Memory(ParamScope p, GitDecoderConfig c, Tensor visual, Tensor? context)
    {
        var g = p.Graph;
        if (visual.Shape.Rank != 3 || visual.DType != DType.F32)
            throw new GraphBuildException($"GIT decoder: visual tokens must be F32 (B, K, Dv), got {visual.Desc}");
        var projected = g.LayerNorm(g.Linear(visual, p["visual_projection.weight"], p["visual_projection.bias"]),
            p["visual_projection_norm.weight"], p["visual_projection_norm.bias"], c.VisualProjectionEps);
        if (projected.Shape[2] != c.Hidden)
            throw new GraphBuildException($"GIT decoder: visual_projection gives width {projected.Shape[2]}, config hidden is {c.Hidden}");
        if (context is null || context.Shape[-1] == 0) return projected;
        CheckIds(context, "context", visual.Shape[0]);
        return g.Concat(1, projected, Embed(p, c, context, "context"));
    }

    /// <summary>The embedding module: LN_eps(words[ids] + positions[0 … len − 1]) for ids (B, len) I32.</summary>
    public static Tensor Embed(ParamScope p, GitDecoderConfig c, Tensor ids, string what = "tokens")
    {
        var g = p.Graph;
        int length = ids.Shape[-1];
        c.CheckPositions(length, what);
        var e = p.Sub("embedding");
        var x = g.Add(g.Embedding(e["words.weight"], ids), g.Embedding(e["positions.weight"], PositionIds(g, length)));
        return g.LayerNorm(x, e["norm.weight"], e["norm.bias"], c.EmbeddingEps);
    }

    /// <summary>Vocabulary logits: <c>output</c> Dense with bias (untied).</summary>
    public static Tensor Logits(ParamScope p, Tensor hidden) => p.Graph.Linear(hidden, p["output.weight"], p["output.bias"]);

    /// <summary>
    /// The per-layer keys and values of the memory rows alone (B, M, d) each — exact for every later caption, since
    /// memory rows never attend to text (spec §5.2). <paramref name="memory"/> is <see cref="Memory"/>'s output and
    /// <paramref name="memoryValid"/> its (B, M) U8 column validity.
    /// </summary>
    public static (Tensor[] Keys, Tensor[] Values) MemoryStates(ParamScope p, GitDecoderConfig c, Tensor memory, Tensor memoryValid)
    {
        var g = p.Graph;
        int batch = memory.Shape[0], memoryLength = memory.Shape[1];
        var mask = g.Reshape(memoryValid, batch, 1, 1, memoryLength);
        var keys = new Tensor[c.NumLayers];
        var values = new Tensor[c.NumLayers];
        var x = memory;
        for (int i = 0; i < c.NumLayers; i++)
        {
            var layer = p.Sub($"layers.{i}");
            var (q, k, v) = GitDecoderLayer.Project(layer, x);
            keys[i] = k; values[i] = v;
            if (i < c.NumLayers - 1) x = GitDecoderLayer.Finish(layer, c, x, GitDecoderLayer.Attend(g, c, q, k, v, mask));
        }
        return (keys, values);
    }

    /// <summary>(B, K + Lc) U8 memory-column validity: visual always, context where the id is not 0 (ids are never negative).</summary>
    public static Tensor MemoryValidity(Graph g, int batch, int visualTokens, Tensor? context)
    {
        var ones = Ones(g, batch, visualTokens);
        return context is null || context.Shape[-1] == 0 ? ones : g.Concat(1, ones, ContextValidity(g, context));
    }

    private static Tensor ContextValidity(Graph g, Tensor context)
    {
        if (!g.TryGet("aux.git.one_i32", out var one)) one = g.Weight("aux.git.one_i32", HostTensor.FromArray(new[] { 1 }, 1));
        return g.Cast(g.Apply(new BinaryOp(BinaryKind.Min), context, one), DType.U8);
    }

    /// <summary>(B, 1, 1, K + Lc + L): 1 for visual and caption columns, the context validity in between.</summary>
    private static Tensor ColumnMask(Graph g, int visualTokens, Tensor? context, int batch, int length)
    {
        var columns = g.Concat(1, MemoryValidity(g, batch, visualTokens, context), Ones(g, batch, length));
        return g.Reshape(columns, batch, 1, 1, columns.Shape[1]);
    }

    /// <summary>(1, 1, M + L, M + L): memory rows see memory; caption rows see memory and earlier-or-equal caption slots.</summary>
    private static Tensor StructureMask(Graph g, int memoryLength, int length)
    {
        var name = $"aux.git.structure.{memoryLength}+{length}";
        if (g.TryGet(name, out var t)) return t;
        int s = memoryLength + length;
        var m = new byte[s * s];
        for (int row = 0; row < s; row++)
        {
            int visible = row < memoryLength ? memoryLength : row + 1;
            m.AsSpan(row * s, visible).Fill(1);
        }
        return g.Weight(name, HostTensor.FromArray(m, 1, 1, s, s));
    }

    private static Tensor PositionIds(Graph g, int length)
    {
        var name = $"aux.git.positions.{length}";
        return g.TryGet(name, out var t) ? t : g.Weight(name, HostTensor.FromArray(Enumerable.Range(0, length).ToArray(), length));
    }

    private static Tensor Ones(Graph g, int rows, int columns)
    {
        var name = $"aux.git.ones.{rows}x{columns}";
        if (g.TryGet(name, out var t)) return t;
        var data = new byte[rows * columns];
        Array.Fill(data, (byte)1);
        return g.Weight(name, HostTensor.FromArray(data, rows, columns));
    }

    private static void CheckIds(Tensor ids, string what, int batch)
    {
        if (ids.Shape.Rank != 2 || ids.DType != DType.I32 || ids.Shape[0] != batch)
            throw new GraphBuildException($"GIT decoder: {what} ids must be I32 ({batch}, length), got {ids.Desc}");
    }
}
