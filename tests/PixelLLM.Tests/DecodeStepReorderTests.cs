using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Models;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// The cached decoder steps reorder their KV states only when rows can move: with one beam every row continues itself
/// (the incremental decoders reject any other parent), so the step has neither the parents input nor a ReorderRows
/// node, and with several beams it has two per layer (keys and values). Numerics of both shapes are covered by
/// T5IncrementalTests / GitDecoderTests against the teacher-forced decoders.
/// </summary>
public class DecodeStepReorderTests
{
    private static readonly T5Config T5 = new(VocabSize: 41, DModel: 24, DKv: 5, DFf: 37, NumHeads: 3, NumLayers: 2, NumDecoderLayers: 3,
        RelativeBuckets: 8, RelativeMaxDistance: 12);

    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 2)]
    public void T5StepReordersTheCachesOnlyWhenRowsMove(bool rowsMove, int reordersPerLayer)
    {
        var g = new Graph();
        T5DecoderStep.Build(new ParamScope(g, T5TestModels.RandomWeights(T5, seed: 1)), T5, rows: 2, maxLength: 6, memoryLength: 5, rowsMove);

        // One op moves every layer's key and value caches.
        var reorders = g.Nodes.Where(n => n.Op is ReorderRowsOp).ToArray();
        Assert.Equal(rowsMove ? 1 : 0, reorders.Length);
        Assert.All(reorders, n => Assert.Equal(reordersPerLayer * T5.NumDecoderLayers, ((ReorderRowsOp)n.Op).Tensors));
        Assert.Equal(rowsMove, g.TryGet(T5DecoderStep.Parents, out _));
        // The layers are one op, which writes k and v straight into the caches (no WriteAt).
        Assert.Equal(T5.NumDecoderLayers, Assert.Single(g.Nodes, n => n.Op is T5DecoderStackOp).Op is T5DecoderStackOp s ? s.Layers : 0);
        Assert.Equal(0, g.Nodes.Count(n => n.Op is WriteAtOp));
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 2)]
    public void GitStepReordersTheStatesOnlyWhenRowsMove(bool rowsMove, int reordersPerLayer)
    {
        var c = GitTestModel.Config;
        var g = new Graph();
        GitDecoderStep.Build(new ParamScope(g, GitTestModel.Weights(c, GitTestModel.VisualDim, seed: 2), PixelLLM.Models.Checkpoints.ScenicGitNames.EnginePrefix),
            c, rows: 3, maxLength: 5, memoryLength: 4, rowsMove);

        var reorders = g.Nodes.Where(n => n.Op is ReorderRowsOp).ToArray();
        Assert.Equal(rowsMove ? 1 : 0, reorders.Length);
        Assert.All(reorders, n => Assert.Equal(reordersPerLayer * c.NumLayers, ((ReorderRowsOp)n.Op).Tensors));
        Assert.Equal(rowsMove, g.TryGet(GitDecoderStep.Parents, out _));
        Assert.Equal(c.NumLayers, g.Nodes.Count(n => n.Op is QkvProjectionOp { HasNorm: false, HasBias: true }));
        Assert.Equal(0, g.Nodes.Count(n => n.Op is WriteAtOp));
    }
}
