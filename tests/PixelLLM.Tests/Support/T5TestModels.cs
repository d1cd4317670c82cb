using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Tests.Support;

/// <summary>Random T5 weights and the full-rerun (teacher-forced) decoder that incremental decoding must reproduce.</summary>
internal static class T5TestModels
{
    public static DictionaryWeights RandomWeights(T5Config c, int seed)
    {
        var rng = new Random(seed);
        var tensors = new Dictionary<string, HostTensor>();
        foreach (var (name, shape) in T5Parameters.Shapes(c))
        {
            int n = shape.Aggregate(1, (a, b) => a * b);
            // Norm gains near 1, projections scaled by fan-in, so activations stay O(1) through every layer.
            Func<float> draw = shape.Length == 1 ? () => 1f + (float)(rng.NextDouble() - 0.5) * 0.4f
                : name.Contains("relative_attention_bias") || name == "shared.weight" ? () => (float)(rng.NextDouble() * 2 - 1)
                : () => (float)((rng.NextDouble() * 2 - 1) * 1.7 / Math.Sqrt(shape[1]));
            tensors[name] = HostTensor.FromArray(Enumerable.Range(0, n).Select(_ => draw()).ToArray(), shape);
        }
        return new DictionaryWeights(tensors, $"random T5 (seed {seed})");
    }

    public static HostTensor RandomMemory(Random rng, int batch, int length, int width) =>
        OpHarness.Random(rng, [batch, length, width]);

    /// <summary>Rows × memory mask as the decoder's (R, 1, 1, Lm) U8, row r reading batch element r / (R / B).</summary>
    public static HostTensor RowMask(byte[]? mask, int batch, int rows, int memoryLength) =>
        HostTensor.FromArray(Enumerable.Range(0, rows * memoryLength)
            .Select(i => mask is null || mask[i / memoryLength / (rows / batch) * memoryLength + i % memoryLength] != 0 ? (byte)1 : (byte)0).ToArray(),
            rows, 1, 1, memoryLength);

    /// <summary>Memory (B, Lm, d) repeated to (R, Lm, d).</summary>
    public static HostTensor RowMemory(HostTensor memory, int rows)
    {
        int batch = memory.Shape[0], per = (int)(memory.Desc.ElementCount / batch);
        var src = memory.ToFloatArray();
        var dst = new float[rows * per];
        for (int r = 0; r < rows; r++) Array.Copy(src, r / (rows / batch) * per, dst, r * per, per);
        return HostTensor.FromArray(dst, rows, memory.Shape[1], memory.Shape[2]);
    }

    /// <summary>T5.Decode + T5.Logits over ids (R, L): logits (R·L·V) and final-normed states (R·L·d).</summary>
    public static (float[] Logits, float[] Hidden) TeacherForced(IWeightSource w, T5Config c, HostTensor memory, byte[]? mask, int[] ids, int rows)
    {
        int length = ids.Length / rows, lm = memory.Shape[1];
        var g = new Graph();
        var p = new ParamScope(g, w);
        var hidden = T5.Decode(p, c, g.Input("ids", DType.I32, rows, length), g.Input("memory", DType.F32, rows, lm, c.DModel),
            g.Input("mask", DType.U8, rows, 1, 1, lm));
        g.Output("hidden", hidden);
        g.Output("logits", T5.Logits(p, c, hidden));
        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput<int>("ids", ids);
        exec.SetInput("memory", RowMemory(memory, rows));
        exec.SetInput("mask", RowMask(mask, memory.Shape[0], rows, lm));
        exec.Run();
        return (exec.FetchFloats("logits"), exec.FetchFloats("hidden"));
    }

    /// <summary>Encoder output (B, L, d) for ids (B, L) under a key mask (B × L, nonzero = attend).</summary>
    public static HostTensor Encode(IWeightSource w, T5Config c, int[] ids, byte[] mask, int batch)
    {
        int length = ids.Length / batch;
        var g = new Graph();
        g.Output("memory", T5.Encode(new ParamScope(g, w), c, g.Input("ids", DType.I32, batch, length), g.Input("mask", DType.U8, batch, 1, 1, length)));
        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput<int>("ids", ids);
        exec.SetInput<byte>("mask", mask);
        exec.Run();
        return exec.Fetch("memory");
    }

    /// <summary>The reference way to decode: every call reruns the whole teacher-forced decoder on the prefix.</summary>
    public sealed class Rerun(IWeightSource w, T5Config c, HostTensor memory, byte[]? mask) : IStepLogits
    {
        public int VocabSize => c.VocabSize;

        public void Compute(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, Span<float> logits)
        {
            int length = sequences.Length / rows;
            var prefix = new int[rows * position];
            for (int r = 0; r < rows; r++) sequences.Slice(r * length, position).CopyTo(prefix.AsSpan(r * position));
            var all = TeacherForced(w, c, memory, mask, prefix, rows).Logits;
            for (int r = 0; r < rows; r++)
                all.AsSpan((r * position + position - 1) * c.VocabSize, c.VocabSize).CopyTo(logits.Slice(r * c.VocabSize));
        }
    }
}
