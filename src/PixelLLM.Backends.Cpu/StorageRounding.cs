using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// <see cref="CpuBackend.EmulatedStorage"/>: what an op wrote, rounded in place to the 16-bit type a device would have
/// stored it in (round to nearest even, as the device's conversions do). Only f32 tensors: they are the ones a device
/// stores in its float storage type.
/// </summary>
internal static unsafe class StorageRounding
{
    /// <summary>Rounds <paramref name="y"/> and the inputs <paramref name="op"/> updates in place; nothing for F32 storage.</summary>
    public static void Written(Op op, ReadOnlySpan<CpuTensor> x, CpuTensor y, DType storage)
    {
        if (storage == DType.F32) return;
        Round(y, storage);
        foreach (int i in op.UpdatedInputs)
            if (op.InPlaceInput != i) Round(x[i], storage);
    }

    private static void Round(CpuTensor t, DType storage)
    {
        if (t.Desc.DType != DType.F32) return;
        var values = t.F32;
        if (storage == DType.BF16)
            for (int i = 0; i < values.Length; i++) values[i] = BFloat16.ToSingle(BFloat16.FromSingle(values[i]));
        else
            for (int i = 0; i < values.Length; i++) values[i] = (float)(Half)values[i];
    }
}
