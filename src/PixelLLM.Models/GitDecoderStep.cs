using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// The graph of one cached GIT decoding step for <c>rows</c> sequences: embeds one token per row at a shared position and
/// runs it through every layer against [memory keys/values (cached per prompt) ; caption cache (earlier positions) ;
/// its own key/value]. The caller keeps the caches and supplies the key mask, so the graph is built once per shape.
/// </summary>
public static class GitDecoderStep
{
    /// <summary>I32 (rows, 1): the token fed at <see cref="Position"/>.</summary>
    public const string Ids = "git_step.ids";
    /// <summary>I32 (1): the caption position of the fed tokens.</summary>
    public const string Position = "git_step.position";
    /// <summary>U8 (rows, 1, 1, M + Lmax + 1): which of [memory ; cache slots ; own key] each row attends.</summary>
    public const string KeyMask = "git_step.key_mask";
    /// <summary>F32 (rows, V): logits predicting the next position.</summary>
    public const string Logits = "git_step.logits";
    /// <summary>F32 (rows, d): last-layer state of the fed position (the text feature at that position).</summary>
    public const string Hidden = "git_step.hidden";

    public static string MemoryKeys(int layer) => $"git_step.memory_keys.{layer}";
    public static string MemoryValues(int layer) => $"git_step.memory_values.{layer}";
    public static string CacheKeys(int layer) => $"git_step.cache_keys.{layer}";
    public static string CacheValues(int layer) => $"git_step.cache_values.{layer}";
    /// <summary>F32 (rows, 1, d): the fed position's key at <paramref name="layer"/>, to append to the cache.</summary>
    public static string NewKeys(int layer) => $"git_step.new_keys.{layer}";
    public static string NewValues(int layer) => $"git_step.new_values.{layer}";

    /// <summary>Inputs every run must find unchanged from the previous one (set once per prompt).</summary>
    public static IEnumerable<string> PersistentInputs(int layers) =>
        Enumerable.Range(0, layers).SelectMany(i => new[] { MemoryKeys(i), MemoryValues(i) });

    public static void Build(ParamScope p, GitDecoderConfig c, int rows, int maxLength, int memoryLength)
    {
        c.Validate();
        c.CheckPositions(maxLength, "caption buffer");
        if (rows < 1 || maxLength < 1 || memoryLength < 1)
            throw new GraphBuildException($"GIT decoder step: rows {rows}, length {maxLength} and memory {memoryLength} must be positive");
        var g = p.Graph;
        int d = c.Hidden;
        var ids = g.Input(Ids, DType.I32, rows, 1);
        var position = g.Input(Position, DType.I32, 1);
        var mask = g.Input(KeyMask, DType.U8, rows, 1, 1, memoryLength + maxLength + 1);
        var e = p.Sub("embedding");
        var x = g.LayerNorm(g.Add(g.Embedding(e["words.weight"], ids), g.Embedding(e["positions.weight"], position)),
            e["norm.weight"], e["norm.bias"], c.EmbeddingEps);
        for (int i = 0; i < c.NumLayers; i++)
        {
            var layer = p.Sub($"layers.{i}");
            var (q, k, v) = GitDecoderLayer.Project(layer, x);
            g.Output(NewKeys(i), k);
            g.Output(NewValues(i), v);
            var keys = g.Concat(1, g.Input(MemoryKeys(i), DType.F32, rows, memoryLength, d), g.Input(CacheKeys(i), DType.F32, rows, maxLength, d), k);
            var values = g.Concat(1, g.Input(MemoryValues(i), DType.F32, rows, memoryLength, d), g.Input(CacheValues(i), DType.F32, rows, maxLength, d), v);
            x = GitDecoderLayer.Finish(layer, c, x, GitDecoderLayer.Attend(g, c, q, keys, values, mask));
        }
        var hidden = g.Reshape(x, rows, d);
        g.Output(Hidden, hidden);
        g.Output(Logits, GitDecoder.Logits(p, hidden));
    }
}
