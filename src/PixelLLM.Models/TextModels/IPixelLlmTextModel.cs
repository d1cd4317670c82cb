using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models.TextModels;

/// <summary>
/// The language-model half of <see cref="PixelLlm"/>'s stages, the one seam between the variant-agnostic pipeline
/// (backbones, prompts, adapter, point head; refseg and densecap heads) and a text model: encode prompts into the
/// memory the decoder reads, give step logits for decoding, and run the teacher-forced pass whose states the point head
/// and mask adapter read. Implementations: <see cref="T5TextModel"/> and <see cref="GitTextModel"/>.
/// </summary>
internal interface IPixelLlmTextModel : IDisposable
{
    /// <summary>The decoding engine that reproduces the reference for this model (used when the caller names none).</summary>
    DecodeEngine DefaultEngine { get; }

    /// <summary>Golden name of the prompt encoding (<see cref="PromptEncoding.EncoderOutput"/>): T5 encoder output or GIT memory.</summary>
    string EncodingName { get; }

    /// <summary>Golden name of the encoding's validity mask (N, K + Lc) U8 in traces.</summary>
    string ValidMaskName { get; }

    /// <summary>
    /// Adds the text model's part of the prompt graph: prompt-adapter tokens (N, K, Dv) and context ids I32 (N, Lc) →
    /// the encoding (N, K + Lc, d), output under <see cref="EncodingName"/>, plus its own intermediates under golden
    /// names. Inputs it adds are bound by <see cref="BindPromptInputs"/>.
    /// </summary>
    void BuildPrompts(Graph g, Tensor adapterTokens, Tensor context);

    /// <summary>Sets the inputs <see cref="BuildPrompts"/> added, from the (N, K + Lc) validity.</summary>
    void BindPromptInputs(GraphExecutor exec, bool[][] valid);

    /// <summary>
    /// Next-token logits for decoding <paramref name="encoding"/> with <paramref name="beams"/> rows per prompt. The
    /// caller disposes the result when it is <see cref="IDisposable"/>.
    /// </summary>
    IStepLogits StepLogits(PromptEncoding encoding, int beams, DecodeEngine engine);

    /// <summary>The teacher-forced pass on token rows (N × L): text features (N, L, d) and logits (N, L, V).</summary>
    TextFeatures TeacherForced(PromptEncoding encoding, int[][] tokens, bool withLogits);
}

/// <summary>Builds the text model a configuration names.</summary>
internal static class PixelLlmTextModels
{
    public static IPixelLlmTextModel Create(PixelLlmConfig config, IWeightSource weights, IBackend backend) => config.LanguageModel.Kind switch
    {
        LanguageModelKind.T5 => new T5TextModel(config, weights, backend),
        LanguageModelKind.Git => new GitTextModel(config, weights, backend),
        _ => throw new ArgumentOutOfRangeException(nameof(config), config.LanguageModel.Kind, "unknown language model"),
    };

    /// <summary>(rows × L) token ids checked against the teacher-forced pass's expected shape.</summary>
    public static int[] FlattenTokens(int[][] tokens, int prompts, int length)
    {
        if (tokens.Length != prompts || tokens.Any(t => t.Length != length))
            throw new InvalidInputException($"teacher-forced pass: expected {prompts} token rows of {length}");
        return tokens.SelectMany(t => t).ToArray();
    }
}
