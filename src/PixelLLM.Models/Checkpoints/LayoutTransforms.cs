using PixelLLM.Runtime;

namespace PixelLLM.Models.Checkpoints;

/// <summary>How a Flax tensor is laid out and what the engine (PyTorch layouts) wants instead.</summary>
public enum ScenicLayout
{
    /// <summary>Same values, same shape (biases, tables, LayerNorm scales, embeddings).</summary>
    AsIs,
    /// <summary>Flax Dense kernel (in, out) → Linear weight (out, in).</summary>
    DenseKernel,
    /// <summary>Flax Conv kernel (kh, kw, in, out) → Conv2d weight (out, in, kh, kw).</summary>
    ConvKernel,
    /// <summary>Flax ConvTranspose kernel (kh, kw, in, out), not flipped → ConvTranspose2d weight (in, out, kh, kw), spatially flipped (errata E9).</summary>
    ConvTransposeKernel,
    /// <summary>t5x relative-position table (heads, buckets) → HF embedding (buckets, heads).</summary>
    RelativeEmbedding,
    /// <summary>Dense kernel (in, out) plus LoRA left (in, r) and right (r, out), merged then transposed to (out, in).</summary>
    LoraDenseKernel,
}

/// <summary>Host-side layout changes used when presenting Flax tensors under PyTorch layouts.</summary>
public static class LayoutTransforms
{
    /// <summary>(rows, cols) → (cols, rows).</summary>
    public static HostTensor Transpose2d(HostTensor t)
    {
        int rows = t.Shape[0], cols = t.Shape[1];
        var src = t.ToFloatArray();
        var dst = new float[src.Length];
        // Tiles keep both the reads and the strided writes within cache for checkpoint-sized kernels.
        const int tile = 32;
        for (int i0 = 0; i0 < rows; i0 += tile)
            for (int j0 = 0; j0 < cols; j0 += tile)
                for (int i = i0, iEnd = Math.Min(rows, i0 + tile); i < iEnd; i++)
                    for (int j = j0, jEnd = Math.Min(cols, j0 + tile); j < jEnd; j++) dst[j * rows + i] = src[i * cols + j];
        return HostTensor.FromArray(dst, cols, rows);
    }

    /// <summary>(kh, kw, in, out) → (out, in, kh, kw).</summary>
    public static HostTensor ConvToTorch(HostTensor t)
    {
        int kh = t.Shape[0], kw = t.Shape[1], ci = t.Shape[2], co = t.Shape[3];
        var src = t.ToFloatArray();
        var dst = new float[src.Length];
        for (int y = 0; y < kh; y++)
            for (int x = 0; x < kw; x++)
                for (int i = 0; i < ci; i++)
                    for (int o = 0; o < co; o++)
                        dst[((o * ci + i) * kh + y) * kw + x] = src[((y * kw + x) * ci + i) * co + o];
        return HostTensor.FromArray(dst, co, ci, kh, kw);
    }

    /// <summary>
    /// (kh, kw, in, out) → (in, out, kh, kw) with the taps reversed: Flax computes out[s·i + a] += x[i]·K[kh − 1 − a], PyTorch
    /// ConvTranspose2d out[s·i + a] += x[i]·W[a].
    /// </summary>
    public static HostTensor ConvTransposeToTorch(HostTensor t)
    {
        int kh = t.Shape[0], kw = t.Shape[1], ci = t.Shape[2], co = t.Shape[3];
        var src = t.ToFloatArray();
        var dst = new float[src.Length];
        for (int y = 0; y < kh; y++)
            for (int x = 0; x < kw; x++)
                for (int i = 0; i < ci; i++)
                    for (int o = 0; o < co; o++)
                        dst[((i * co + o) * kh + (kh - 1 - y)) * kw + (kw - 1 - x)] = src[((y * kw + x) * ci + i) * co + o];
        return HostTensor.FromArray(dst, ci, co, kh, kw);
    }

    /// <summary>The shape <see cref="Apply"/> gives a source (the kernel's, for LoRA) of <paramref name="scenicShape"/>: the layout rules' one shape statement.</summary>
    public static int[] EngineShape(ScenicLayout layout, int[] scenicShape) => layout switch
    {
        ScenicLayout.AsIs => scenicShape,
        ScenicLayout.DenseKernel or ScenicLayout.RelativeEmbedding or ScenicLayout.LoraDenseKernel => [scenicShape[1], scenicShape[0]],
        ScenicLayout.ConvKernel => [scenicShape[3], scenicShape[2], scenicShape[0], scenicShape[1]],
        ScenicLayout.ConvTransposeKernel => [scenicShape[2], scenicShape[3], scenicShape[0], scenicShape[1]],
        _ => throw new ArgumentOutOfRangeException(nameof(layout), layout, "unknown layout"),
    };

    /// <summary>Applies <paramref name="layout"/> to the source tensors (one, or kernel/left/right for LoRA).</summary>
    public static HostTensor Apply(ScenicLayout layout, IReadOnlyList<HostTensor> sources, float loraScale, string engineName, IReadOnlyList<string> sourceNames)
    {
        var t = sources[0];
        string Where() => $"'{engineName}' (from scenic '{string.Join("', '", sourceNames)}')";
        switch (layout)
        {
            case ScenicLayout.AsIs:
                // A copy: checkpoint views may be unaligned and live only as long as their file.
                return HostTensor.FromArray(t.ToFloatArray(), t.Shape.ToArray());
            case ScenicLayout.DenseKernel:
            case ScenicLayout.RelativeEmbedding:
                if (t.Shape.Rank != 2) throw new ModelFileException($"{Where()}: expected a rank-2 kernel, got {t.Desc}");
                return Transpose2d(t);
            case ScenicLayout.ConvKernel:
                if (t.Shape.Rank != 4) throw new ModelFileException($"{Where()}: expected a (kh, kw, in, out) conv kernel, got {t.Desc}");
                return ConvToTorch(t);
            case ScenicLayout.ConvTransposeKernel:
                if (t.Shape.Rank != 4) throw new ModelFileException($"{Where()}: expected a (kh, kw, in, out) conv-transpose kernel, got {t.Desc}");
                return ConvTransposeToTorch(t);
            case ScenicLayout.LoraDenseKernel:
                if (sources.Count != 3) throw new ModelFileException($"{Where()}: LoRA needs kernel, left and right");
                try
                {
                    return Transpose2d(LoraMerge.MergeKernel(t, sources[1], sources[2], loraScale, engineName));
                }
                catch (ModelFileException e)
                {
                    throw new ModelFileException($"{Where()}: {e.Message}", e);
                }
            default:
                throw new ArgumentOutOfRangeException(nameof(layout), layout, "unknown layout");
        }
    }
}
