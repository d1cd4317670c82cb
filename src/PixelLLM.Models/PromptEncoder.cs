using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>Sizes of SAM's prompt encoder (segment-anything PromptEncoder).</summary>
/// <param name="EmbedDim">Prompt embedding width C (256 in SAM / PixelLLM).</param>
/// <param name="EmbeddingHeight">Image-embedding grid height He (dense outputs are He×We).</param>
/// <param name="EmbeddingWidth">Image-embedding grid width We.</param>
/// <param name="InputHeight">Padded input-image height that point / box pixels are normalised by.</param>
/// <param name="InputWidth">Padded input-image width.</param>
/// <param name="MaskInChans">Hidden width of the mask-downscaling convolutions (the first has MaskInChans/4).</param>
/// <param name="MaskNormEps">Epsilon of the LayerNorm2d layers of the mask path.</param>
public sealed record PromptEncoderConfig(int EmbedDim, int EmbeddingHeight, int EmbeddingWidth, int InputHeight, int InputWidth,
    int MaskInChans, float MaskNormEps = 1e-6f)
{
    /// <summary>SAM's prompt encoder as PixelLLM uses it (spec §4.1, §7.2): C 256 on the 24×24 SAM grid of a 384² canvas.</summary>
    public static PromptEncoderConfig PixelLlm { get; } = new(256, 24, 24, 384, 384, MaskInChans: 16);

    /// <summary>Mask-input size the downscaling path expects: 4·He × 4·We.</summary>
    public int MaskHeight => 4 * EmbeddingHeight;
    public int MaskWidth => 4 * EmbeddingWidth;
}

/// <summary>
/// SAM's prompt encoder as graph pieces. Parameters use segment-anything's names relative to the encoder
/// (point_embeddings.{0..3}.weight, not_a_point_embed.weight, no_mask_embed.weight, mask_downscaling.*,
/// pe_layer.positional_encoding_gaussian_matrix). Layouts are channels-last: sparse (B, N, C), dense (B, He, We, C).
/// The Fourier features of the prompts are computed on the host (<see cref="SparsePrompts.Encode"/>); everything learned is added in the graph.
/// </summary>
public static partial class PromptEncoder
{
    /// <summary>Rows of the learned table indexed by <see cref="SparsePrompts.Slots"/>.</summary>
    public const int SlotNotAPoint = 0, SlotBackground = 1, SlotForeground = 2, SlotBoxTopLeft = 3, SlotBoxBottomRight = 4;

    /// <summary>
    /// Sparse embeddings (B, N, C) = host Fourier features (F32 (B, N, C)) + the learned embedding each token's slot (I32 (B, N)) selects.
    /// </summary>
    public static Tensor SparseEmbeddings(ParamScope p, PromptEncoderConfig cfg, Tensor features, Tensor slots)
    {
        var g = p.Graph;
        if (features.Shape.Rank != 3 || features.Shape[2] != cfg.EmbedDim)
            throw new GraphBuildException($"prompt encoder: sparse features must be (B, N, {cfg.EmbedDim}), got {features.Desc}");
        if (slots.DType != DType.I32 || slots.Shape.Rank != 2 || slots.Shape[0] != features.Shape[0] || slots.Shape[1] != features.Shape[1])
            throw new GraphBuildException($"prompt encoder: slots must be I32 ({features.Shape[0]}, {features.Shape[1]}), got {slots.Desc}");
        // Row order must follow the Slot* constants.
        var rows = new[] { "not_a_point_embed.weight", "point_embeddings.0.weight", "point_embeddings.1.weight",
            "point_embeddings.2.weight", "point_embeddings.3.weight" }.Select(name => p[name]).ToArray();
        foreach (var row in rows)
            if (row.Shape != new Shape(1, cfg.EmbedDim))
                throw new ModelFileException($"prompt encoder: {row.Name} is {row.Shape}, expected (1, {cfg.EmbedDim})");
        var table = g.Concat(0, rows);
        return g.Add(features, g.Embedding(table, slots));
    }

    /// <summary>
    /// Dense embeddings from a mask input (B, 4He, 4We, 1) channels-last: Conv2d k2 s2 → LayerNorm2d → GELU → Conv2d k2 s2 →
    /// LayerNorm2d → GELU → 1×1 Conv2d → (B, He, We, C).
    /// </summary>
    public static Tensor MaskEmbeddings(ParamScope p, PromptEncoderConfig cfg, Tensor mask)
    {
        var g = p.Graph;
        if (mask.Shape.Rank != 4 || mask.Shape[1] != cfg.MaskHeight || mask.Shape[2] != cfg.MaskWidth || mask.Shape[3] != 1)
            throw new GraphBuildException($"prompt encoder: mask input must be (B, {cfg.MaskHeight}, {cfg.MaskWidth}, 1), got {mask.Desc}");
        var m = p.Sub("mask_downscaling");
        var x = g.Conv2d(mask, m["0.weight"], m["0.bias"], stride: 2);
        x = g.Gelu(g.LayerNorm(x, m["1.weight"], m["1.bias"], cfg.MaskNormEps));
        x = g.Conv2d(x, m["3.weight"], m["3.bias"], stride: 2);
        x = g.Gelu(g.LayerNorm(x, m["4.weight"], m["4.bias"], cfg.MaskNormEps));
        x = g.Conv2d(x, m["6.weight"], m["6.bias"]);
        // Other kernel sizes would still build, on another grid.
        if (x.Shape != new Shape(mask.Shape[0], cfg.EmbeddingHeight, cfg.EmbeddingWidth, cfg.EmbedDim))
            throw new ModelFileException($"prompt encoder: mask_downscaling gives {x.Shape}, expected ({mask.Shape[0]}, {cfg.EmbeddingHeight}, " +
                $"{cfg.EmbeddingWidth}, {cfg.EmbedDim}): its conv kernels must be 2×2, 2×2, 1×1");
        return x;
    }

    /// <summary>
    /// The dense embedding when no mask is given: no_mask_embed as (1, 1, 1, C), to be broadcast over (B, He, We, C)
    /// by its consumer (the reference's expand is a view too).
    /// </summary>
    public static Tensor NoMaskEmbedding(ParamScope p, PromptEncoderConfig cfg) =>
        p.Graph.Reshape(p["no_mask_embed.weight"], 1, 1, 1, cfg.EmbedDim);

    /// <summary>get_dense_pe(): the Fourier encoding of the He×We grid, (1, He, We, C), precomputed on the host at build time.</summary>
    public static Tensor DensePositionalEncoding(ParamScope p, PromptEncoderConfig cfg)
    {
        var name = $"aux.{(p.Prefix.Length == 0 ? "" : p.Prefix + ".")}dense_pe.{cfg.EmbeddingHeight}x{cfg.EmbeddingWidth}";
        if (p.Graph.TryGet(name, out var existing)) return existing;
        var grid = RandomFourierEncoding.Grid(p.Host("pe_layer.positional_encoding_gaussian_matrix"), cfg.EmbeddingHeight, cfg.EmbeddingWidth);
        if (grid.Shape[3] != cfg.EmbedDim)
            throw new ModelFileException($"prompt encoder: gaussian matrix gives a {grid.Shape[3]}-wide encoding, config says {cfg.EmbedDim}");
        return p.Graph.Weight(name, grid);
    }

    /// <summary>The host half of the sparse path, with the gaussian matrix and sizes taken from <paramref name="p"/> and <paramref name="cfg"/>.</summary>
    public static SparsePrompts? EncodeSparse(ParamScope p, PromptEncoderConfig cfg, HostTensor? coords, HostTensor? labels, HostTensor? boxes)
    {
        var prompts = SparsePrompts.Encode(p.Host("pe_layer.positional_encoding_gaussian_matrix"), cfg.InputHeight, cfg.InputWidth, coords, labels, boxes);
        if (prompts is not null && prompts.Features.Shape[2] != cfg.EmbedDim)
            throw new ModelFileException($"prompt encoder: gaussian matrix gives a {prompts.Features.Shape[2]}-wide encoding, config says {cfg.EmbedDim}");
        return prompts;
    }
}
