namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>
/// Simplifies the strided view of a few operands over one output shape before a kernel walks it: fewer dims means fewer
/// divisions per element, and a layout that collapses to one or two dims can use a kernel with no index math at all.
/// </summary>
internal static class StridedLayout
{
    /// <summary>
    /// Drops size-1 dims and merges each dim into the one before it wherever every operand steps over both as one run
    /// (stride[d] == stride[d + 1] · dims[d + 1]; broadcast dims with stride 0 merge with each other). Returns the new
    /// dims and each operand's strides; an output of one element comes back as dims [1] with stride 0 everywhere.
    /// </summary>
    public static (long[] Dims, long[][] Strides) Coalesce(long[] dims, params long[][] strides)
    {
        var outDims = new List<long>(dims.Length);
        var outStrides = strides.Select(_ => new List<long>(dims.Length)).ToArray();
        for (int d = 0; d < dims.Length; d++)
        {
            if (dims[d] == 1) continue;
            int last = outDims.Count - 1;
            bool merges = last >= 0;
            for (int k = 0; k < strides.Length && merges; k++)
                merges = outStrides[k][last] == strides[k][d] * dims[d];
            if (merges)
            {
                outDims[last] *= dims[d];
                for (int k = 0; k < strides.Length; k++) outStrides[k][last] = strides[k][d];
            }
            else
            {
                outDims.Add(dims[d]);
                for (int k = 0; k < strides.Length; k++) outStrides[k].Add(strides[k][d]);
            }
        }
        if (outDims.Count == 0) return ([1], strides.Select(_ => new long[] { 0 }).ToArray());
        return (outDims.ToArray(), outStrides.Select(s => s.ToArray()).ToArray());
    }
}
