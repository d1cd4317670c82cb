using PixelLLM.Backends.Cpu;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Checks;
using PixelLLM.Runtime.Ops;
using Xunit.Abstractions;

namespace PixelLLM.Tests;

/// <summary>
/// CpuBackend.EmulatedStorage, backend-check's reference for a 16-bit device: every value an op (or a step of an op made
/// of ops) writes is rounded to bf16/f16 as the device stores it, so a decoder stack's bf16 error is measured against
/// the same roundings instead of against fp32 values the device never holds.
/// </summary>
public class EmulatedStorageTests(ITestOutputHelper output)
{
    private static OpCheckCase Case(string label) => OpCheckCases.All.Single(c => c.Label == label);

    private static HostTensor[] Run(OpCheckCase c, DType storage, CpuAccumulation accumulation = CpuAccumulation.Float32)
    {
        using var cpu = new CpuBackend(accumulation: accumulation) { EmulatedStorage = storage };
        return BackendCheck.RunWithUpdates(cpu, c, c.MakeInputs(new Random(1234), Bf16));
    }

    private static float Bf16(float v) => BFloat16.ToSingle(BFloat16.FromSingle(v));

    private static double Error(HostTensor[] expected, HostTensor[] actual) =>
        expected.Zip(actual).Max(p => BackendCheck.Compare(p.First, p.Second).Error);

    [Theory]
    [InlineData(DType.BF16)]
    [InlineData(DType.F16)]
    public void EveryWrittenValueIsRepresentableInTheStorageType(DType storage)
    {
        var c = Case("decoder stack 3 layers 2 rows");
        var written = Run(c, storage);
        foreach (var t in written)
            foreach (var v in t.ToFloatArray())
                Assert.Equal(v, storage == DType.BF16 ? Bf16(v) : (float)(Half)v);
        // fp32 storage keeps values that bf16 cannot hold: the rounding above is the option's doing.
        Assert.Contains(Run(c, DType.F32)[0].ToFloatArray(), v => v != Bf16(v));
    }

    [Fact]
    public void RoundsTheIntermediatesNotOnlyTheOutput()
    {
        // Rounding only the stack's output would move it by at most half a bf16 step (2^-9 of the largest magnitude);
        // rounding what every layer writes moves it further, by the compounded roundings a device makes.
        var c = Case("decoder stack 26 layers 1 row");
        var plain = Run(c, DType.F32);
        var rounded = Run(c, DType.BF16);
        double error = Error(plain, rounded);
        output.WriteLine($"26 layers: fp32 reference against bf16-stored {error:0.00e+00}");
        Assert.True(error > Math.Pow(2, -9), $"{error}");
    }

    [Theory]
    [InlineData("decoder stack 2 layers 1 row wide")]
    [InlineData("decoder stack 26 layers 1 row")]
    [InlineData("decoder layer 1 row wide")]
    public void TheBf16ReferenceIsStableUnderADifferentSummation(string label)
    {
        // A device sums in another order than the CPU: a reference whose result moved past the check's 1e-2 under a
        // float64 summation would fail any device, however exact its kernels.
        var c = Case(label);
        double error = Error(Run(c, DType.BF16), Run(c, DType.BF16, CpuAccumulation.Float64));
        output.WriteLine($"{label}: bf16-stored, f32 against f64 sums {error:0.00e+00}; fp32 reference against bf16-stored {Error(Run(c, DType.F32), Run(c, DType.BF16)):0.00e+00}");
        Assert.True(error <= 1e-2, $"{error}");
    }

    [Theory]
    [InlineData(DType.BF16)]
    [InlineData(DType.F16)]
    public void EveryCatalogCasePassesAgainstItselfSummedInFloat64(DType storage)
    {
        // What backend-check --storage bf16|f16 runs, with a CPU that sums in float64 as the candidate: every case of the
        // catalog must pass, or a device that sums in yet another order could fail it with exact kernels.
        using var reference = new CpuBackend { EmulatedStorage = storage };
        using var candidate = new CpuBackend(accumulation: CpuAccumulation.Float64) { EmulatedStorage = storage };
        Func<float, float> round = storage == DType.BF16 ? Bf16 : v => (float)(Half)v;
        var results = BackendCheck.Run(reference, candidate, 1e-2, roundInput: round);
        var worst = results.OrderByDescending(r => r.Error).First();
        output.WriteLine($"{results.Count} cases; worst {worst.Op}/{worst.Case} {worst.Error:0.00e+00}");
        Assert.All(results, r => Assert.True(r.Passed, $"{r.Op}/{r.Case}: {r.Error} {r.Failure}"));
    }

    [Fact]
    public void OnlyFloatStorageTypesAreAccepted() =>
        Assert.Throws<InvalidInputException>(() => new CpuBackend { EmulatedStorage = DType.I32 });
}
