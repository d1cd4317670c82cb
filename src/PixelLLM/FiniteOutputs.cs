using PixelLLM.Runtime;

namespace PixelLLM;

/// <summary>
/// A request's numbers must be finite: NaN or infinity in decode scores, trace points, boxes or mask logits means the
/// weights hold non-finite values or the computation overflowed at the model's precision (f16), never a result. The
/// request fails with one line saying which output and how to tell the causes apart, instead of returning "score NaN"
/// and boxes JSON writes as null.
/// </summary>
internal static class FiniteOutputs
{
    public static void Require(ReadOnlySpan<float> values, string what)
    {
        foreach (var v in values)
            if (!float.IsFinite(v))
                throw new ModelFileException($"the model's {what} came out {(float.IsNaN(v) ? "NaN" : "infinite")}: its weights hold NaN or infinity, " +
                    "or values overflowed in 16-bit storage (if the model runs in bf16 or f16, try f32: --precision f32)");
    }
}
