using PixelLLM.Runtime;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// A permutation simplified for copying: size-1 dims dropped and input dims that stay adjacent (in order) in the
/// output merged. Per output dim it keeps the size and the element strides in the input and the output.
/// (0, 2, 1, 3) on (B, T, H, D) becomes a 3-D swap with contiguous runs of D; a 2-D transpose stays 2-D.
/// </summary>
internal struct PermutePlan
{
    public int Rank;
    public DimBuffer Size, InputStride, OutputStride;

    /// <summary>Output dim that walks the input's innermost dim (stride 1 in the input).</summary>
    public readonly int InputInnermost
    {
        get
        {
            for (int i = 0; i < Rank; i++) if (InputStride[i] == 1) return i;
            return Rank - 1;
        }
    }

    public static PermutePlan Create(Shape input, ReadOnlySpan<int> perm)
    {
        int rank = input.Rank;
        if (rank > BroadcastPlan.MaxRank) throw new NotSupportedException($"CPU Permute: rank {rank} exceeds {BroadcastPlan.MaxRank}");
        var inputStrides = input.Strides();
        var plan = new PermutePlan();
        int count = 0;
        int previousInputDim = -2;
        for (int i = 0; i < rank; i++)
        {
            int d = perm[i];
            if (input[d] == 1) continue;
            // Input dim d continues the previous kept output dim's input dim when it is its inner neighbour
            // (skipping size-1 dims, which are gone).
            if (count > 0 && NextKeptDim(input, previousInputDim) == d)
            {
                plan.Size[count - 1] *= input[d];
                plan.InputStride[count - 1] = inputStrides[d];
            }
            else
            {
                plan.Size[count] = input[d];
                plan.InputStride[count] = inputStrides[d];
                count++;
            }
            previousInputDim = d;
        }
        if (count == 0)
        {
            plan.Size[0] = 1;
            plan.InputStride[0] = 1;
            count = 1;
        }
        plan.Rank = count;
        long stride = 1;
        for (int i = count - 1; i >= 0; i--)
        {
            plan.OutputStride[i] = stride;
            stride *= plan.Size[i];
        }
        return plan;
    }

    public readonly bool IsIdentity
    {
        get
        {
            for (int i = 0; i < Rank; i++) if (InputStride[i] != OutputStride[i]) return false;
            return true;
        }
    }

    private static int NextKeptDim(Shape input, int dim)
    {
        for (int d = dim + 1; d < input.Rank; d++) if (input[d] != 1) return d;
        return -1;
    }
}
