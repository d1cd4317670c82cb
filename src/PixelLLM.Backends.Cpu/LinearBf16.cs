namespace PixelLLM.Backends.Cpu;

/// <summary>
/// Linear with a bf16 weight (Out, In) and f32 input, output and bias; f32 accumulation throughout. Few rows (a decode
/// step): bf16 dot products straight from the weight, so each weight byte is read once at half the f32 traffic. More
/// rows: blocks of weight rows are widened to f32 into per-thread scratch and multiplied by the f32 GEMM, so the
/// arithmetic runs at GEMM speed and the widening is paid once per block rather than once per input row.
/// </summary>
internal static unsafe class LinearBf16
{
    private const int WidenBlock = 128;          // weight rows widened at once: 128 × In floats of scratch per thread
    private const int DotBlocksPerThread = 8;

    /// <summary>
    /// y (rows × n) = x (rows × k) · wᵀ + bias, w (n × k) bf16 row-major; bias may be null. With
    /// <paramref name="float64"/> every row goes through the widened weights and the float64 GEMM. The path is chosen by
    /// the rows of one item (<paramref name="itemRows"/>, 0 = rows), as <see cref="GemmProblem.ItemRows"/> explains.
    /// </summary>
    public static void Run(float* x, int rows, ushort* w, int n, int k, float* bias, float* y, bool float64 = false, int itemRows = 0)
    {
        if (rows == 0 || n == 0) return;
        if ((itemRows > 0 ? itemRows : rows) <= GemmDriver.SmallM && !float64) Dots(x, rows, w, n, k, bias, y);
        else Widened(x, rows, w, n, k, bias, y, float64);
    }

    private static void Dots(float* x, int rows, ushort* w, int n, int k, float* bias, float* y)
    {
        int threads = (long)rows * n * k >= GemmDriver.ParallelThreshold ? Environment.ProcessorCount : 1;
        int blocks = Math.Min(threads * DotBlocksPerThread, (n + 3) / 4);
        int perBlock = ((n + blocks - 1) / blocks + 3) / 4 * 4;
        blocks = (n + perBlock - 1) / perBlock;
        if (blocks <= 1) { DotColumns(x, rows, w, k, bias, y, n, 0, n); return; }
        Parallel.For(0, blocks, b =>
        {
            int start = b * perBlock;
            DotColumns(x, rows, w, k, bias, y, n, start, Math.Min(perBlock, n - start));
        });
    }

    private static void DotColumns(float* x, int rows, ushort* w, int k, float* bias, float* y, int n, int start, int count)
    {
        float* tile = stackalloc float[16];
        ushort* Column(int j) => w + (long)(start + Math.Min(j, count - 1)) * k;
        for (int j = 0; j < count; j += 4)
            for (int i = 0; i < rows;)
            {
                // Four rows share each widened weight vector where 512-bit vectors allow; else pairs (same sums either way).
                float* a0 = x + (long)i * k;
                int tileRows = rows - i >= 4 && Bf16Dot.Tile4(a0, a0 + k, a0 + 2L * k, a0 + 3L * k, Column(j), Column(j + 1), Column(j + 2), Column(j + 3), k, tile)
                    ? 4 : Math.Min(2, rows - i);
                if (tileRows < 4) Bf16Dot.Tile(tileRows, a0, a0 + (tileRows == 2 ? k : 0), Column(j), Column(j + 1), Column(j + 2), Column(j + 3), k, tile);
                for (int r = 0; r < tileRows; r++)
                    for (int c = 0; c < Math.Min(4, count - j); c++)
                    {
                        int col = start + j + c;
                        y[(long)(i + r) * n + col] = tile[r * 4 + c] + (bias == null ? 0f : bias[col]);
                    }
                i += tileRows;
            }
    }

    private static void Widened(float* x, int rows, ushort* w, int n, int k, float* bias, float* y, bool float64)
    {
        int blocks = (n + WidenBlock - 1) / WidenBlock;
        var whole = new GemmProblem(rows, n, k, MatrixView.RowMajor(x, k), default, y, n, 1f, bias) { Float64 = float64 };
        void Block(int b)
        {
            int start = b * WidenBlock, count = Math.Min(WidenBlock, n - start);
            float* widened = GemmScratch.Get(ScratchSlot.Bf16Weights, (long)count * k);
            ushort* source = w + (long)start * k;
            Bf16Dot.WidenInto(source, widened, (long)count * k);
            GemmDriver.Run(whole.Columns(start, count) with { B = MatrixView.Transposed(widened, k) }, allowParallel: blocks == 1);
        }
        if (blocks == 1) Block(0);
        else Parallel.For(0, blocks, Block);
    }
}
