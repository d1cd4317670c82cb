using PixelLLM.Backends.Cpu;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Checks;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using L = PixelLLM.Runtime.Ops.T5DecoderLayerOp.Input;

namespace PixelLLM.Tests;

/// <summary>
/// T5DecoderStackOp is its layers in a row: on the CPU its output and every layer's updated caches equal, bit for bit,
/// what the layer ops give one after another; its inputs are laid out shared-first and every layer's shapes are checked,
/// a bad one named with its layer.
/// </summary>
public class DecoderStackOpTests
{
    public static TheoryData<string> Cases() => [.. OpCheckCases.All.Where(c => c.Op is T5DecoderStackOp).Select(c => c.Label)];

    [Theory]
    [MemberData(nameof(Cases))]
    public void EqualsItsLayersOneAfterAnotherBitForBit(string label)
    {
        var c = OpCheckCases.All.Single(c => c.Label == label);
        var op = (T5DecoderStackOp)c.Op;
        var inputs = c.MakeInputs(new Random(1234), v => v); // backend-check's default draw
        using var cpu = new CpuBackend();
        var stacked = BackendCheck.RunWithUpdates(cpu, c, inputs);

        var x = inputs[(int)L.X];
        var caches = new List<HostTensor>();
        for (int l = 0; l < op.Layers; l++)
        {
            var layerInputs = op.LayerInputs(inputs, l, x);
            var layer = BackendCheck.RunWithUpdates(cpu, new OpCheckCase($"layer {l}", op.Layer, [.. layerInputs.Select(t => t.Desc)]), layerInputs);
            x = layer[0];
            caches.AddRange(layer.Skip(1));
        }

        Assert.Equal(x.ToFloatArray(), stacked[0].ToFloatArray());
        Assert.Equal(2 * op.Layers, caches.Count);
        for (int i = 0; i < caches.Count; i++) Assert.Equal(caches[i].ToFloatArray(), stacked[1 + i].ToFloatArray());
        Assert.NotEqual(inputs[(int)L.X].ToFloatArray(), stacked[0].ToFloatArray());
        // A NaN (every key of a row masked) would pass any device comparison: backend-check's draws must not give one.
        Assert.All(stacked[0].ToFloatArray(), v => Assert.True(float.IsFinite(v), $"{label}: {v}"));
    }

    [Fact]
    public void SharedInputsComeFirstThenEachLayersOwn()
    {
        var op = new T5DecoderStackOp(4, 1e-6f, -1e10f, Layers: 3);
        Assert.Equal(5 + 3 * 16, op.InputCount);
        Assert.Equal(1, op.IndexOf(2, L.Position)); // shared: the same index for every layer
        Assert.Equal(5, op.IndexOf(0, L.SelfNorm));
        Assert.Equal(5 + 16 + 5, op.IndexOf(1, L.KeyCache));
        Assert.Equal(5 + 2 * 16 + 15, op.IndexOf(2, L.WoFf));
        Assert.Equal([5 + 5, 5 + 6, 21 + 5, 21 + 6, 37 + 5, 37 + 6], op.UpdatedInputs);
        var all = Enumerable.Range(0, 3).SelectMany(l => Enum.GetValues<L>().Select(i => op.IndexOf(l, i))).Distinct().Order();
        Assert.Equal(Enumerable.Range(0, op.InputCount), all);
    }

    [Fact]
    public void ALayersWeightOfTheWrongShapeIsNamedWithItsLayer()
    {
        var c = OpCheckCases.All.First(c => c.Op is T5DecoderStackOp);
        var op = (T5DecoderStackOp)c.Op;
        var descs = (TensorDesc[])c.Inputs.Clone();
        int at = op.IndexOf(op.Layers - 1, L.Wi1);
        descs[at] = new TensorDesc(descs[at].DType, new Shape(descs[at].Shape[0] + 1, descs[at].Shape[1]));
        var e = Assert.Throws<GraphBuildException>(() => op.InferOutput(descs));
        Assert.Contains($"layer {op.Layers - 1}", e.Message);
        Assert.Contains("Wi1", e.Message);
        Assert.Throws<GraphBuildException>(() => (op with { Layers = 0 }).InferOutput([]));
    }
}
