using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using PixelLLM.Models;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Bench;

/// <summary>
/// Random f32 T5 weights of any size, fast: one seeded buffer of uniform values is generated once, and every tensor is a
/// scaled copy of windows of it (in parallel). Values only need realistic magnitudes, not independence, for timing.
/// </summary>
internal static class RandomT5Weights
{
    private const int PoolFloats = 1 << 22;

    public static DictionaryWeights Create(T5Config c, int seed)
    {
        var rng = new Random(seed);
        var pool = new float[PoolFloats];
        for (int i = 0; i < pool.Length; i++) pool[i] = (float)(rng.NextDouble() * 2 - 1);

        var shapes = T5Parameters.Shapes(c).ToArray();
        var tensors = new HostTensor[shapes.Length];
        for (int t = 0; t < shapes.Length; t++)
            tensors[t] = new HostTensor(new TensorDesc(DType.F32, new Shape(shapes[t].Shape)),
                GC.AllocateUninitializedArray<byte>(checked((int)(new Shape(shapes[t].Shape).ElementCount * 4))));

        // Work items of ≤ 4 M floats so big tensors spread over the cores too.
        var items = new List<(int Tensor, long Start, long Count)>();
        for (int t = 0; t < shapes.Length; t++)
            for (long s = 0, n = tensors[t].Desc.ElementCount; s < n; s += PoolFloats) items.Add((t, s, Math.Min(PoolFloats, n - s)));
        Parallel.ForEach(items, item =>
        {
            var (name, shape) = shapes[item.Tensor];
            var dst = MemoryMarshal.Cast<byte, float>(tensors[item.Tensor].Data.Span).Slice((int)item.Start, (int)item.Count);
            if (shape.Length == 1) { dst.Fill(1f); return; }              // norm gains
            // Fan-in scaling keeps activations O(1) through the layers, so no inf/NaN or denormals skew the timing.
            float scale = name.Contains("relative_attention_bias") || name == "shared.weight" ? 1f : 1.7f / MathF.Sqrt(shape[1]);
            int offset = (int)((uint)(item.Tensor * 7919 + item.Start / PoolFloats * 104729) % (PoolFloats / 2));
            for (int done = 0; done < dst.Length;)
            {
                int take = Math.Min(dst.Length - done, PoolFloats - offset);
                TensorPrimitives.Multiply(pool.AsSpan(offset, take), scale, dst.Slice(done, take));
                done += take;
                offset = 0;
            }
        });
        return new DictionaryWeights(shapes.Select((s, i) => (s.Name, tensors[i])).ToDictionary(p => p.Name, p => p.Item2), "random T5");
    }
}
