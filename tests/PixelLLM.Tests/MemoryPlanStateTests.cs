using PixelLLM.Backends.Cpu;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Tests;

/// <summary>
/// Random graphs mixing pure ops, views, states and in-place updates: the plan never overlaps live arena tensors, keeps
/// state-backed tensors out of the arena, and running it matches a program-order interpreter over two runs.
/// </summary>
public class MemoryPlanStateTests
{
    private const int Rows = 3, Cols = 5;

    [Fact]
    public void RandomGraphsWithStatesRunInProgramOrder()
    {
        var rng = new Random(11);
        using var backend = new CpuBackend();
        for (int trial = 0; trial < 120; trial++)
        {
            var g = new Graph();
            var pos = g.Input("pos", DType.I32, 1);
            var rows = g.Input("rows", DType.I32, Rows);
            var pool = new List<Tensor> { g.Input("x", DType.F32, Rows, Cols), g.State("s0", DType.F32, Rows, Cols), g.State("s1", DType.F32, Rows, Cols) };
            int steps = rng.Next(1, 30);
            for (int i = 0; i < steps; i++)
            {
                var a = pool[rng.Next(pool.Count)];
                var b = pool[rng.Next(pool.Count)];
                pool.Add(rng.Next(6) switch
                {
                    0 => g.Add(a, b),
                    1 => g.Reshape(g.Reshape(a, Cols, Rows), Rows, Cols),
                    2 => g.Reshape(g.Reshape(g.Mul(a, b), Rows * Cols), Rows, Cols),
                    3 => g.Scale(a, 0.5f),
                    4 => g.WriteAt(a, g.Slice(b, 1, 0, 2), pos, axis: 1),
                    _ => g.ReorderRows(a, rows),
                });
            }
            var keep = pool.Where((t, i) => i > 2 && rng.Next(5) == 0).Append(pool[^1]).Where(t => t.Kind != TensorKind.State).Distinct().ToList();
            for (int k = 0; k < keep.Count; k++) g.Output($"k{k}", keep[k]);

            var plan = MemoryPlan.Create(g, keep);
            MemoryPlanTests.AssertNoLiveOverlap(g, plan);
            foreach (var t in g.Tensors.Where(t => t.StorageRoot.Kind == TensorKind.State))
                Assert.False(plan.Offsets.ContainsKey(t.Id) || plan.Lifetimes.ContainsKey(t.Id), $"trial {trial}: {t} is in the arena");

            using var exec = new GraphExecutor(g, backend);
            var reference = new Interpreter(g);
            for (int run = 0; run < 2; run++)
            {
                var x = Enumerable.Range(0, Rows * Cols).Select(_ => (float)Math.Round(rng.NextDouble() * 4 - 2, 2)).ToArray();
                int p = rng.Next(0, Cols - 1);
                int[] order = [.. Enumerable.Range(0, Rows).Select(_ => rng.Next(Rows))];
                exec.SetInput<float>("x", x); exec.SetInput<int>("pos", [p]); exec.SetInput<int>("rows", order);
                exec.Run();
                reference.Run(x, p, order);
                for (int k = 0; k < keep.Count; k++)
                    AssertClose(reference.Value(keep[k]), exec.FetchFloats($"k{k}"), $"trial {trial} run {run} k{k}");
                foreach (var s in g.States) AssertClose(reference.Value(s), exec.FetchFloats(s.Name!), $"trial {trial} run {run} {s.Name}");
            }
        }
    }

    /// <summary>
    /// A node whose output nobody reads still runs when it updates inputs (QkvProjection filling two caches): a reader
    /// created before it sees the caches as they were, one created after it sees the new slot, on every run.
    /// </summary>
    [Fact]
    public void ANodeThatUpdatesInputsRunsAndOrdersItsReaders()
    {
        var g = new Graph();
        var (x, norm, w, position) = (g.Input("x", DType.F32, 2, 1, 4), g.Input("g", DType.F32, 4), g.Input("w", DType.F32, 3, 4), g.Input("p", DType.I32, 1));
        var (keys, values) = (g.State("keys", DType.F32, 2, 3, 3), g.State("values", DType.F32, 2, 3, 3));
        g.Output("before", g.Scale(keys, 1f));
        g.QkvProjection(x, norm, 1e-6f, w, w, w, keys, values, position);
        g.Output("after", g.Scale(values, 1f));

        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        var rng = new Random(5);
        var (xs, gs, ws) = (PixelLLM.Tests.Support.OpHarness.Random(rng, [2, 1, 4]), PixelLLM.Tests.Support.OpHarness.Random(rng, [4]),
            PixelLLM.Tests.Support.OpHarness.Random(rng, [3, 4]));
        var projected = PixelLLM.Tests.Support.OpHarness.Run(new RmsNormLinearOp(1e-6f), xs, gs, ws).ToFloatArray();
        var expected = new float[2 * 3 * 3];
        foreach (int p in new[] { 2, 0 })
        {
            var old = (float[])expected.Clone();
            for (int r = 0; r < 2; r++) Array.Copy(projected, r * 3, expected, (r * 3 + p) * 3, 3);
            exec.SetInput("x", xs); exec.SetInput("g", gs); exec.SetInput("w", ws); // inputs live in the arena: set before every run
            exec.SetInput<int>("p", [p]);
            exec.Run();
            Assert.Equal(old, exec.FetchFloats("before"));
            Assert.Equal(expected, exec.FetchFloats("after"));
            Assert.Equal(expected, exec.FetchFloats("keys"));
        }
    }

    private static void AssertClose(double[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4 * (1 + Math.Abs(expected[i])), $"{what}[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    /// <summary>Every node in creation order over float64 buffers owned by storage roots; views and in-place ops share them.</summary>
    private sealed class Interpreter(Graph g)
    {
        private readonly Dictionary<int, double[]> storage = g.States.ToDictionary(s => s.Id, _ => new double[Rows * Cols]);

        public double[] Value(Tensor t) => (double[])storage[t.StorageRoot.Id].Clone();

        public void Run(float[] x, int position, int[] rows)
        {
            storage[g["x"].Id] = x.Select(v => (double)v).ToArray();
            foreach (var n in g.Nodes)
            {
                double[] In(int i) => storage[n.Inputs[i].StorageRoot.Id];
                switch (n.Op)
                {
                    case ReshapeOp: break;
                    case BinaryOp { Kind: BinaryKind.Add }: storage[n.Output.Id] = In(0).Zip(In(1), (a, b) => a + b).ToArray(); break;
                    case BinaryOp { Kind: BinaryKind.Mul }: storage[n.Output.Id] = In(0).Zip(In(1), (a, b) => a * b).ToArray(); break;
                    case ScaleOp: storage[n.Output.Id] = In(0).Select(v => v * 0.5).ToArray(); break;
                    case SliceOp: storage[n.Output.Id] = Enumerable.Range(0, Rows * 2).Select(i => In(0)[i / 2 * Cols + i % 2]).ToArray(); break;
                    case WriteAtOp:
                        {
                            var (target, values) = (In(0), In(1));
                            for (int r = 0; r < Rows; r++) for (int c = 0; c < 2; c++) target[r * Cols + position + c] = values[r * 2 + c];
                            break;
                        }
                    case ReorderRowsOp:
                        {
                            var target = In(0);
                            var old = (double[])target.Clone();
                            for (int r = 0; r < Rows; r++) for (int c = 0; c < Cols; c++) target[r * Cols + c] = old[rows[r] * Cols + c];
                            break;
                        }
                    default: throw new InvalidOperationException($"interpreter lacks {n.Op.Name}");
                }
            }
        }
    }
}
