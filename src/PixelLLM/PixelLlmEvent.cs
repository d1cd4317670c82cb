namespace PixelLLM;

/// <summary>
/// What a request reports while it runs (see <see cref="RequestOptions.OnEvent"/> and the *StreamAsync methods), in order:
/// <see cref="StageStarted"/> per stage, <see cref="TokenDecoded"/> per generated token, then one <see cref="CaptionReady"/>
/// or <see cref="ReferReady"/> per prompt once the teacher-forced rerun has given every token its points.
/// </summary>
public abstract record PixelLlmEvent
{
    private protected PixelLlmEvent() { }
}

/// <summary>A stage begins: "vision" (both backbones, once per image), "prompts", "decode", "points".</summary>
/// <param name="Stage">The stage name.</param>
public sealed record StageStarted(string Stage) : PixelLlmEvent;

/// <summary>
/// A token is final. Greedy decoding reports each token at the step that fixes it; beam search reports the best beam's tokens
/// when the search ends (a beam's tokens are not final before that).
/// </summary>
/// <param name="Prompt">Index of the prompt (box or expression) in the request.</param>
/// <param name="Position">Position in the decoder sequence (1 = first generated token).</param>
/// <param name="Id">Token id.</param>
/// <param name="Piece">The text this token adds ("" for EOS).</param>
public sealed record TokenDecoded(int Prompt, int Position, int Id, string Piece) : PixelLlmEvent;

/// <summary>A caption with its points is complete.</summary>
/// <param name="Prompt">Index of the prompt box in the request.</param>
/// <param name="Result">The full result, as the non-streaming call returns it.</param>
public sealed record CaptionReady(int Prompt, CaptionResult Result) : PixelLlmEvent;

/// <summary>A referring result with its points is complete.</summary>
/// <param name="Result">The full result, as the non-streaming call returns it.</param>
public sealed record ReferReady(ReferResult Result) : PixelLlmEvent;

/// <summary>Per-request settings.</summary>
public sealed record RequestOptions
{
    /// <summary>Called on the request's thread for every <see cref="PixelLlmEvent"/> (progress, streaming); keep it short.</summary>
    public Action<PixelLlmEvent>? OnEvent { get; init; }

    /// <summary>Checked between stages and decode steps; cancellation throws <see cref="OperationCanceledException"/>.</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>
    /// Beams for this request's text decoding instead of the task's own (caption 4; refer with decoded text and segment 3;
    /// region captions and dense captioning greedy): 1 decodes greedily, more run beam search keeping the task's candidates
    /// per beam (2 where the task is greedy). Null (the default): the task's own, as the reference decodes. 1 to
    /// <see cref="MaxBeams"/>.
    /// </summary>
    public int? Beams { get; init; }

    /// <summary>The largest <see cref="Beams"/> a request may ask for.</summary>
    public const int MaxBeams = 16;

    /// <summary>When set, receives every named intermediate the stages report (mid.* names of the goldens), for dumps.</summary>
    internal IDictionary<string, Runtime.HostTensor>? Trace { get; init; }
}
