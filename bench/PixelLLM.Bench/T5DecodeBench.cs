using System.Diagnostics;
using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Bench;

/// <summary>
/// <c>--t5-decode</c>: a Flan-T5-XL-sized model (random f32 weights) on the CPU backend: encode visual + text tokens, then
/// KV-cached greedy decode steps; prints ms per step and the weight bytes each step has to stream.
/// Flags: --layers N (encoder and decoder, default 24), --steps N (20), --visual N (32), --text N (16), --beams N (1), --seed N.
/// </summary>
internal static class T5DecodeBench
{
    public static int Run(string[] args)
    {
        var flags = ParseFlags(args);
        if (flags is null) return 2;
        int layers = flags["layers"], steps = flags["steps"], visual = flags["visual"], text = flags["text"], rows = flags["beams"];
        var c = new T5Config(VocabSize: 32128, DModel: 2048, DKv: 64, DFf: 5120, NumHeads: 32, NumLayers: layers, NumDecoderLayers: layers);
        var shapes = T5Parameters.Shapes(c).ToDictionary(s => s.Name, s => 4L * s.Shape.Aggregate(1L, (a, b) => a * b));
        long total = shapes.Values.Sum();
        long available = AvailableBytes();
        Console.WriteLine($"T5 d_model {c.DModel}, {c.NumHeads}×{c.DKv} heads, d_ff {c.DFf}, vocab {c.VocabSize}, {layers}+{layers} layers: " +
            $"{total / 1e9:F2} GB of f32 weights ({available / 1e9:F1} GB available); {Environment.ProcessorCount} cores");
        if (available > 0 && total > available * 0.9)
        {
            Console.Error.WriteLine($"not enough memory for {layers} layers; try a smaller --layers");
            return 3;
        }

        var sw = Stopwatch.StartNew();
        var weights = RandomT5Weights.Create(c, flags["seed"]);
        Console.WriteLine($"weights generated in {sw.Elapsed.TotalSeconds:F1} s");
        using var backend = new CpuBackend();

        var memory = Encode(backend, weights, c, visual, text, flags["seed"]);
        int length = steps + 1, memoryLength = visual + text;
        sw.Restart();
        using var decoder = new T5IncrementalDecoder(weights, c, backend, batch: 1, beams: rows, maxLength: length, memoryLength: memoryLength);
        Console.WriteLine($"decoder step + prefill graphs compiled in {sw.Elapsed.TotalMilliseconds:F0} ms");
        sw.Restart();
        decoder.Prefill(memory);
        Console.WriteLine($"cross-attention prefill ({layers} layers × K,V over {memoryLength} tokens): {sw.Elapsed.TotalMilliseconds:F1} ms");

        var times = DecodeSteps(decoder, c, rows, steps);
        var sorted = times.Order().ToArray();
        Console.WriteLine($"{steps} decode steps, {rows} row(s): first {times[0]:F1} ms, median {sorted[steps / 2]:F1} ms, " +
            $"mean(after first) {times.Skip(1).DefaultIfEmpty(times[0]).Average():F1} ms, min {sorted[0]:F1} ms per step");

        // What one step streams: every decoder weight except the cross K/V projections (prefill only), plus the LM head.
        long stepWeights = shapes.Where(kv => kv.Key.StartsWith("decoder.", StringComparison.Ordinal)
                && !kv.Key.Contains("EncDecAttention.k.") && !kv.Key.Contains("EncDecAttention.v.")).Sum(kv => kv.Value)
            + (c.TieWordEmbeddings ? shapes["shared.weight"] : shapes["lm_head.weight"]) + 4L * rows * c.DModel;
        long caches = 4L * 2 * layers * rows * (length + memoryLength) * c.Inner;
        double median = sorted[steps / 2] / 1e3;
        Console.WriteLine($"weight bytes read per step: {stepWeights / 1e9:F3} GB (decoder {layers} layers + lm_head); " +
            $"KV caches read: {caches / 1e6:F1} MB; effective {stepWeights / median / 1e9:F1} GB/s at the median step");
        return 0;
    }

    /// <summary>PixelLLM's encoder input: visual tokens prepended to embedded text; returns the memory (1, V + T, d).</summary>
    private static HostTensor Encode(CpuBackend backend, PixelLLM.Runtime.Weights.IWeightSource weights, T5Config c, int visual, int text, int seed)
    {
        var g = new Graph();
        var p = new ParamScope(g, weights);
        var x = g.Concat(1, g.Input("visual", DType.F32, 1, visual, c.DModel), g.Embedding(p["shared.weight"], g.Input("text", DType.I32, 1, text)));
        g.Output("memory", T5.EncodeEmbedded(p, c, x, g.Input("mask", DType.U8, 1, 1, 1, visual + text)));
        var sw = Stopwatch.StartNew();
        using var exec = new GraphExecutor(g, backend);
        var rng = new Random(seed);
        exec.SetInput<float>("visual", Enumerable.Range(0, visual * c.DModel).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray());
        exec.SetInput<int>("text", Enumerable.Range(0, text).Select(_ => rng.Next(c.VocabSize)).ToArray());
        exec.SetInput<byte>("mask", Enumerable.Repeat((byte)1, visual + text).ToArray());
        double compile = sw.Elapsed.TotalMilliseconds;
        sw.Restart();
        exec.Run();
        Console.WriteLine($"encode {visual}+{text} tokens: {sw.Elapsed.TotalMilliseconds:F0} ms (graph compiled in {compile:F0} ms)");
        return exec.Fetch("memory");
    }

    private static double[] DecodeSteps(T5IncrementalDecoder decoder, T5Config c, int rows, int steps)
    {
        var ids = new int[rows];
        var logits = new float[rows * c.VocabSize];
        // Beams continue each other's rows in rotation so the cache reorder is part of the measured step.
        var parents = Enumerable.Range(0, rows).Select(r => (r + 1) % rows).ToArray();
        var times = new double[steps];
        var sw = new Stopwatch();
        for (int t = 0; t < steps; t++)
        {
            sw.Restart();
            decoder.Step(ids, t, parents, logits);
            times[t] = sw.Elapsed.TotalMilliseconds;
            for (int r = 0; r < rows; r++)
            {
                var row = logits.AsSpan(r * c.VocabSize, c.VocabSize);
                int best = 0;
                for (int v = 1; v < row.Length; v++) if (row[v] > row[best]) best = v;
                ids[r] = best;
            }
        }
        return times;
    }

    private static Dictionary<string, int>? ParseFlags(string[] args)
    {
        var flags = new Dictionary<string, int> { ["layers"] = 24, ["steps"] = 20, ["visual"] = 32, ["text"] = 16, ["beams"] = 1, ["seed"] = 1 };
        for (int i = 0; i < args.Length; i += 2)
        {
            var key = args[i].TrimStart('-');
            if (!flags.ContainsKey(key) || i + 1 >= args.Length || !int.TryParse(args[i + 1], out var value) || value < (key == "seed" ? 0 : 1))
            {
                Console.Error.WriteLine($"bad flag '{args[i]}'; expected --{string.Join(" N, --", flags.Keys)} N (positive integers)");
                return null;
            }
            flags[key] = value;
        }
        return flags;
    }

    private static long AvailableBytes()
    {
        try
        {
            var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemAvailable:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        catch (IOException) { return 0; }
    }
}
