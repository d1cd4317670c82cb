using PixelLLM.Runtime;

namespace PixelLLM.Models;

/// <summary>Token-sequence rules of scenic's T5 path: post-decoding clean-up and the t5x attention masks (spec §5.1, §8.3, errata B1).</summary>
public static class PixelLlmTokens
{
    /// <summary>
    /// scenic <c>prepare_text_features</c>: keep a token while the running count of EOS up to and including it is ≤ 1,
    /// else 0 — every EOS filler after the first EOS becomes padding.
    /// </summary>
    public static int[] ZeroAfterFirstEos(ReadOnlySpan<int> tokens, int eos)
    {
        var result = new int[tokens.Length];
        int seen = 0;
        for (int i = 0; i < tokens.Length; i++)
        {
            if (tokens[i] == eos) seen++;
            result[i] = seen <= 1 ? tokens[i] : 0;
        }
        return result;
    }

    /// <summary>Encoder validity (rows, K + Lc): the K visual slots always, context tokens when id > 0.</summary>
    public static bool[][] EncoderValid(int[][] context, int visualTokens) =>
        context.Select(row => Enumerable.Repeat(true, visualTokens).Concat(row.Select(t => t > 0)).ToArray()).ToArray();

    /// <summary>t5x make_attention_mask(valid, valid): U8 (rows, 1, L, L), 1 where query and key are both valid.</summary>
    public static HostTensor PairwiseMask(bool[][] valid)
    {
        int rows = valid.Length, length = valid[0].Length;
        var mask = new byte[rows * length * length];
        for (int r = 0; r < rows; r++)
            for (int q = 0; q < length; q++)
                for (int k = 0; k < length; k++)
                    mask[(r * length + q) * length + k] = (byte)(valid[r][q] && valid[r][k] ? 1 : 0);
        return HostTensor.FromArray(mask, rows, 1, length, length);
    }

    /// <summary>
    /// The decoder masks t5x builds from the target (tokens shifted left by one, last = 0): self-attention
    /// causal ∧ target_q > 0 ∧ target_k > 0 (rows, 1, L, L); cross-attention target_q > 0 ∧ encoder_valid_k (rows, 1, L, Le).
    /// <paramref name="encoderValid"/> row r / <paramref name="encoderRowDivisor"/> serves token row r (beams share a prompt).
    /// </summary>
    public static (HostTensor Self, HostTensor Cross) DecoderMasks(ReadOnlySpan<int> tokens, int rows, int length, bool[][] encoderValid, int encoderRowDivisor = 1)
    {
        int le = encoderValid[0].Length;
        var self = new byte[rows * length * length];
        var cross = new byte[rows * length * le];
        var target = new bool[length];
        for (int r = 0; r < rows; r++)
        {
            var row = tokens.Slice(r * length, length);
            for (int i = 0; i < length; i++) target[i] = i + 1 < length && row[i + 1] > 0;
            var valid = encoderValid[r / encoderRowDivisor];
            for (int q = 0; q < length; q++)
            {
                if (!target[q]) continue;
                for (int k = 0; k <= q; k++) self[(r * length + q) * length + k] = (byte)(target[k] ? 1 : 0);
                for (int k = 0; k < le; k++) cross[(r * length + q) * le + k] = (byte)(valid[k] ? 1 : 0);
            }
        }
        return (HostTensor.FromArray(self, rows, 1, length, length), HostTensor.FromArray(cross, rows, 1, length, le));
    }
}
