namespace PixelLLM.Backends.Cpu;

/// <summary>A strided matrix view: element (r, c) is at Ptr + r·RowStride + c·ColStride.</summary>
internal readonly unsafe struct MatrixView(float* ptr, nint rowStride, nint colStride)
{
    public float* Ptr { get; } = ptr;
    public nint RowStride { get; } = rowStride;
    public nint ColStride { get; } = colStride;

    /// <summary>Row-major storage with leading dimension <paramref name="ld"/>.</summary>
    public static MatrixView RowMajor(float* ptr, nint ld) => new(ptr, ld, 1);

    /// <summary>The transpose of row-major storage with leading dimension <paramref name="ld"/>.</summary>
    public static MatrixView Transposed(float* ptr, nint ld) => new(ptr, 1, ld);

    public MatrixView Offset(int row, int col) => new(Ptr + row * RowStride + col * ColStride, RowStride, ColStride);
}

/// <summary>
/// One GEMM: C (M×N, row stride Ldc, contiguous rows) = Alpha · A (M×K) · B (K×N) [+ Bias (N), broadcast over rows].
/// C is overwritten and must not alias A, B or Bias.
/// </summary>
internal unsafe struct GemmProblem
{
    public int M, N, K;
    public float Alpha;
    public MatrixView A, B;
    public float* C;
    public nint Ldc;
    public float* Bias;
    /// <summary>Accumulate in float64 (<see cref="GemmFloat64"/>) instead of the float32 micro-kernels.</summary>
    public bool Float64;
    /// <summary>
    /// Rows of one batch item when A stacks several (a Linear over (items, rows, In)); 0 means M. The algorithm is chosen
    /// by it rather than by M, and each algorithm computes every row on its own, so an item gets the same bits in a batch
    /// as alone: N prompts in one request equal N requests.
    /// </summary>
    public int ItemRows;

    public GemmProblem(int m, int n, int k, MatrixView a, MatrixView b, float* c, nint ldc, float alpha = 1f, float* bias = null)
    {
        (M, N, K, A, B, Ldc, Alpha) = (m, n, k, a, b, ldc, alpha);
        C = c;
        Bias = bias;
    }

    public readonly long MultiplyAdds => (long)M * N * K;

    /// <summary>The sub-problem computing rows [start, start + count) of C.</summary>
    public readonly GemmProblem Rows(int start, int count) =>
        this with { M = count, A = A.Offset(start, 0), C = C + start * Ldc };

    /// <summary>The sub-problem computing columns [start, start + count) of C.</summary>
    public readonly GemmProblem Columns(int start, int count) =>
        this with { N = count, B = B.Offset(0, start), C = C + start, Bias = Bias == null ? null : Bias + start };
}
