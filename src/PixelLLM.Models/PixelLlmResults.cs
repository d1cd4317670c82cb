using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.Models;

/// <summary>
/// One image's fused visual map (1, G, G, C_eva + C_sam) and its valid size on the canvas, or a batch's (B, G, G, C) and
/// each image's valid size (<see cref="PixelLlm.EncodeImages"/>). Features from
/// <see cref="PixelLlm.EncodeImage"/> stay on the backend until that model's vision graph runs again: prompts encoded
/// before then copy them there (device to device on a GPU), and the host copies are only made when read (or before that
/// run, unless released: <see cref="PixelLlm.ReleaseImage"/>).
/// </summary>
public sealed class ImageFeatures
{
    private readonly (int Height, int Width)[] sizes;

    /// <summary>Features held on the host.</summary>
    public ImageFeatures(HostTensor fused, int height, int width)
    {
        KeptFused = new KeptTensor(fused);
        sizes = [(height, width)];
    }

    /// <summary>Features still in an executor's kept tensors (its current run).</summary>
    internal ImageFeatures(KeptTensor fused, KeptTensor sam, (int Height, int Width)[] sizes)
    {
        (KeptFused, KeptSam) = (fused, sam);
        this.sizes = sizes;
    }

    /// <summary>The fused map where the next graph can read it.</summary>
    internal KeptTensor KeptFused { get; }

    /// <summary>The fused map, (B, G, G, C_eva + C_sam).</summary>
    /// <exception cref="InvalidOperationException">released, and the model has encoded another image since.</exception>
    public HostTensor Fused => KeptFused.Host;

    /// <summary>The UN-resized SAM neck output (B, Hs, Ws, E): the mask decoder's image embedding (spec §7.2).</summary>
    public HostTensor? Sam
    {
        get => KeptSam?.Host;
        init => KeptSam = value is null ? null : new KeptTensor(value);
    }

    /// <summary>The SAM features where the next graph can read them, or null.</summary>
    internal KeptTensor? KeptSam { get; private init; }

    /// <summary>How many images these are the features of.</summary>
    public int Count => sizes.Length;

    /// <summary>Each image's valid (height, width) on the canvas.</summary>
    public IReadOnlyList<(int Height, int Width)> Sizes => sizes;

    /// <summary>The (first) image's valid height on the canvas.</summary>
    public int Height => sizes[0].Height;

    /// <summary>The (first) image's valid width on the canvas.</summary>
    public int Width => sizes[0].Width;

    /// <summary>Sets <paramref name="input"/> of <paramref name="exec"/> to the fused map: on the backend while still resident, else from the host copy.</summary>
    internal void SetFusedInput(GraphExecutor exec, string input) => KeptFused.Bind(exec, input);

    /// <summary>No host copies needed: the vision graph may overwrite these features (reading them after that throws).</summary>
    internal void Release()
    {
        KeptFused.Release();
        KeptSam?.Release();
    }
}

/// <summary>
/// N prompts encoded for the LM: T5 encoder output, or the GIT layer-0 memory [visual ; context embeddings], (N, K + Lc, d),
/// and which of those positions are valid (visual tokens always, context ids &gt; 0). From
/// <see cref="PixelLlm.EncodePrompts(ImageFeatures, HostTensor, int[][], IDictionary{string, HostTensor}?, int[]?)"/> the
/// tensors stay on the backend, where decoding and the teacher-forced pass read them, until that model's prompt graph of
/// the same shape runs again; the host copies are only made when read (or before that run, unless released:
/// <see cref="PixelLlm.ReleasePrompts"/>).
/// </summary>
public sealed class PromptEncoding
{
    /// <summary>An encoding held on the host.</summary>
    public PromptEncoding(HostTensor encoderOutput, bool[][] encoderValid)
        : this(new KeptTensor(encoderOutput), encoderValid, null)
    {
    }

    internal PromptEncoding(KeptTensor encoderOutput, bool[][] encoderValid, KeptTensor? visualTokens)
    {
        if (encoderOutput.Desc.Shape.Rank != 3) throw new InvalidInputException($"prompt encoding must be (N, L, d), got {encoderOutput.Desc}");
        (KeptEncoder, EncoderValid, KeptVisual) = (encoderOutput, encoderValid, visualTokens);
    }

    /// <summary>The encoding, (N, K + Lc, d) F32.</summary>
    public HostTensor EncoderOutput => KeptEncoder.Host;

    /// <summary>Which encoder positions are valid, N rows of K + Lc.</summary>
    public bool[][] EncoderValid { get; }

    /// <summary>The K visual tokens per prompt after the visual projection, (N, K, d): the mask adapter's visual input.</summary>
    public HostTensor? VisualTokens
    {
        get => KeptVisual?.Host;
        init => KeptVisual = value is null ? null : new KeptTensor(value);
    }

    /// <summary>The encoding where the next graph can read it (<see cref="KeptTensor.Bind"/>).</summary>
    internal KeptTensor KeptEncoder { get; }

    /// <summary>The visual tokens where the next graph can read them, or null.</summary>
    internal KeptTensor? KeptVisual { get; private init; }

    public int Prompts => KeptEncoder.Desc.Shape[0];
    public int EncoderLength => KeptEncoder.Desc.Shape[1];

    /// <summary>No host copies needed: the prompt graph may overwrite this encoding (reading it after that throws).</summary>
    internal void Release()
    {
        KeptEncoder.Release();
        KeptVisual?.Release();
    }
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

/// <summary>
/// Teacher-forced decoder pass: decoder_norm states (N, L, d) and, when asked for, logits (N, L, V). The states from
/// <see cref="PixelLlm.TeacherForced"/> stay on the backend, where the point head reads them, until that model's
/// teacher-forced graph of the same shape runs again; the host copy is only made when read (or before that run).
/// </summary>
public sealed class TextFeatures
{
    /// <summary>States (and logits) held on the host.</summary>
    public TextFeatures(HostTensor features, HostTensor? logits)
        : this(new KeptTensor(features), logits)
    {
    }

    internal TextFeatures(KeptTensor features, HostTensor? logits) => (KeptStates, Logits) = (features, logits);

    /// <summary>decoder_norm states, (N, L, d) F32.</summary>
    public HostTensor Features => KeptStates.Host;

    /// <summary>Vocabulary logits (N, L, V), or null when not asked for.</summary>
    public HostTensor? Logits { get; }

    /// <summary>The states where the next graph can read them (<see cref="KeptTensor.Bind"/>).</summary>
    internal KeptTensor KeptStates { get; }
}

/// <summary>
/// Point-head outputs: coordinates in pixels of the valid image (N, L, P, 2), point logits (N, L, P, 1 + classes),
/// valid positions (N × L) and one XYXY box per prompt from its valid points.
/// </summary>
public sealed record PointOutputs(HostTensor Coords, HostTensor Logits, bool[][] Valid, float[][] Boxes);
