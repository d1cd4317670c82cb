using PixelLLM.Models;
using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;

namespace PixelLLM;

/// <summary>
/// Per-task prompt conventions of the reference configs (spec §2.5–2.6, §8; golden case READMEs): the context text (EOS
/// appended, no BOS, zero-padded / truncated to Lc), the decoding, and which positions' points count (spec §6.3).
/// </summary>
internal sealed record TaskSettings(string Name, string Context, int ContextLength, DecodeMode Decoding, TokenValidity Validity)
{
    /// <summary>Caption + trace (<c>*_trace</c> configs): global box, "A long image caption: ", Lc 8, beam 4 / per-node 2.</summary>
    public static TaskSettings CaptionTrace { get; } =
        new("caption", "A long image caption: ", 8, new DecodeMode.Beam(new BeamOptions(4, 2)), TokenValidity.Trace);

    /// <summary>Location-conditioned caption (<c>*_densecap</c>): box prompts, "an object of ", Lc 8, greedy; points as in trace.</summary>
    public static TaskSettings LocationCaption { get; } =
        new("loca_caption", "an object of ", 8, new DecodeMode.Greedy(), TokenValidity.Trace);

    /// <summary>
    /// Referring localisation (<c>*_ref</c>): global box, "where is " + expression, Lc = L (max_context_tokens −1), box at the
    /// position whose next token is EOS; beam 3 / per-node 1 when the text is decoded.
    /// </summary>
    public static TaskSettings Referring(PixelLlmConfig config) =>
        new("refer", "where is ", config.MaxCaptionLength, new DecodeMode.Beam(new BeamOptions(3, 1)), TokenValidity.Referring);

    /// <summary>
    /// This task decoded with <paramref name="beams"/> (<see cref="RequestOptions.Beams"/>): itself when null, greedy for 1,
    /// else beam search with the task's candidates per beam (2 for a greedy task) and brevity exponent.
    /// </summary>
    /// <exception cref="InvalidInputException"><paramref name="beams"/> is outside 1 … <see cref="RequestOptions.MaxBeams"/>.</exception>
    public TaskSettings WithBeams(int? beams)
    {
        if (beams is not { } n) return this;
        if (n < 1 || n > RequestOptions.MaxBeams)
            throw new InvalidInputException($"{Name}: RequestOptions.Beams must be 1 to {RequestOptions.MaxBeams}, got {n}");
        var options = Decoding is DecodeMode.Beam beam ? beam.Options : new BeamOptions(1, 2);
        return this with { Decoding = n == 1 ? new DecodeMode.Greedy() : new DecodeMode.Beam(options with { Beams = n }) };
    }
}
