using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.Models;

/// <summary>
/// One image's fused visual map (1, G, G, C_eva + C_sam) and its valid size on the canvas, or a batch's (B, G, G, C) and
/// each image's valid size (<see cref="PixelLlm.EncodeImages"/>). Features from
/// <see cref="PixelLlm.EncodeImage"/> stay on the backend until that model encodes another image: prompts encoded before
/// then copy them there (device to device on a GPU), and the host copies are only made when read (or before the next image).
/// </summary>
public sealed class ImageFeatures
{
    private readonly Lazy<HostTensor> fused;
    private Lazy<HostTensor?> sam;
    private readonly GraphExecutor? vision;
    private readonly string? fusedName;
    private readonly long visionRun;

    private readonly (int Height, int Width)[] sizes;

    /// <summary>Features held on the host.</summary>
    public ImageFeatures(HostTensor fused, int height, int width)
    {
        this.fused = new(fused);
        sam = new((HostTensor?)null);
        sizes = [(height, width)];
    }

    /// <summary>Features still in <paramref name="vision"/>'s outputs (its current run), fetched when first read.</summary>
    internal ImageFeatures(GraphExecutor vision, string fusedName, string samName, (int Height, int Width)[] sizes)
    {
        fused = new(() => vision.Fetch(fusedName));
        sam = new(() => vision.Fetch(samName));
        (this.vision, this.fusedName, visionRun) = (vision, fusedName, vision.Runs);
        this.sizes = sizes;
    }

    /// <summary>The fused map, (B, G, G, C_eva + C_sam).</summary>
    public HostTensor Fused
    {
        get
        {
            EnsureReadable(fused.IsValueCreated);
            return fused.Value;
        }
    }

    /// <summary>The UN-resized SAM neck output (B, Hs, Ws, E): the mask decoder's image embedding (spec §7.2).</summary>
    public HostTensor? Sam
    {
        get
        {
            EnsureReadable(sam.IsValueCreated);
            return sam.Value;
        }
        init => sam = new(value);
    }

    /// <summary>A host copy not yet made can only be fetched while the executor still holds this image: never another image's values.</summary>
    private void EnsureReadable(bool fetched)
    {
        if (!fetched && vision is not null && Resident is null)
            throw new InvalidOperationException("these image features were released and the model has encoded another image since");
    }

    /// <summary>How many images these are the features of.</summary>
    public int Count => sizes.Length;

    /// <summary>Each image's valid (height, width) on the canvas.</summary>
    public IReadOnlyList<(int Height, int Width)> Sizes => sizes;

    /// <summary>The (first) image's valid height on the canvas.</summary>
    public int Height => sizes[0].Height;

    /// <summary>The (first) image's valid width on the canvas.</summary>
    public int Width => sizes[0].Width;

    /// <summary>The executor whose outputs still hold these features (it has not run since), or null.</summary>
    private GraphExecutor? Resident => vision is not null && vision.Runs == visionRun ? vision : null;

    /// <summary>Sets <paramref name="input"/> of <paramref name="exec"/> to the fused map: on the backend while still resident, else from the host copy.</summary>
    internal void SetFusedInput(GraphExecutor exec, string input)
    {
        if (Resident is { } source) exec.SetInput(input, source, fusedName!);
        else exec.SetInput(input, Fused);
    }

    /// <summary>Makes the host copies while the executor still holds the features (before it runs again or is disposed).</summary>
    internal void Detach()
    {
        if (Resident is null) return;
        _ = fused.Value;
        _ = sam.Value;
    }
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
