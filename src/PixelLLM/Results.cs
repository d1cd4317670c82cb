namespace PixelLLM;

/// <summary>A point in original image pixels.</summary>
/// <param name="X">Column coordinate.</param>
/// <param name="Y">Row coordinate.</param>
public readonly record struct TracePoint(float X, float Y);

/// <summary>
/// One position of the decoded sequence as the point head saw it (spec §6.2): the input token at that position and the points
/// predicted from its hidden state. Position 0 is the decoder start (BOS), the last listed position holds the first EOS.
/// </summary>
/// <param name="Position">Index in the decoder sequence.</param>
/// <param name="Id">Token id.</param>
/// <param name="Piece">The text this token adds to the caption ("" for BOS / EOS).</param>
/// <param name="IsWord">False for the BOS and EOS positions.</param>
/// <param name="Valid">Whether the task's rule counts this position's points (trace: every word; referring: the one before EOS).</param>
/// <param name="Points">The point head's points (2 box corners in every PixelLLM config), original image pixels.</param>
/// <param name="Box">Min/max box of <paramref name="Points"/>: the token's trace box.</param>
public sealed record TraceToken(int Position, int Id, string Piece, bool IsWord, bool Valid, IReadOnlyList<TracePoint> Points, Box Box);

/// <summary>A caption of one prompt box with its per-token trace (tasks caption + trace, location-conditioned caption).</summary>
/// <param name="Text">The caption.</param>
/// <param name="Tokens">Positions BOS … first EOS with their points.</param>
/// <param name="Score">The decoder's score: beam search's length-penalised log-prob, greedy's mean log-prob.</param>
/// <param name="PromptBox">The prompt box in original pixels (the whole image when none was given).</param>
/// <param name="TraceBox">Min/max over the valid positions' points (scenic use_points_as_det); null when no position is valid.</param>
public sealed record CaptionResult(string Text, IReadOnlyList<TraceToken> Tokens, float Score, Box PromptBox, Box? TraceBox)
{
    /// <summary>This result as UTF-8 JSON (schema in the README); identical input gives identical bytes.</summary>
    public byte[] ToJson() => ResultJson.Caption([this], null);
}

/// <summary>A referring expression located in the image (spec §2.6).</summary>
/// <param name="Expression">The expression as given.</param>
/// <param name="Text">The decoder sequence's text: the expression itself when teacher-forced, else the decoded text.</param>
/// <param name="Tokens">Positions BOS … first EOS with their points.</param>
/// <param name="Box">The referring box: min/max of the points at the position whose next token is EOS; null if there is none.</param>
/// <param name="Score">Beam score when the text was decoded; null when teacher-forced.</param>
public sealed record ReferResult(string Expression, string Text, IReadOnlyList<TraceToken> Tokens, Box? Box, float? Score)
{
    /// <summary>This result as UTF-8 JSON (schema in the README); identical input gives identical bytes.</summary>
    public byte[] ToJson() => ResultJson.Refer([this], null);
}
