using PixelLLM.Runtime.Ops;

namespace PixelLLM.Runtime.Checks;

public static partial class OpCheckCases
{
    /// <summary>
    /// T5DecoderLayerOp: decoder_layer.cu's one launch on 1, 2, 3 (the 4-row template with a row idle) and 4 rows, head
    /// dims 16 and 64, a feed-forward width past one unrolled weight batch (2064) and a model width past one gated batch
    /// in f32 (264), one row 1024 wide; then shapes the kernel does not serve (6 rows, odd widths), which run the eight ops. The caches are
    /// compared whole. The three norm weights are given small (0.02–0.08) so that q·k stays O(1): with [−2, 2) weights the
    /// unscaled scores reach hundreds and a bf16 rounding of q would flip the softmax, which says nothing about the kernel.
    /// </summary>
    private static IEnumerable<OpCheckCase> DecoderLayerCases()
    {
        yield return Layer("decoder layer 1 row hd16", rows: 1, model: 64, heads: 4, inner: 64, feedForward: 96, maxLength: 9, memoryLength: 7);
        yield return Layer("decoder layer 2 rows dff2064", rows: 2, model: 264, heads: 4, inner: 64, feedForward: 2064, maxLength: 22, memoryLength: 13);
        yield return Layer("decoder layer 3 rows hd64", rows: 3, model: 56, heads: 2, inner: 128, feedForward: 104, maxLength: 5, memoryLength: 40);
        yield return Layer("decoder layer 4 rows beams", rows: 4, model: 40, heads: 3, inner: 48, feedForward: 72, maxLength: 22, memoryLength: 9);
        // Wide enough for decoder_layer_stream.cu to deal more tiles (~1,300 bf16) than a full grid holds at once, so blocks
        // take fresh tickets and cross phases; the norm weights halved again to keep the scores O(1) at this width.
        yield return Layer("decoder layer 1 row wide", rows: 1, model: 1024, heads: 16, inner: 1024, feedForward: 2816, maxLength: 40, memoryLength: 22, normScale: 0.5f);
        yield return Layer("decoder layer 6 rows by ops", rows: 6, model: 40, heads: 2, inner: 32, feedForward: 48, maxLength: 5, memoryLength: 6);
        yield return Layer("decoder layer odd widths by ops", rows: 1, model: 27, heads: 3, inner: 21, feedForward: 35, maxLength: 4, memoryLength: 3);
        // T5DecoderStackOp: layers in a row in one launch (decoder_layer_stream.cu), the later ones reading the output;
        // 26 layers take two launches (24 + 2), the second reading x from y.
        yield return Stack("decoder stack 3 layers 2 rows", layers: 3, rows: 2, model: 64, heads: 4, inner: 64, feedForward: 96, maxLength: 9, memoryLength: 7);
        yield return Stack("decoder stack 2 layers 1 row wide", layers: 2, rows: 1, model: 512, heads: 8, inner: 512, feedForward: 1408, maxLength: 22,
            memoryLength: 13, normScale: 0.5f);
        yield return Stack("decoder stack 26 layers 1 row", layers: 26, rows: 1, model: 32, heads: 2, inner: 32, feedForward: 48, maxLength: 5, memoryLength: 4);
        yield return Stack("decoder stack 2 layers odd widths by ops", layers: 2, rows: 3, model: 27, heads: 3, inner: 21, feedForward: 35, maxLength: 4, memoryLength: 3);
    }

    /// <summary>A stack of <paramref name="layers"/> layers shaped as <see cref="Layer"/>'s, each with its own weights and caches.</summary>
    private static OpCheckCase Stack(string label, int layers, int rows, int model, int heads, int inner, int feedForward, int maxLength,
        int memoryLength, float normScale = 1f)
    {
        var layer = Layer(label, rows, model, heads, inner, feedForward, maxLength, memoryLength, normScale);
        var op = new T5DecoderStackOp(heads, 1e-6f, -1e10f, layers);
        var inputs = new TensorDesc[op.InputCount];
        var values = new Dictionary<int, float[]>();
        for (int l = 0; l < layers; l++)
            foreach (var input in T5DecoderStackOp.SharedInputs.Concat(T5DecoderStackOp.PerLayerInputs))
            {
                inputs[op.IndexOf(l, input)] = layer.Inputs[(int)input];
                if (layer.Values.TryGetValue((int)input, out var v)) values[op.IndexOf(l, input)] = v;
            }
        return C(label, op, inputs) with
        {
            Integers = new() { [op.IndexOf(0, T5DecoderLayerOp.Input.Position)] = maxLength },
            Values = values,
        };
    }

    private static OpCheckCase Layer(string label, int rows, int model, int heads, int inner, int feedForward, int maxLength, int memoryLength,
        float normScale = 1f)
    {
        var op = new T5DecoderLayerOp(heads, 1e-6f, -1e10f);
        var inputs = new TensorDesc[T5DecoderLayerOp.InputCount];
        void Set(T5DecoderLayerOp.Input input, TensorDesc desc) => inputs[(int)input] = desc;
        Set(T5DecoderLayerOp.Input.X, F(rows, 1, model));
        foreach (var w in new[] { T5DecoderLayerOp.Input.Wq, T5DecoderLayerOp.Input.Wk, T5DecoderLayerOp.Input.Wv, T5DecoderLayerOp.Input.CrossWq })
            Set(w, F(inner, model));
        Set(T5DecoderLayerOp.Input.Wo, F(model, inner));
        Set(T5DecoderLayerOp.Input.CrossWo, F(model, inner));
        Set(T5DecoderLayerOp.Input.KeyCache, F(rows, maxLength, inner));
        Set(T5DecoderLayerOp.Input.ValueCache, F(rows, maxLength, inner));
        Set(T5DecoderLayerOp.Input.Position, T(DType.I32, 1));
        Set(T5DecoderLayerOp.Input.Bias, F(1, heads, 1, maxLength));
        Set(T5DecoderLayerOp.Input.SelfMask, T(DType.U8, rows, 1, 1, maxLength));
        Set(T5DecoderLayerOp.Input.CrossKeys, F(rows, memoryLength, inner));
        Set(T5DecoderLayerOp.Input.CrossValues, F(rows, memoryLength, inner));
        Set(T5DecoderLayerOp.Input.CrossMask, T(DType.U8, rows, 1, 1, memoryLength));
        Set(T5DecoderLayerOp.Input.Wi0, F(feedForward, model));
        Set(T5DecoderLayerOp.Input.Wi1, F(feedForward, model));
        Set(T5DecoderLayerOp.Input.WoFf, F(model, feedForward));
        var norms = new[] { T5DecoderLayerOp.Input.SelfNorm, T5DecoderLayerOp.Input.CrossNorm, T5DecoderLayerOp.Input.FfNorm };
        var small = Enumerable.Range(0, model).Select(i => normScale * (0.02f + 0.06f * (i * 7 % 11) / 11f)).ToArray();
        foreach (var n in norms) Set(n, F(model));
        return C(label, op, inputs) with
        {
            Integers = new() { [(int)T5DecoderLayerOp.Input.Position] = maxLength },
            Values = norms.ToDictionary(n => (int)n, _ => small),
        };
    }
}
