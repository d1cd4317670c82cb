namespace PixelLLM;

/// <summary>A caption teacher-forced through the decoder (<see cref="PixelLlmModel.TraceCaption"/>).</summary>
/// <param name="Tokens">The decoder input, BOS … EOS.</param>
/// <param name="Predicted">The arg-max of the logits at each of those positions: the model's guess for the NEXT token.</param>
/// <param name="Points">The point head's points per position, original image pixels.</param>
internal sealed record TeacherForcedCaption(int[] Tokens, int[] Predicted, TracePoint[][] Points);

/// <summary>A referring expression teacher-forced, and the mask branch prompted with its box (<see cref="PixelLlmModel.SegmentTeacherForced"/>).</summary>
/// <param name="Box">The referring box (points at the position before EOS), original pixels; null when no position is valid.</param>
/// <param name="Logits">The mask logits over the canvas grid.</param>
/// <param name="EvalWidth">Width of the image at its eval size (the part of the canvas it covers).</param>
/// <param name="EvalHeight">Height of the image at its eval size.</param>
/// <param name="Canvas">Side of the model's square canvas.</param>
internal sealed record TeacherForcedSegment(Box? Box, MaskLogits Logits, int EvalWidth, int EvalHeight, int Canvas);
