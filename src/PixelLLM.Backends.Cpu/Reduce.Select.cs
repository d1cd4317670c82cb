using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

internal static unsafe partial class Reduce
{
    /// <summary>K up to which TopK keeps its selection heap on the stack.</summary>
    private const int StackHeapLimit = 2048;

    /// <summary>
    /// Index of the row maximum, the first one on ties (−0 and +0 tie). NaN ranks above every number, as in
    /// torch.argmax: a row holding NaN yields the index of its first NaN.
    /// </summary>
    public static void ArgMax(ArgMaxOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        int width = x[0].Shape[-1];
        if (y.Length == 0) return;
        if (width == 0) throw new PixelLLM.Runtime.InvalidInputException($"ArgMax: empty last dim in {x[0].Desc}");
        KernelParallel.For(y.Length, Math.Max(1, ParallelGrain / width), new ArgMaxRows(x[0].F32Ptr, (int*)y.Pointer, width));
    }

    private readonly struct ArgMaxRows(float* x, int* y, int width) : IRangeBody
    {
        public void Run(long start, long end)
        {
            for (long r = start; r < end; r++)
            {
                var row = new ReadOnlySpan<float>(x + r * width, width);
                float max = TensorPrimitives.Max(row); // NaN when any element is NaN
                int index = 0;
                if (float.IsNaN(max)) while (!float.IsNaN(row[index])) index++;
                else while (row[index] != max) index++;
                y[r] = index;
            }
        }
    }

    /// <summary>
    /// Indices of the K largest per row, largest first, lower index first on ties; NaN ranks above every number
    /// (as torch.topk). A size-K heap of the best seen so far is kept; eight elements at a time are skipped while none
    /// beats its worst, so K ≪ N costs about one vectorised pass.
    /// </summary>
    public static void TopK(TopKOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        int width = x[0].Shape[-1];
        if (y.Length == 0) return;
        KernelParallel.For(y.Length / op.K, Math.Max(1, ParallelGrain / width), new TopKRows(x[0].F32Ptr, (int*)y.Pointer, width, op.K));
    }

    private readonly struct TopKRows(float* x, int* y, int width, int k) : IRangeBody
    {
        public void Run(long start, long end)
        {
            Span<float> values = k <= StackHeapLimit ? stackalloc float[k] : new float[k];
            Span<int> indices = k <= StackHeapLimit ? stackalloc int[k] : new int[k];
            for (long r = start; r < end; r++)
            {
                var heap = new SelectionHeap(values, indices);
                SelectTop(new ReadOnlySpan<float>(x + r * width, width), ref heap);
                heap.DrainBestFirst(new Span<int>(y + r * k, k));
            }
        }
    }

    private static void SelectTop(ReadOnlySpan<float> row, ref SelectionHeap heap)
    {
        int i = 0;
        for (; i < heap.Capacity; i++) heap.Push(row[i], i);
        const int Lanes = 8;
        while (i < row.Length)
        {
            float worst = heap.WorstValue;
            // A kept NaN is beaten by nothing that comes later (NaNs tie, and the earlier index wins).
            if (float.IsNaN(worst)) return;
            if (i <= row.Length - Lanes)
            {
                // Candidates are x > worst or NaN, i.e. not (x ≤ worst).
                if (Vector256.LessThanOrEqualAll(Vector256.Create(row.Slice(i, Lanes)), Vector256.Create(worst)))
                {
                    i += Lanes;
                    continue;
                }
                for (int end = i + Lanes; i < end; i++) heap.Offer(row[i], i);
                continue;
            }
            heap.Offer(row[i], i);
            i++;
        }
    }
}
