using PixelLLM.Models;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Tests.Models;

/// <summary>
/// Float64 GIT decoder written straight from spec §5.2 (one sequence at a time, explicit loops, no graph): the independent
/// reference for the graph-built decoder on random weights.
/// </summary>
internal sealed class NaiveGitDecoder(IWeightSource weights, GitDecoderConfig c)
{
    /// <summary>Logits (L × V) of one prompt: visual (K × Dv), context ids (may hold 0 = pad), caption ids.</summary>
    public double[][] Logits(double[][] visual, int[] context, int[] caption)
    {
        var memory = visual.Select(v => Norm(Dense(v, "git.visual_projection"), "git.visual_projection_norm", c.VisualProjectionEps))
            .Concat(Embed(context)).ToArray();
        var x = memory.Concat(Embed(caption)).ToArray();
        int m = memory.Length, s = x.Length;
        bool Visible(int row, int col)
        {
            if (col >= visual.Length && col < m && context[col - visual.Length] == 0) return false;   // padded context
            return col < m || (row >= m && col <= row);
        }
        for (int layer = 0; layer < c.NumLayers; layer++)
        {
            string p = $"git.layers.{layer}";
            var q = x.Select(t => Dense(t, p + ".attention.query")).ToArray();
            var k = x.Select(t => Dense(t, p + ".attention.key")).ToArray();
            var v = x.Select(t => Dense(t, p + ".attention.value")).ToArray();
            int hd = c.HeadDim;
            var next = new double[s][];
            for (int i = 0; i < s; i++)
            {
                var attended = new double[c.Hidden];
                for (int h = 0; h < c.NumHeads; h++)
                {
                    var scores = new double[s];
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < s; j++)
                    {
                        if (!Visible(i, j)) { scores[j] = double.NegativeInfinity; continue; }
                        double dot = 0;
                        for (int e = 0; e < hd; e++) dot += q[i][h * hd + e] / Math.Sqrt(hd) * k[j][h * hd + e];
                        scores[j] = dot;
                        max = Math.Max(max, dot);
                    }
                    double sum = scores.Sum(z => Math.Exp(z - max));
                    for (int j = 0; j < s; j++)
                    {
                        double w = Math.Exp(scores[j] - max) / sum;
                        for (int e = 0; e < hd; e++) attended[h * hd + e] += w * v[j][h * hd + e];
                    }
                }
                var a = Norm(Add(x[i], Dense(attended, p + ".attention.output")), p + ".attention_norm", c.AttentionEps);
                var hidden = Dense(a, p + ".intermediate").Select(z => 0.5 * z * (1 + Erf(z / Math.Sqrt(2)))).ToArray();
                next[i] = Norm(Add(a, Dense(hidden, p + ".output")), p + ".output_norm", c.OutputEps);
            }
            x = next;
        }
        return x.Skip(m).Select(t => Dense(t, "git.output")).ToArray();
    }

    private IEnumerable<double[]> Embed(int[] ids)
    {
        var words = W("git.embedding.words.weight");
        var positions = W("git.embedding.positions.weight");
        int d = c.Hidden;
        return ids.Select((id, pos) => Norm(Enumerable.Range(0, d).Select(e => words[id * d + e] + positions[pos * d + e]).ToArray(),
            "git.embedding.norm", c.EmbeddingEps));
    }

    private double[] Dense(double[] x, string module)
    {
        var w = W(module + ".weight");
        var b = W(module + ".bias");
        var y = new double[b.Length];
        for (int o = 0; o < y.Length; o++)
        {
            double acc = b[o];
            for (int i = 0; i < x.Length; i++) acc += w[o * x.Length + i] * x[i];
            y[o] = acc;
        }
        return y;
    }

    private double[] Norm(double[] x, string module, double eps)
    {
        var g = W(module + ".weight");
        var b = W(module + ".bias");
        double mean = x.Average(), variance = x.Sum(z => (z - mean) * (z - mean)) / x.Length;
        return x.Select((z, i) => (z - mean) / Math.Sqrt(variance + eps) * g[i] + b[i]).ToArray();
    }

    private static double[] Add(double[] a, double[] b) => a.Select((z, i) => z + b[i]).ToArray();

    private double[] W(string name) => weights.Get(name).ToFloatArray().Select(f => (double)f).ToArray();

    // Abramowitz–Stegun 7.1.26 is too coarse here; the series/continued-fraction pair below is good to ~1e-15.
    private static double Erf(double x)
    {
        double ax = Math.Abs(x);
        if (ax < 3)
        {
            double term = ax, sum = ax;
            for (int n = 1; n < 200 && Math.Abs(term) > 1e-17 * Math.Abs(sum); n++)
            {
                term *= -ax * ax / n;
                sum += term / (2 * n + 1);
            }
            return Math.Sign(x) * 2 / Math.Sqrt(Math.PI) * sum;
        }
        double f = 0;                                             // erfc continued fraction, evaluated backwards
        for (int n = 60; n >= 1; n--) f = n / 2.0 / (ax + f);
        return Math.Sign(x) * (1 - Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / (ax + f));
    }
}
