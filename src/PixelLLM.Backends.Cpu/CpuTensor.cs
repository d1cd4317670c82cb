using PixelLLM.Runtime;

namespace PixelLLM.Backends.Cpu;

/// <summary>A tensor in host memory as CPU kernels see it: a pointer and a description.</summary>
public readonly unsafe struct CpuTensor(byte* pointer, TensorDesc desc)
{
    public byte* Pointer { get; } = pointer;
    public TensorDesc Desc { get; } = desc;
    public Shape Shape => Desc.Shape;
    public int Length => checked((int)Desc.ElementCount);

    public Span<float> F32 { get { Require(DType.F32); return new Span<float>(Pointer, Length); } }
    public Span<int> I32 { get { Require(DType.I32); return new Span<int>(Pointer, Length); } }
    public Span<long> I64 { get { Require(DType.I64); return new Span<long>(Pointer, Length); } }
    public Span<byte> U8 { get { Require(DType.U8); return new Span<byte>(Pointer, Length); } }
    public float* F32Ptr { get { Require(DType.F32); return (float*)Pointer; } }

    private void Require(DType expected)
    {
        if (Desc.DType != expected) throw new NotSupportedException($"CPU backend: expected {expected} tensor, got {Desc}");
    }
}

/// <summary>Operand list storage that lives on the stack, so dispatch does not allocate.</summary>
[System.Runtime.CompilerServices.InlineArray(8)]
internal struct CpuTensorList
{
    private CpuTensor first;
}
