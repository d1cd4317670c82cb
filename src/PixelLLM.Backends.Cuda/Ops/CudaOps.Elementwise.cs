using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>Elementwise ops: unary.cu (Unary, Scale), binary.cu, swiglu.cu, cast.cu.</summary>
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
        Elements("unary.cu", $"{name}_{FloatSuffix(y, "Unary")}", y.Count, Args().Ptr(x[0].Ptr).Ptr(y.Ptr).I64(y.Count));
    }

    private void Scale(ScaleOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y) =>
        Elements("unary.cu", $"scale_{FloatSuffix(y, "Scale")}", y.Count, Args().Ptr(x[0].Ptr).Ptr(y.Ptr).I64(y.Count).F32(op.Scale).F32(op.Shift));

    private void SwiGlu(ReadOnlySpan<DeviceTensor> x, DeviceTensor y) =>
        Elements("swiglu.cu", $"swiglu_{FloatSuffix(y, "SwiGlu")}", y.Count, Args().Ptr(x[0].Ptr).Ptr(x[1].Ptr).Ptr(y.Ptr).I64(y.Count));

    private void Binary(BinaryOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var (a, b) = (x[0], x[1]);
        var dims = ShapeLongs(y.Shape);
        var sa = Broadcast.Strides(a.Shape, y.Shape);
        var sb = Broadcast.Strides(b.Shape, y.Shape);
        Elements("binary.cu", $"binary_{Suffix(y.Type)}", y.Count, Args().Ptr(a.Ptr).Ptr(b.Ptr).Ptr(y.Ptr).I64(y.Count).I32(dims.Length)
            .Dims(Dims8.From(dims)).Dims(Dims8.From(sa)).Dims(Dims8.From(sb)).I32((int)op.Kind).Ptr(queue.ErrorWord));
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
