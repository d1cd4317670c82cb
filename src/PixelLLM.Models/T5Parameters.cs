namespace PixelLLM.Models;

/// <summary>What a T5 checkpoint holds for a config, under Hugging Face's names; lets tools synthesise or check weights.</summary>
public static class T5Parameters
{
    /// <summary>Every parameter the engine reads for <paramref name="c"/>: name and shape ((out, in) for linear weights).</summary>
    public static IEnumerable<(string Name, int[] Shape)> Shapes(T5Config c)
    {
        int d = c.DModel, inner = c.Inner;
        yield return ("shared.weight", [c.VocabSize, d]);
        foreach (var (stack, layers) in new[] { ("encoder", c.NumLayers), ("decoder", c.NumDecoderLayers) })
        {
            for (int i = 0; i < layers; i++)
            {
                var block = $"{stack}.block.{i}";
                foreach (var p in Attention($"{block}.layer.0", "SelfAttention", d, inner)) yield return p;
                if (i == 0) yield return ($"{block}.layer.0.SelfAttention.relative_attention_bias.weight", [c.RelativeBuckets, c.NumHeads]);
                int ffLayer = 1;
                if (stack == "decoder")
                {
                    foreach (var p in Attention($"{block}.layer.1", "EncDecAttention", d, inner)) yield return p;
                    ffLayer = 2;
                }
                var ff = $"{block}.layer.{ffLayer}";
                if (c.FeedForward.Gated)
                {
                    yield return ($"{ff}.DenseReluDense.wi_0.weight", [c.DFf, d]);
                    yield return ($"{ff}.DenseReluDense.wi_1.weight", [c.DFf, d]);
                }
                else yield return ($"{ff}.DenseReluDense.wi.weight", [c.DFf, d]);
                yield return ($"{ff}.DenseReluDense.wo.weight", [d, c.DFf]);
                yield return ($"{ff}.layer_norm.weight", [d]);
            }
            yield return ($"{stack}.final_layer_norm.weight", [d]);
        }
        if (!c.TieWordEmbeddings) yield return ("lm_head.weight", [c.VocabSize, d]);
    }

    private static IEnumerable<(string, int[])> Attention(string layer, string kind, int d, int inner)
    {
        foreach (var m in new[] { "q", "k", "v" }) yield return ($"{layer}.{kind}.{m}.weight", [inner, d]);
        yield return ($"{layer}.{kind}.o.weight", [d, inner]);
        yield return ($"{layer}.layer_norm.weight", [d]);
    }
}
