using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models;

/// <summary>
/// The one place where learnt position tables are resized to an image grid (spec §3.3 step 3, §3.4 steps 2–3, §12.1):
/// the encoders call these while building their graphs, and converters call <see cref="ForCanvas"/> to store the tables
/// already resized for a model's canvas (the encoders then use them as they are). Same ops, so the same numbers.
/// </summary>
public static class PositionTables
{
    /// <summary>EVA02's patch part of pos_embed, (1, Th, Tw, C) → (1, gridH, gridW, C): jax bicubic with antialias.</summary>
    public static Tensor ResizeEvaPatches(Graph g, Tensor table, int gridH, int gridW) =>
        g.Resize(table, [1, 2], [gridH, gridW], ResizeKernel.Cubic, antialias: true);

    /// <summary>SAM's pos_embed (1, Th, Tw, C) → (1, gridH, gridW, C) with the config's kernel.</summary>
    public static Tensor ResizeSamPosEmbed(Graph g, SamImageEncoderConfig cfg, Tensor table, int gridH, int gridW) =>
        g.Resize(table, [1, 2], [gridH, gridW], cfg.PosResize.Kernel, cfg.PosResize.Antialias);

    /// <summary>A SAM rel-pos table (L, head dim) → (<paramref name="length"/>, head dim): linear along axis 0.</summary>
    public static Tensor ResizeSamRelPos(Graph g, SamImageEncoderConfig cfg, Tensor table, int length) =>
        g.Resize(table, [0], [length], ResizeKernel.Linear, cfg.RelPosResizeAntialias);

    /// <summary>Names of the engine tensors <see cref="ForCanvas"/> rewrites for <paramref name="config"/>.</summary>
    public static IEnumerable<string> Names(PixelLlmConfig config)
    {
        yield return "eva02.pos_embed";
        yield return "sam.image_encoder.pos_embed";
        foreach (var block in config.Sam.GlobalAttnIndexes.Order())
        {
            yield return $"sam.image_encoder.blocks.{block}.attn.rel_pos_h";
            yield return $"sam.image_encoder.blocks.{block}.attn.rel_pos_w";
        }
    }

    /// <summary>
    /// The tables of <paramref name="engine"/> (engine names) resized for <paramref name="config"/>'s canvas:
    /// eva02.pos_embed (1, 1 + G², C) with the cls row as is, sam.image_encoder.pos_embed (1, S, S, C) and every global
    /// block's rel_pos_h/w (2S − 1, head dim). Tables already of those sizes are returned unchanged (as f32).
    /// </summary>
    public static Dictionary<string, HostTensor> ForCanvas(PixelLlmConfig config, IWeightSource engine, IBackend backend)
    {
        var result = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        int evaGrid = config.EvaGrid, samGrid = config.SamGrid, c = config.Eva.EmbedDim;

        var eva = engine.Get("eva02.pos_embed").ToF32();
        int tableTokens = eva.Shape[1] - 1;
        if (eva.Shape.Rank != 3 || eva.Shape[2] != c || tableTokens < 1)
            throw new ModelFileException($"eva02.pos_embed is {eva.Shape}, expected (1, 1 + patches, {c})");
        if (tableTokens == evaGrid * evaGrid) result["eva02.pos_embed"] = eva;
        else
        {
            int side = (int)Math.Round(Math.Sqrt(tableTokens));
            if (side * side != tableTokens)
                throw new ModelFileException($"eva02.pos_embed has {tableTokens} patch rows, not a square grid");
            var values = eva.ToFloatArray();
            var patches = HostTensor.FromArray(values[c..], 1, side, side, c);
            var resized = Run(backend, patches, (g, t) => ResizeEvaPatches(g, t, evaGrid, evaGrid)).ToFloatArray();
            result["eva02.pos_embed"] = HostTensor.FromArray([.. values[..c], .. resized], 1, 1 + evaGrid * evaGrid, c);
        }

        var sam = engine.Get("sam.image_encoder.pos_embed").ToF32();
        if (sam.Shape.Rank != 4 || sam.Shape[3] != config.Sam.EmbedDim)
            throw new ModelFileException($"sam.image_encoder.pos_embed is {sam.Shape}, expected (1, Ht, Wt, {config.Sam.EmbedDim})");
        result["sam.image_encoder.pos_embed"] = sam.Shape[1] == samGrid && sam.Shape[2] == samGrid ? sam
            : Run(backend, sam, (g, t) => ResizeSamPosEmbed(g, config.Sam, t, samGrid, samGrid));

        foreach (var name in Names(config).Where(n => n.Contains(".rel_pos_", StringComparison.Ordinal)))
        {
            var table = engine.Get(name).ToF32();
            if (table.Shape.Rank != 2 || table.Shape[1] != config.Sam.HeadDim)
                throw new ModelFileException($"{name} is {table.Shape}, expected (L, {config.Sam.HeadDim})");
            int length = 2 * samGrid - 1;
            result[name] = table.Shape[0] == length ? table : Run(backend, table, (g, t) => ResizeSamRelPos(g, config.Sam, t, length));
        }
        return result;
    }

    private static HostTensor Run(IBackend backend, HostTensor input, Func<Graph, Tensor, Tensor> build)
    {
        var g = new Graph();
        g.Output("resized", build(g, g.Input("table", DType.F32, input.Shape.ToArray())));
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput("table", input);
        exec.Run();
        return exec.Fetch("resized");
    }
}
