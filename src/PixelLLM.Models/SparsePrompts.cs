using PixelLLM.Runtime;

namespace PixelLLM.Models;

/// <summary>
/// The host-computed half of SAM's sparse prompt embedding for B prompts of N tokens each: the Fourier features of every
/// point / box corner (zero for not-a-point tokens) and, per token, which learned embedding the graph adds to it.
/// Feed them to the graph inputs that <see cref="PromptEncoder.SparseEmbeddings"/> consumes.
/// </summary>
/// <param name="Features">F32 (B, N, C).</param>
/// <param name="Slots">I32 (B, N): row of the learned table — see <see cref="PromptEncoder.SlotNotAPoint"/> and following.</param>
public sealed record SparsePrompts(HostTensor Features, HostTensor Slots)
{
    public int Batch => Features.Shape[0];
    public int Tokens => Features.Shape[1];

    /// <summary>
    /// Encodes points (x, y in input-image pixels, labels 1 foreground, 0 background, −1 not-a-point) and/or XYXY boxes
    /// like segment-anything's PromptEncoder: every coordinate shifted by +0.5 to the pixel centre; a padding point
    /// (label −1) is appended when there are points but no boxes; box corners follow the points.
    /// Returns null when there is neither (the reference's sparse embedding then has zero tokens).
    /// </summary>
    /// <param name="gaussian">pe_layer.positional_encoding_gaussian_matrix (2, C/2).</param>
    /// <param name="coords">F32 (B, N, 2) or null.</param>
    /// <param name="labels">I64 or I32 (B, N); required with <paramref name="coords"/>.</param>
    /// <param name="boxes">F32 (B, 4) or null.</param>
    public static SparsePrompts? Encode(HostTensor gaussian, int inputHeight, int inputWidth,
        HostTensor? coords, HostTensor? labels, HostTensor? boxes)
    {
        var g = RandomFourierEncoding.CheckGaussian(gaussian);
        int c = g.Length;
        if (coords is null && labels is not null) throw new InvalidInputException("point labels given without point coordinates");
        if (coords is null && boxes is null) return null;

        int batch = -1, points = 0;
        float[]? xy = null; long[]? lab = null;
        if (coords is not null)
        {
            if (coords.DType != DType.F32 || coords.Shape.Rank != 3 || coords.Shape[2] != 2)
                throw new InvalidInputException($"point coordinates must be F32 (B, N, 2), got {coords.Desc}");
            if (labels is null) throw new InvalidInputException("point coordinates given without labels");
            if (labels.Shape.Rank != 2 || labels.Shape[0] != coords.Shape[0] || labels.Shape[1] != coords.Shape[1]
                || labels.DType is not (DType.I64 or DType.I32))
                throw new InvalidInputException($"point labels must be I64/I32 ({coords.Shape[0]}, {coords.Shape[1]}), got {labels.Desc}");
            batch = coords.Shape[0];
            points = coords.Shape[1];
            xy = coords.ToFloatArray();
            lab = labels.DType == DType.I64 ? labels.AsSpan<long>().ToArray() : labels.AsSpan<int>().ToArray().Select(v => (long)v).ToArray();
        }
        float[]? box = null;
        if (boxes is not null)
        {
            if (boxes.DType != DType.F32 || boxes.Shape.Rank != 2 || boxes.Shape[1] != 4)
                throw new InvalidInputException($"boxes must be F32 (B, 4), got {boxes.Desc}");
            if (batch >= 0 && boxes.Shape[0] != batch)
                throw new InvalidInputException($"boxes {boxes.Shape} and points {coords!.Shape} disagree on the prompt count");
            batch = boxes.Shape[0];
            box = boxes.ToFloatArray();
        }

        bool pad = xy is not null && box is null;
        int tokens = points + (pad ? 1 : 0) + (box is not null ? 2 : 0);
        var features = new float[batch * tokens * c];
        var slots = new int[batch * tokens];
        for (int b = 0; b < batch; b++)
        {
            int t = b * tokens;
            for (int n = 0; n < points; n++, t++)
            {
                long label = lab![b * points + n];
                slots[t] = label switch
                {
                    -1 => PromptEncoder.SlotNotAPoint,
                    0 => PromptEncoder.SlotBackground,
                    1 => PromptEncoder.SlotForeground,
                    _ => throw new InvalidInputException($"point label {label} at prompt {b}, point {n}: expected 1, 0 or -1"),
                };
                if (label == -1) continue;                     // the reference zeroes the encoding of not-a-point tokens
                float x = xy![(b * points + n) * 2] + 0.5f, y = xy[(b * points + n) * 2 + 1] + 0.5f;
                RandomFourierEncoding.EncodePixel(g, x, y, inputHeight, inputWidth, features.AsSpan(t * c, c));
            }
            if (pad) slots[t++] = PromptEncoder.SlotNotAPoint;
            if (box is not null)
            {
                for (int corner = 0; corner < 2; corner++, t++)
                {
                    float x = box[b * 4 + 2 * corner] + 0.5f, y = box[b * 4 + 2 * corner + 1] + 0.5f;
                    RandomFourierEncoding.EncodePixel(g, x, y, inputHeight, inputWidth, features.AsSpan(t * c, c));
                    slots[t] = corner == 0 ? PromptEncoder.SlotBoxTopLeft : PromptEncoder.SlotBoxBottomRight;
                }
            }
        }
        return new SparsePrompts(HostTensor.FromArray(features, batch, tokens, c), HostTensor.FromArray(slots, batch, tokens));
    }
}
