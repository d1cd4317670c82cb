using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>Elementwise ops: unary.cu (Unary, Scale), swiglu.cu, cast.cu (binary.cu: CudaOps.Binary.cs).</summary>
internal sealed partial class CudaOps
{
    private void Unary(UnaryOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        string name = op.Kind switch
        {
            UnaryKind.Relu => "relu",
            UnaryKind.Gelu => "gelu",
            UnaryKind.GeluTanh => "gelu_tanh",
            UnaryKind.Silu => "silu",
            UnaryKind.Sigmoid => "sigmoid",
            UnaryKind.Tanh => "tanh_",
            UnaryKind.Exp => "exp_",
            UnaryKind.Neg => "neg",
            UnaryKind.Sqrt => "sqrt_",
            UnaryKind.Abs => "abs_",
            _ => throw new NotSupportedException($"CUDA Unary: no kernel for {op.Kind}"),
        };
        Elements("unary.cu", $"{name}_{FloatSuffix(y, "Unary")}", VectorUnits(y), Args().Ptr(x[0].Ptr).Ptr(y.Ptr).I64(y.Count));
    }

    private void Scale(ScaleOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y) =>
        Elements("unary.cu", $"scale_{FloatSuffix(y, "Scale")}", VectorUnits(y), Args().Ptr(x[0].Ptr).Ptr(y.Ptr).I64(y.Count).F32(op.Scale).F32(op.Shift));

    private void SwiGlu(SwiGluOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y) => Gated("swiglu", op.Packed, x, y);

    private void GeGlu(GeGluOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y) => Gated("geglu", op.Packed, x, y);

    /// <summary>swiglu.cu: over (gate, x), or over the halves of packed rows (<c>&lt;name&gt;_packed</c>).</summary>
    private void Gated(string name, bool packed, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        string suffix = FloatSuffix(y, name);
        if (packed)
            Elements("swiglu.cu", $"{name}_packed_{suffix}", y.Count, Args().Ptr(x[0].Ptr).Ptr(y.Ptr).I64(y.Count).I32(y.Shape[-1]));
        else
            Elements("swiglu.cu", $"{name}_{suffix}", y.Count, Args().Ptr(x[0].Ptr).Ptr(x[1].Ptr).Ptr(y.Ptr).I64(y.Count));
    }

    private void Cast(ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        if (x[0].Type == y.Type)
        {
            queue.Copy(y.Ptr, x[0].Ptr, y.Bytes);
            return;
        }
        Elements("cast.cu", $"cast_{Suffix(x[0].Type)}_{Suffix(y.Type)}", y.Count, Args().Ptr(x[0].Ptr).Ptr(y.Ptr).I64(y.Count));
    }
}
