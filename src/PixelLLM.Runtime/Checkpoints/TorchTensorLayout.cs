using System.Buffers.Binary;

namespace PixelLLM.Runtime.Checkpoints;

/// <summary>Checks a tensor's strided view against its storage, and copies non-contiguous (or converted) views out.</summary>
internal static class TorchTensorLayout
{
    /// <summary>
    /// Ensures every element the view can address lies inside its storage and the tensor fits a <see cref="HostTensor"/>
    /// (at most 2 GiB, the limit of <see cref="Memory{T}"/>). All arithmetic is overflow-checked.
    /// </summary>
    public static void Validate(TorchTensorRef tensor, string file)
    {
        var (storage, offset) = (tensor.Storage, tensor.Offset);
        string Where() => $"{file}: a {storage.Type} tensor of shape ({string.Join(", ", tensor.Size)}) in storage '{storage.Key}'";
        if (offset < 0 || offset > storage.ElementCount)
            throw new ModelFileException($"{Where()} starts at element {offset}, outside the storage's {storage.ElementCount} elements");
        long count = ElementCount(tensor);
        if (count < 0) throw new ModelFileException($"{Where()} has more elements than fit in 64 bits");
        if (count == 0) return;

        long last = offset;
        for (int i = 0; i < tensor.Size.Length; i++)
        {
            long reach = tensor.Stride[i] == 0 ? 0 : (tensor.Size[i] - 1L) > long.MaxValue / tensor.Stride[i] ? -1 : (tensor.Size[i] - 1L) * tensor.Stride[i];
            if (reach < 0 || reach > long.MaxValue - last)
                throw new ModelFileException($"{Where()} has strides ({string.Join(", ", tensor.Stride)}) reaching past 64-bit offsets");
            last += reach;
        }
        if (last >= storage.ElementCount)
            throw new ModelFileException(
                $"{Where()} with offset {offset} and strides ({string.Join(", ", tensor.Stride)}) reaches element {last}, " +
                $"past the storage's {storage.ElementCount} elements");
        if (count > int.MaxValue / storage.Type.DType.SizeOf())
            throw new ModelFileException($"{Where()} has {count} elements, over the 2 GiB per-tensor limit");
    }

    /// <summary>The number of elements, or -1 when it overflows.</summary>
    public static long ElementCount(TorchTensorRef tensor)
    {
        long count = 1;
        foreach (var d in tensor.Size)
        {
            if (d == 0) return 0;
            if (count > long.MaxValue / d) return -1;
            count *= d;
        }
        return count;
    }

    /// <summary>Whether the view is the row-major layout of its shape (strides of size-1 dimensions do not matter).</summary>
    public static bool IsContiguous(TorchTensorRef tensor)
    {
        if (ElementCount(tensor) == 0) return true;
        long expected = 1;
        for (int i = tensor.Size.Length - 1; i >= 0; i--)
        {
            if (tensor.Size[i] == 1) continue;
            if (tensor.Stride[i] != expected) return false;
            expected *= tensor.Size[i];
        }
        return true;
    }

    /// <summary>
    /// Copies the view's elements in row-major order out of <paramref name="storage"/> (the storage's bytes), converting
    /// float64 to float32 where the storage type asks for it. <see cref="Validate"/> must have accepted the tensor.
    /// </summary>
    public static byte[] Materialize(TorchTensorRef tensor, ByteWindow storage)
    {
        var type = tensor.Storage.Type;
        int inSize = type.StoredElementSize, outSize = type.DType.SizeOf();
        long count = ElementCount(tensor);
        var result = new byte[count * outSize];
        if (count == 0) return result;

        int rank = tensor.Size.Length;
        int inner = rank == 0 ? 1 : tensor.Size[^1];
        long innerStride = rank == 0 ? 1 : tensor.Stride[^1];
        var index = new int[Math.Max(rank - 1, 0)];
        long element = tensor.Offset;
        var output = result.AsSpan();
        for (long row = 0, rows = count / inner; row < rows; row++)
        {
            var destination = output.Slice((int)(row * inner * outSize), inner * outSize);
            if (innerStride == 1 && !type.IsConverted)
                storage.Slice(element * inSize, inner * inSize).CopyTo(destination);
            else
                CopyStrided(storage, element, innerStride, inner, type, destination);
            // Advance the outer dimensions like an odometer, moving the source offset with them.
            for (int d = rank - 2; d >= 0; d--)
            {
                element += tensor.Stride[d];
                if (++index[d] < tensor.Size[d]) break;
                element -= tensor.Stride[d] * tensor.Size[d];
                index[d] = 0;
            }
        }
        return result;
    }

    private static void CopyStrided(ByteWindow storage, long element, long stride, int count, TorchStorageType type, Span<byte> destination)
    {
        int inSize = type.StoredElementSize;
        for (int j = 0; j < count; j++, element += stride)
        {
            var source = storage.Slice(element * inSize, inSize);
            if (type.IsConverted) // float64 storage handed out as float32
                BinaryPrimitives.WriteSingleLittleEndian(destination.Slice(j * 4, 4), (float)BinaryPrimitives.ReadDoubleLittleEndian(source));
            else
                source.CopyTo(destination.Slice(j * inSize, inSize));
        }
    }
}
