using PixelLLM.Runtime;

namespace PixelLLM.Models;

/// <summary>
/// Sizes and numerics of PixelLLM's BERT/GIT text decoder (scenic <c>TransformerDecoderTextualHead</c>, spec §5.2,
/// errata D7/D8): one post-LayerNorm stack over [visual memory ; context ; caption]. Parameter shapes come from the
/// weights; these fields say how to use them.
/// </summary>
/// <param name="VocabSize">Logit width and word-embedding rows (bert-base-uncased: 30522).</param>
/// <param name="Hidden">Token width d (768).</param>
/// <param name="NumHeads">Attention heads; d must divide evenly. The score scale is head_dim^-0.5 (1/8 for 768/12).</param>
/// <param name="NumLayers">Transformer layers (6).</param>
/// <param name="PositionTable">
/// Rows of the learned position table: the textual head's own <c>max_caption_length</c> (default 1024), not the
/// model's caption length. Context and caption each start at position 0, so both must fit.
/// </param>
/// <param name="EmbeddingEps">LayerNorm eps of the embedding module (1e-8).</param>
/// <param name="AttentionEps">LayerNorm eps after the attention residual (1e-5, where HF BERT would use 1e-12).</param>
/// <param name="OutputEps">LayerNorm eps after the feed-forward residual (1e-12).</param>
/// <param name="VisualProjectionEps">LayerNorm eps of <c>visual_projection.1</c> (1e-5).</param>
public sealed record GitDecoderConfig(
    int VocabSize,
    int Hidden,
    int NumHeads,
    int NumLayers,
    int PositionTable = 1024,
    float EmbeddingEps = 1e-8f,
    float AttentionEps = 1e-5f,
    float OutputEps = 1e-12f,
    float VisualProjectionEps = 1e-5f)
{
    /// <summary>The real PixelLLM BERT decoder: bert-base-uncased vocabulary, 768 wide, 12 heads, 6 layers.</summary>
    public static GitDecoderConfig PixelLlmBert { get; } = new(VocabSize: 30522, Hidden: 768, NumHeads: 12, NumLayers: 6);

    public int HeadDim => Hidden / NumHeads;

    /// <summary>Feed-forward width: scenic's BertLayer hard-codes 4·hidden (errata D8).</summary>
    public int IntermediateSize => 4 * Hidden;

    /// <summary>q is multiplied by head_dim^-0.5 before q·kᵀ (errata D8).</summary>
    public float AttentionScale => 1f / MathF.Sqrt(HeadDim);

    /// <summary>Throws <see cref="GraphBuildException"/> when the sizes cannot describe a decoder.</summary>
    public void Validate()
    {
        if (VocabSize < 1 || Hidden < 1 || NumLayers < 1 || PositionTable < 1)
            throw new GraphBuildException($"GIT decoder: sizes must be positive, got {this}");
        if (NumHeads < 1 || Hidden % NumHeads != 0)
            throw new GraphBuildException($"GIT decoder: hidden {Hidden} is not divisible by {NumHeads} heads");
    }

    /// <summary>Fails when a sequence of <paramref name="length"/> tokens does not fit the position table.</summary>
    internal void CheckPositions(int length, string what)
    {
        if (length > PositionTable)
            throw new GraphBuildException($"GIT decoder: {what} of {length} tokens exceeds the position table of {PositionTable} rows");
    }
}
