using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Checks;

/// <summary>
/// One op on concrete input shapes for a backend-vs-backend check. Float inputs are random in [−2, 2); integer inputs
/// come from <see cref="Integers"/> (an exclusive upper bound per input, so indices stay valid), U8 inputs are 0/1 masks
/// unless bounded there too. <see cref="Positive"/> inputs are drawn from [0.1, 2) (sqrt, divisors).
/// </summary>
public sealed record OpCheckCase(string Label, Op Op, TensorDesc[] Inputs)
{
    /// <summary>Exclusive upper bound of the values of integer input i (lower bound 0 unless <see cref="SignedIntegers"/>).</summary>
    public Dictionary<int, int> Integers { get; init; } = [];

    /// <summary>Integer inputs that also take negative values down to −bound (arithmetic, casts).</summary>
    public HashSet<int> SignedIntegers { get; init; } = [];

    /// <summary>
    /// I32 inputs that hold float32 bit patterns (<see cref="Ops.BeamCandidatesOp"/>'s scores): drawn or given as floats,
    /// and compared as floats when the op updates them.
    /// </summary>
    public HashSet<int> FloatBits { get; init; } = [];

    /// <summary>Float or integer inputs kept strictly positive.</summary>
    public HashSet<int> Positive { get; init; } = [];

    /// <summary>
    /// Inputs placed <see cref="MisalignBytes"/> bytes past the start of their buffer, like a view into the middle of an
    /// arena: exercises the element-by-element fallbacks of kernels that use 16-byte vector loads on aligned data.
    /// </summary>
    public HashSet<int> Misaligned { get; init; } = [];

    /// <summary>The byte offset of a <see cref="Misaligned"/> input: keeps every element type aligned, never 16 bytes.</summary>
    public const int MisalignBytes = 8;

    /// <summary>
    /// Inputs given exactly instead of drawn (row-major; F32 values pass through the same rounding as drawn ones, I32
    /// values are truncated): boxes on the borders, invalid ids, degenerate geometry that random draws would rarely hit.
    /// </summary>
    public Dictionary<int, float[]> Values { get; init; } = [];

    /// <summary>Generates this case's inputs from <paramref name="random"/>; <paramref name="round"/> maps each float (e.g. to bf16).</summary>
    public HostTensor[] MakeInputs(Random random, Func<float, float> round)
    {
        var tensors = new HostTensor[Inputs.Length];
        for (int i = 0; i < Inputs.Length; i++)
        {
            var d = Inputs[i];
            var t = HostTensor.Zeros(d.DType, d.Shape.ToArray());
            int bound = Integers.TryGetValue(i, out var b) ? b : d.DType == DType.U8 ? 2 : 8;
            bool positive = Positive.Contains(i), signed = SignedIntegers.Contains(i);
            int Int() => positive ? random.Next(1, bound) : signed ? random.Next(-bound + 1, bound) : random.Next(bound);
            float Float() => round(positive ? 0.1f + 1.9f * random.NextSingle() : 4f * random.NextSingle() - 2f);
            switch (d.DType)
            {
                case DType.F32: { var s = t.AsSpan<float>(); for (int j = 0; j < s.Length; j++) s[j] = Float(); break; }
                case DType.F16: { var s = t.AsSpan<Half>(); for (int j = 0; j < s.Length; j++) s[j] = (Half)Float(); break; }
                case DType.BF16: { var s = t.AsSpan<ushort>(); for (int j = 0; j < s.Length; j++) s[j] = BFloat16.FromSingle(Float()); break; }
                case DType.I32 when FloatBits.Contains(i):
                    { var s = t.AsSpan<float>(); for (int j = 0; j < s.Length; j++) s[j] = Float(); break; }
                case DType.I32: { var s = t.AsSpan<int>(); for (int j = 0; j < s.Length; j++) s[j] = Int(); break; }
                case DType.I64: { var s = t.AsSpan<long>(); for (int j = 0; j < s.Length; j++) s[j] = Int(); break; }
                case DType.U8: { var s = t.AsSpan<byte>(); for (int j = 0; j < s.Length; j++) s[j] = (byte)Int(); break; }
            }
            if (Values.TryGetValue(i, out var given))
            {
                if (FloatBits.Contains(i)) OverwriteBits(t, given);
                else Overwrite(t, given, round);
            }
            tensors[i] = t;
        }
        return tensors;
    }

    private static void OverwriteBits(HostTensor t, float[] values)
    {
        if (values.Length != t.Desc.ElementCount)
            throw new InvalidOperationException($"{values.Length} given values for an input of {t.Desc}");
        values.CopyTo(t.AsSpan<float>());
    }

    /// <summary>An I32 tensor of <see cref="FloatBits"/> seen as the F32 tensor its bits hold.</summary>
    public static HostTensor AsFloats(HostTensor bits) => new(bits.Desc with { DType = DType.F32 }, bits.Data);

    private static void Overwrite(HostTensor t, float[] values, Func<float, float> round)
    {
        if (values.Length != t.Desc.ElementCount)
            throw new InvalidOperationException($"{values.Length} given values for an input of {t.Desc}");
        switch (t.Desc.DType)
        {
            case DType.F32: { var s = t.AsSpan<float>(); for (int j = 0; j < s.Length; j++) s[j] = round(values[j]); break; }
            case DType.I32: { var s = t.AsSpan<int>(); for (int j = 0; j < s.Length; j++) s[j] = (int)values[j]; break; }
            default: throw new NotSupportedException($"given values for a {t.Desc.DType} input");
        }
    }
}
