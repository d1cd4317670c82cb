namespace PixelLLM.Runtime;

/// <summary>Element types a tensor can hold, on any backend.</summary>
public enum DType : byte { F32, F16, BF16, I32, I64, U8 }

/// <summary>Sizes and file-format names of <see cref="DType"/>.</summary>
public static class DTypes
{
    public static int SizeOf(this DType t) => t switch
    {
        DType.F32 or DType.I32 => 4,
        DType.F16 or DType.BF16 => 2,
        DType.I64 => 8,
        DType.U8 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    public static bool IsFloat(this DType t) => t is DType.F32 or DType.F16 or DType.BF16;

    /// <summary>The dtype's name in the safetensors header.</summary>
    public static string SafetensorsName(this DType t) => t switch
    {
        DType.F32 => "F32", DType.F16 => "F16", DType.BF16 => "BF16",
        DType.I32 => "I32", DType.I64 => "I64", DType.U8 => "U8",
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    public static bool TryParseSafetensors(string name, out DType t)
    {
        switch (name)
        {
            case "F32": t = DType.F32; return true;
            case "F16": t = DType.F16; return true;
            case "BF16": t = DType.BF16; return true;
            case "I32": t = DType.I32; return true;
            case "I64": t = DType.I64; return true;
            case "U8": t = DType.U8; return true;
            default: t = default; return false;
        }
    }
}
