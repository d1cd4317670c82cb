using PixelLLM.Backends.Cpu;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Checks;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;
using L = PixelLLM.Runtime.Ops.T5DecoderLayerOp.Input;

namespace PixelLLM.Tests;

/// <summary>
/// T5DecoderLayerOp is the eight ops of a decode step's layer in one: on the CPU its output and both updated caches
/// equal, bit for bit, what those ops give one after another (every catalog shape, the ones CUDA runs as one launch and
/// the ones it runs as ops); a slot outside the caches is refused before anything is written; bad shapes are named.
/// </summary>
public class DecoderLayerOpTests
{
    public static TheoryData<string> Cases() => [.. OpCheckCases.All.Where(c => c.Op is T5DecoderLayerOp).Select(c => c.Label)];

    [Theory]
    [MemberData(nameof(Cases))]
    public void EqualsItsEightOpsBitForBit(string label)
    {
        var c = OpCheckCases.All.Single(c => c.Label == label);
        var op = (T5DecoderLayerOp)c.Op;
        var inputs = c.MakeInputs(new Random(label.Length * 31), v => v);
        HostTensor In(L input) => inputs[(int)input];
        using var cpu = new CpuBackend();
        var fused = BackendCheck.RunWithUpdates(cpu, c, inputs);

        HostTensor[] qkvInputs = [In(L.X), In(L.Wq), In(L.Wk), In(L.Wv), In(L.KeyCache), In(L.ValueCache), In(L.Position), In(L.SelfNorm)];
        var qkv = BackendCheck.RunWithUpdates(cpu, new OpCheckCase("qkv", new QkvProjectionOp(op.Eps), qkvInputs.Select(t => t.Desc).ToArray()), qkvInputs);
        var (q, keys, values) = (qkv[0], qkv[1], qkv[2]);
        var withResidual = new LinearOp(false, HasResidual: true);
        var o = OpHarness.Run(new AttentionOp(op.NumHeads, 1f, HasBias: true, HasMask: true, MaskBias: op.MaskBias), q, keys, values, In(L.Bias), In(L.SelfMask));
        var afterSelf = OpHarness.Run(withResidual, o, In(L.Wo), In(L.X));
        var crossQ = OpHarness.Run(new RmsNormLinearOp(op.Eps), afterSelf, In(L.CrossNorm), In(L.CrossWq));
        var crossO = OpHarness.Run(new AttentionOp(op.NumHeads, 1f, HasMask: true, MaskBias: op.MaskBias), crossQ, In(L.CrossKeys), In(L.CrossValues), In(L.CrossMask));
        var afterCross = OpHarness.Run(withResidual, crossO, In(L.CrossWo), afterSelf);
        var hidden = OpHarness.Run(new RmsNormGeGluOp(op.Eps), afterCross, In(L.FfNorm), In(L.Wi0), In(L.Wi1));
        var y = OpHarness.Run(withResidual, hidden, In(L.WoFf), afterCross);

        Assert.Equal(y.ToFloatArray(), fused[0].ToFloatArray());
        Assert.Equal(keys.ToFloatArray(), fused[1].ToFloatArray());
        Assert.Equal(values.ToFloatArray(), fused[2].ToFloatArray());
        Assert.NotEqual(In(L.KeyCache).ToFloatArray(), fused[1].ToFloatArray()); // the slot was written
    }

    [Fact]
    public void APositionOutsideTheCachesIsRefusedBeforeAnyWrite()
    {
        var c = OpCheckCases.All.First(c => c.Op is T5DecoderLayerOp);
        var inputs = c.MakeInputs(new Random(5), v => v);
        int slots = inputs[(int)L.KeyCache].Desc.Shape[1];
        inputs[(int)L.Position] = HostTensor.FromArray(new[] { slots }, 1);
        var keysBefore = inputs[(int)L.KeyCache].ToFloatArray();
        using var cpu = new CpuBackend();
        var e = Assert.Throws<InvalidInputException>(() => BackendCheck.RunWithUpdates(cpu, c, inputs));
        Assert.Contains("position", e.Message);
        Assert.Equal(keysBefore, inputs[(int)L.KeyCache].ToFloatArray());
    }

    [Fact]
    public void AWeightOfTheWrongShapeIsNamed()
    {
        var c = OpCheckCases.All.First(c => c.Op is T5DecoderLayerOp);
        var descs = (TensorDesc[])c.Inputs.Clone();
        var wo = descs[(int)L.WoFf];
        descs[(int)L.WoFf] = new TensorDesc(wo.DType, new Shape(wo.Shape[0], wo.Shape[1] + 1));
        var e = Assert.Throws<GraphBuildException>(() => c.Op.InferOutput(descs));
        Assert.Contains("WoFf", e.Message);
    }
}

/// <summary>What the host raises for each code a kernel stores in the error word: bad input, or (4) a stalled one-launch kernel.</summary>
public class DeviceErrorCodeTests
{
    [Theory]
    [InlineData(1, typeof(InvalidInputException), "outside its range")]
    [InlineData(2, typeof(InvalidInputException), "does not fit")]
    [InlineData(3, typeof(InvalidInputException), "division by zero")]
    [InlineData(4, typeof(BackendException), "did not complete")]
    public void EachCodeNamesTheOpAndWhatHappened(int code, Type type, string what)
    {
        var e = PixelLLM.Backends.Cuda.CudaBackend.DeviceError(code, "T5DecoderLayer");
        Assert.IsType(type, e);
        Assert.Contains("T5DecoderLayer", e.Message);
        Assert.Contains(what, e.Message);
    }
}
