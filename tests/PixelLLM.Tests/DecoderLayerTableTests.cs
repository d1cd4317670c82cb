using System.Text.RegularExpressions;
using PixelLLM.Backends.Cuda;
using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Tests;

/// <summary>
/// The table of layer tensors the host passes decoder_layer_stream.cu by value says the same thing on both sides: the
/// kernel's DsLayerPointer order is T5DecoderStackOp.PerLayerInputs, and its capacity and size are DecoderLayerTable's.
/// A mismatch would hand a kernel the wrong weights with every dispatch check still passing (they check sizes only).
/// </summary>
public partial class DecoderLayerTableTests
{
    private static readonly string Kernel = KernelSources.Read("decoder_layer_stream.cu");

    [Fact]
    public void TheKernelsPointerOrderIsThePerLayerInputs()
    {
        var body = EnumPattern().Match(Kernel);
        Assert.True(body.Success, "decoder_layer_stream.cu has no enum DsLayerPointer");
        var names = body.Groups["body"].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(n => n["DS_".Length..].Replace("_", ""))
            .ToList();
        Assert.Equal("LAYERPOINTERS", names[^1]); // the count, last
        Assert.Equal(T5DecoderStackOp.PerLayerInputs.Select(i => i.ToString().ToUpperInvariant()), names[..^1]);
        Assert.Equal(DecoderLayerTable.PointersPerLayer, names.Count - 1);
    }

    [Fact]
    public unsafe void TheTablesCapacityAndSizeMatchTheKernels()
    {
        var max = MaxLayersPattern().Match(Kernel);
        Assert.True(max.Success, "decoder_layer_stream.cu does not define DS_MAX_LAYERS");
        Assert.Equal(DecoderLayerTable.MaxLayers, int.Parse(max.Groups["n"].Value));
        Assert.Equal(DecoderLayerTable.MaxLayers * DecoderLayerTable.PointersPerLayer * 8, sizeof(DecoderLayerTable));
    }

    [Fact]
    public void TheTableHoldsEachLayersPointersInOrderAndRefusesTooMany()
    {
        var layers = Enumerable.Range(0, 3).Select(l => Enumerable.Range(0, 16).Select(i => (ulong)(1000 * l + i)).ToArray()).ToArray();
        var table = DecoderLayerTable.From(layers);
        Assert.Equal(2015UL, Read(table, 2 * 16 + 15));
        Assert.Equal(1000UL, Read(table, 16));
        Assert.Equal(0UL, Read(table, 3 * 16)); // past the layers given
        Assert.Throws<PixelLLM.Runtime.BackendException>(() => DecoderLayerTable.From([.. Enumerable.Repeat(new ulong[16], 25)]));
        Assert.Throws<PixelLLM.Runtime.BackendException>(() => DecoderLayerTable.From([new ulong[15]]));
    }

    private static unsafe ulong Read(DecoderLayerTable table, int index) => table.P[index];

    [GeneratedRegex(@"enum\s+DsLayerPointer\s*\{(?<body>[^}]*)\}")]
    private static partial Regex EnumPattern();

    [GeneratedRegex(@"#define\s+DS_MAX_LAYERS\s+(?<n>\d+)")]
    private static partial Regex MaxLayersPattern();
}
