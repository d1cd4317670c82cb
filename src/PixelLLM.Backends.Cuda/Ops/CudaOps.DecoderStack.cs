using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;
using L = PixelLLM.Runtime.Ops.T5DecoderLayerOp.Input;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>
/// A decode step's T5 decoder stack. With the streamed layer kernel (PIXELLLM_FUSED_LAYER=stream) and shapes it serves,
/// decoder_layer_stream.cu runs up to <see cref="DecoderLayerTable.MaxLayers"/> layers in one launch, so its blocks
/// fetch the next layer's weights while the current layer's last phases finish; otherwise every layer runs as
/// <see cref="T5DecoderLayerOp"/> does (one launch or its eight ops), in a row, and with
/// <see cref="IDeviceQueue.PrefetchL2Bytes"/> their launches ask L2 for the weights ahead (<see cref="WeightStream"/> for
/// the eight ops' GEMVs, <see cref="LeadingQkv"/> for the next layer of a one-launch layer).
/// </summary>
internal sealed partial class CudaOps
{
    private void T5DecoderStack(T5DecoderStackOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var inputs = x.ToArray();
        var layerOp = op.Layer;
        var layers = Enumerable.Range(0, op.Layers).Select(l => op.LayerInputs(inputs, l, l == 0 ? inputs[(int)L.X] : y)).ToArray();
        var s = LayerSizes(layers[0]);
        if (s.Rows == 0) return;
        if (StreamedStackSharedBytes(layerOp, s, layers, y) is int shared)
        {
            foreach (var layer in layers) CheckLayerTypes(layer, y);
            ulong work = queue.Scratch(DecoderLayerWorkSlot, WorkOffsets(s, y.ElementSize).Bytes);
            for (int first = 0; first < layers.Length; first += DecoderLayerTable.MaxLayers)
            {
                var part = layers[first..Math.Min(layers.Length, first + DecoderLayerTable.MaxLayers)];
                LaunchStreamedLayers(layerOp, s, part, first == 0 ? inputs[(int)L.X].Ptr : y.Ptr, y, work, shared);
            }
            return;
        }
        long lookahead = queue.PrefetchL2Bytes;
        weightStream = lookahead > 0 ? DecoderWeights(layers, lookahead) : null;
        int next = 1;
        try
        {
            op.RunAsLayers(inputs, y, (layer, layerInputs, output) =>
            {
                nextLayerWeights = lookahead > 0 && next < layers.Length ? LeadingQkv(layers[next], lookahead) : default;
                next++;
                T5DecoderLayer(layer, layerInputs, output);
            });
        }
        finally
        {
            weightStream = null;
            nextLayerWeights = default;
        }
    }

    /// <summary>
    /// What the next layer in one launch (decoder_layer.cu) prefetches, from its last phase, for the layer after it
    /// (<see cref="LeadingQkv"/>); nothing outside a prefetching stack or after its last layer.
    /// </summary>
    private PrefetchRanges nextLayerWeights;

    /// <summary>
    /// The leading part of a layer's q, k and v weights, <paramref name="lookahead"/> bytes in all: the same share of
    /// each, in whole lines, as the layer's first phase reads them side by side.
    /// </summary>
    internal static PrefetchRanges LeadingQkv(DeviceTensor[] layer, long lookahead)
    {
        var qkv = new[] { layer[(int)L.Wq], layer[(int)L.Wk], layer[(int)L.Wv] };
        long each = Math.Min(qkv[0].Bytes, lookahead / qkv.Length / 128 * 128);
        return PrefetchRanges.From([.. qkv.Select(w => (w.Ptr, Math.Min(w.Bytes, each)))]);
    }

    /// <summary>
    /// The weights of every layer in the order its ops read them (q | k | v, o, cross q, cross o, wi0 | wi1, wo), one
    /// entry per launch: what the GEMVs prefetch from when the layers run as ops.
    /// </summary>
    internal static WeightStream DecoderWeights(IReadOnlyList<DeviceTensor[]> layers, long lookahead)
    {
        L[][] launches = [[L.Wq, L.Wk, L.Wv], [L.Wo], [L.CrossWq], [L.CrossWo], [L.Wi0, L.Wi1], [L.WoFf]];
        var steps = new List<(ulong, long)[]>();
        foreach (var layer in layers)
            foreach (var launch in launches)
                steps.Add([.. launch.Select(w => (layer[(int)w].Ptr, layer[(int)w].Bytes))]);
        return new WeightStream(steps, lookahead);
    }

    /// <summary>
    /// decoder_layer_stream.cu's dynamic shared memory for the stack, or null where a layer runs on its own instead: the
    /// streamed kernel not chosen, fewer rows than fuse, or some layer's shapes or operands it does not serve.
    /// </summary>
    private int? StreamedStackSharedBytes(T5DecoderLayerOp op, T5DecoderLayerOp.Sizes s, DeviceTensor[][] layers, DeviceTensor y)
    {
        if (queue.FusedDecoderLayerKernel != DecoderLayerKernel.Stream || s.Rows < queue.FusedDecoderLayerMinRows) return null;
        foreach (var layer in layers)
            if (LayerSizes(layer) != s || !FitsDecoderLayerKernel(op, s, layer, y))
                return null;
        return StreamLayerSharedBytes(op, s, RowTemplate(s.Rows), y.ElementSize);
    }
}
