namespace PixelLLM.Backends.Cpu;

/// <summary>
/// A fixed-capacity min-heap of (value, index) for top-k selection, ordered so that its root is the worst entry kept:
/// a larger value is better, NaN is better than any number, and on equal values the lower index is better.
/// </summary>
internal ref struct SelectionHeap(Span<float> values, Span<int> indices)
{
    private readonly Span<float> values = values;
    private readonly Span<int> indices = indices;
    private int count;

    public readonly int Capacity => values.Length;
    public readonly float WorstValue => values[0];

    public static bool Better(float a, int ia, float b, int ib)
    {
        bool nanA = float.IsNaN(a), nanB = float.IsNaN(b);
        if (nanA || nanB) return nanA && nanB ? ia < ib : nanA;
        return a > b || (a == b && ia < ib);
    }

    public void Push(float value, int index)
    {
        int i = count++;
        while (i > 0)
        {
            int parent = (i - 1) / 2;
            if (!Better(values[parent], indices[parent], value, index)) break;
            values[i] = values[parent];
            indices[i] = indices[parent];
            i = parent;
        }
        values[i] = value;
        indices[i] = index;
    }

    /// <summary>Keeps (value, index) in place of the worst entry when it is better; the heap must be full.</summary>
    public void Offer(float value, int index)
    {
        if (Better(value, index, values[0], indices[0])) SiftDown(0, count, value, index);
    }

    /// <summary>Writes the kept indices best first and empties the heap.</summary>
    public void DrainBestFirst(Span<int> destination)
    {
        // Heap sort: the worst goes to the back each round, leaving the array ordered best to worst.
        for (int last = count - 1; last > 0; last--)
        {
            float v = values[last];
            int ix = indices[last];
            values[last] = values[0];
            indices[last] = indices[0];
            SiftDown(0, last, v, ix);
        }
        indices[..count].CopyTo(destination);
        count = 0;
    }

    private void SiftDown(int i, int size, float value, int index)
    {
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= size) break;
            if (child + 1 < size && Better(values[child], indices[child], values[child + 1], indices[child + 1])) child++;
            if (!Better(value, index, values[child], indices[child])) break;
            values[i] = values[child];
            indices[i] = indices[child];
            i = child;
        }
        values[i] = value;
        indices[i] = index;
    }
}
