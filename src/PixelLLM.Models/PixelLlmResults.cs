using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;

namespace PixelLLM.Models;

/// <summary>One image's fused visual map (1, G, G, C_eva + C_sam) and its valid size on the canvas.</summary>
public sealed record ImageFeatures(HostTensor Fused, int Height, int Width)
{
    /// <summary>The UN-resized SAM neck output (1, Hs, Ws, E): the mask decoder's image embedding (spec §7.2).</summary>
    public HostTensor? Sam { get; init; }
}

/// <summary>
/// N prompts encoded for the LM: T5 encoder output, or the GIT layer-0 memory [visual ; context embeddings], (N, K + Lc, d),
/// and which of those positions are valid (visual tokens always, context ids &gt; 0).
/// </summary>
public sealed record PromptEncoding(HostTensor EncoderOutput, bool[][] EncoderValid)
{
    /// <summary>The K visual tokens per prompt after the visual projection, (N, K, d): the mask adapter's visual input.</summary>
    public HostTensor? VisualTokens { get; init; }

    public int Prompts => EncoderOutput.Shape[0];
    public int EncoderLength => EncoderOutput.Shape[1];
}

/// <summary>How captions are produced (spec §8): greedy with repeat suppression, or scenic's beam search.</summary>
public abstract record DecodeMode
{
    public sealed record Greedy : DecodeMode;
    public sealed record Beam(BeamOptions Options) : DecodeMode;
}

/// <summary>How the decoder is run during decoding: the reference's full rerun per step, or one cached step per position.</summary>
public enum DecodeEngine { FullRerun, KvCache }

/// <summary>
/// Decoded captions per prompt: the decoder's raw rows (EOS fillers after the first EOS), the score scenic returns
/// (greedy: mean log-prob; beam: length-penalised score of the best beam), every returned beam ascending (best last,
/// a single beam for greedy), whether each beam really finished (beam search only) and greedy step margins.
/// </summary>
public sealed record DecodedText(int[][] Raw, float[] LogProbs, int[][][] Beams, float[][] BeamScores, bool[][]? BeamFinished, float[][]? GreedyMargins);

/// <summary>Teacher-forced decoder pass: decoder_norm states (N, L, d) and, when asked for, logits (N, L, V).</summary>
public sealed record TextFeatures(HostTensor Features, HostTensor? Logits);

/// <summary>
/// Point-head outputs: coordinates in pixels of the valid image (N, L, P, 2), point logits (N, L, P, 1 + classes),
/// valid positions (N × L) and one XYXY box per prompt from its valid points.
/// </summary>
public sealed record PointOutputs(HostTensor Coords, HostTensor Logits, bool[][] Valid, float[][] Boxes);
