using PixelLLM.Backends.Cpu;
using PixelLLM.Backends.Cuda;
using PixelLLM.Backends.Cuda.Interop;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Checks;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Tests;

/// <summary>
/// backend-check's machinery, on the CPU: the CPU against itself agrees exactly on every case, and a backend that
/// skips or perturbs one op is caught (the poisoned output, the error above tolerance).
/// </summary>
public class BackendCheckTests
{
    /// <summary>--op names ops of the catalog in any case; a misspelt one is an error, not a silently smaller check.</summary>
    [Fact]
    public void OpListMustNameCatalogOps()
    {
        Assert.Equal(2, PixelLLM.Cli.BackendCheckCommand.OpNames("attention, T5DecoderStack")!.Count);
        Assert.Null(PixelLLM.Cli.BackendCheckCommand.OpNames(null));
        var e = Assert.Throws<InvalidInputException>(() => PixelLLM.Cli.BackendCheckCommand.OpNames("Attention,GreedyPik"));
        Assert.Contains("'GreedyPik'", e.Message);
    }

    [Fact]
    public void CpuAgainstItselfPassesEveryCaseExactly()
    {
        using var reference = new CpuBackend();
        using var candidate = new CpuBackend();
        var results = BackendCheck.Run(reference, candidate, 1e-5);

        Assert.Equal(OpCheckCases.All.Count, results.Count);
        var failed = results.Where(r => !r.Passed).Select(r => $"{r.Op} {r.Case}: {r.Failure ?? r.Error.ToString()}").ToArray();
        Assert.True(failed.Length == 0, string.Join("\n", failed));
        Assert.All(results, r => Assert.Equal(0, r.Error));
    }

    [Fact]
    public void AnOpThatWritesNothingFailsOnThePoison()
    {
        using var reference = new CpuBackend();
        using var candidate = new Sabotaged(new CpuBackend(), op => op is SoftmaxOp, Sabotage.Skip);
        var results = BackendCheck.Run(reference, candidate, 1e-5, filter: c => c.Op is SoftmaxOp or LayerNormOp);

        Assert.All(results.Where(r => r.Op == "Softmax"), r => Assert.False(r.Passed));
        Assert.All(results.Where(r => r.Op == "Softmax"), r => Assert.Contains("NaN", r.Failure));
        Assert.All(results.Where(r => r.Op == "LayerNorm"), r => Assert.True(r.Passed));
    }

    [Fact]
    public void AnOpOffByMoreThanTheToleranceFails()
    {
        using var reference = new CpuBackend();
        using var candidate = new Sabotaged(new CpuBackend(), op => op is RmsNormOp, Sabotage.Perturb);
        var results = BackendCheck.Run(reference, candidate, 1e-5, filter: c => c.Op is RmsNormOp);

        Assert.NotEmpty(results);
        Assert.All(results, r => Assert.Null(r.Failure));
        Assert.All(results, r => Assert.InRange(r.Error, 1e-4, 1e-2));
        Assert.All(results, r => Assert.False(r.Passed));
    }

    [Fact]
    public void AnOpThatLeavesTheInputsItUpdatesUnwrittenFails()
    {
        using var reference = new CpuBackend();
        using var candidate = new Sabotaged(new CpuBackend(), op => op.UpdatedInputs.Count > 0, Sabotage.DropUpdates);
        var results = BackendCheck.Run(reference, candidate, 1e-5, filter: c => c.Op is QkvProjectionOp);

        Assert.NotEmpty(results);
        // q is right, so the whole error is the caches' (their new slots keep the random values they started with).
        Assert.All(results, r => Assert.False(r.Passed));
        Assert.All(results, r => Assert.InRange(r.Error, 0.1, double.PositiveInfinity));
    }

    [Fact]
    public void CompareMatchesNaNsAndScalesByTheLargestReference()
    {
        var expected = HostTensor.FromArray(new[] { 4f, float.NaN, -2f }, 3);
        Assert.Equal((0.25, null), BackendCheck.Compare(expected, HostTensor.FromArray(new[] { 3f, float.NaN, -2f }, 3)));
        var (error, failure) = BackendCheck.Compare(expected, HostTensor.FromArray(new[] { 4f, 1f, -2f }, 3));
        Assert.True(double.IsPositiveInfinity(error));
        Assert.Contains("element 1", failure);
        Assert.NotNull(BackendCheck.Compare(HostTensor.FromArray(new[] { 1, 2 }, 2), HostTensor.FromArray(new[] { 1, 3 }, 2)).Failure);
    }

    [Fact]
    public void CreatingTheCudaBackendWithoutADriverFailsWithOneLine()
    {
        if (CudaLibraries.ProbeDriver().Found) return; // a machine with a driver exercises this in the GPU script instead
        var e = Assert.Throws<BackendException>(() => CudaBackend.Create());
        Assert.Contains("libcuda.so.1", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    /// <summary>What <see cref="Sabotaged"/> does to its target ops.</summary>
    private enum Sabotage { Skip, Perturb, DropUpdates }

    /// <summary>
    /// The CPU backend, except that the chosen ops are skipped, have their output scaled by 1 + 1e-3, or write the inputs
    /// they update into copies (their output still right).
    /// </summary>
    private sealed class Sabotaged(CpuBackend inner, Func<Op, bool> target, Sabotage sabotage) : IBackend
    {
        public string Name => "sabotaged";
        public IBackendBuffer Allocate(long bytes) => inner.Allocate(bytes);
        public TensorView AddWeight(HostTensor weight) => inner.AddWeight(weight);
        public void Write(TensorView destination, ReadOnlySpan<byte> source) => inner.Write(destination, source);
        public void Read(TensorView source, Span<byte> destination) => inner.Read(source, destination);
        public void Synchronize() => inner.Synchronize();
        public void Dispose() => inner.Dispose();

        public void Execute(Node node, ReadOnlySpan<TensorView> inputs, TensorView output)
        {
            if (!target(node.Op)) { inner.Execute(node, inputs, output); return; }
            switch (sabotage)
            {
                case Sabotage.Perturb:
                    inner.Execute(node, inputs, output);
                    var values = new float[output.Desc.ElementCount];
                    inner.Read(output, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
                    for (int i = 0; i < values.Length; i++) values[i] *= 1.001f;
                    inner.Write(output, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
                    break;
                case Sabotage.DropUpdates:
                    var redirected = inputs.ToArray();
                    var copies = new List<IBackendBuffer>();
                    foreach (int i in node.Op.UpdatedInputs)
                    {
                        var bytes = new byte[redirected[i].Desc.ByteSize];
                        inner.Read(redirected[i], bytes);
                        copies.Add(inner.Allocate(bytes.Length));
                        redirected[i] = new TensorView(copies[^1], 0, redirected[i].Desc);
                        inner.Write(redirected[i], bytes);
                    }
                    inner.Execute(node, redirected, output);
                    foreach (var c in copies) c.Dispose();
                    break;
            }
        }
    }
}
