using System.Runtime.InteropServices;
using PixelLLM.Backends.Cuda.Interop;
using PixelLLM.Cli;

namespace PixelLLM.Tests;

/// <summary>
/// <c>bench --kernel-trace</c>'s arithmetic and record reading: the device's busy time is the union of its kernels'
/// intervals (overlaps counted once), gaps shorter than the idle threshold are latency between kernels and longer ones
/// idle stretches, kernels are ranked by total time, and a CUPTI kernel record's head is read at CUpti_ActivityKernel's
/// offsets. The emulated end-to-end run is in <see cref="EmulatedCudaTests"/>.
/// </summary>
public class KernelTraceTests
{
    private static KernelActivity K(string name, ulong startUs, ulong endUs) => new(name, startUs * 1000, endUs * 1000, 7, 0, (1, 1, 1), (32, 1, 1));

    [Fact]
    public void BusyTimeIsTheUnionAndGapsSplitAtTheIdleThreshold()
    {
        // a [0, 10) and b [5, 12) overlap: busy [0, 12); gap 3 µs; c [15, 20); idle 100 µs; d [120, 121); gap 19 µs; e [140, 150).
        KernelActivity[] kernels = [K("b", 5, 12), K("a", 0, 10), K("c", 15, 20), K("d", 120, 121), K("e", 140, 150)];
        var s = KernelTraceSummary.Of(kernels);
        Assert.Equal(5, s.Kernels);
        Assert.Equal(0.150, s.SpanMs, 9);
        Assert.Equal((12 + 5 + 1 + 10) * 1e-3, s.BusyMs, 9);
        Assert.Equal((2, (3 + 19) * 1e-3), (s.Gaps, Math.Round(s.GapMs, 9)));
        Assert.Equal((1, 0.100), (s.IdleStretches, Math.Round(s.IdleMs, 9)));
        Assert.Equal(s.SpanMs, s.BusyMs + s.GapMs + s.IdleMs, 9);
        Assert.Equal(["a", "e", "b", "c", "d"], s.ByKernel.Select(r => r.Kernel));
        Assert.Contains("5 kernels over 0.150 ms: device busy 0.028 ms (18.7 %)", s.Line());
        Assert.Contains("2 gaps under 20 µs, 0.022 ms in all (11.00 µs each); 1 idle stretches, 0.100 ms", s.Line());
        // Two bursts (split by the idle stretch): 5 kernels, 28 µs busy and 22 µs of gaps between them.
        Assert.Equal(2, s.Bursts);
        Assert.EndsWith("per burst of 2.5 kernels: busy 14.0 µs, gaps 11.0 µs", s.Line());
    }

    [Fact]
    public void NoKernelsSaySo() => Assert.Equal("  kernel trace: no kernels recorded", KernelTraceSummary.Of([]).Line());

    [Fact]
    public unsafe void AKernelRecordIsReadAtCuptisOffsetsAndOtherKindsAreSkipped()
    {
        var record = (byte*)NativeMemory.AllocZeroed(160);
        var name = Marshal.StringToCoTaskMemUTF8("gemv_bf16_r1");
        try
        {
            *(int*)record = 10; // CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL
            *(ulong*)(record + 16) = 1_000_500;
            *(ulong*)(record + 24) = 1_003_000;
            *(uint*)(record + 48) = 13;
            for (int i = 0; i < 3; i++) (*(int*)(record + 52 + 4 * i), *(int*)(record + 64 + 4 * i)) = (i + 2, 32 >> (2 * i)); // block 32×8×2
            *(uint*)(record + 92) = 4242;
            *(nint*)(record + 104) = name;
            var k = Assert.IsType<KernelActivity>(Cupti.Read(record));
            Assert.Equal(("gemv_bf16_r1", 1_000_500UL, 1_003_000UL, 13u, 4242u), (k.Name, k.StartNs, k.EndNs, k.Stream, k.Correlation));
            Assert.Equal(((2, 3, 4), (32, 8, 2)), (k.Grid, k.Block));
            Assert.Equal(0.0025, k.Ms, 12);
            *(int*)(record + 68) = 0; // an impossible block: the fields are not where this layout has them, the name is not followed
            Assert.Equal(Cupti.UnrecognisedRecord, Cupti.Read(record)!.Value.Name);
            *(int*)record = 1; // a memcpy record
            Assert.Null(Cupti.Read(record));
        }
        finally
        {
            NativeMemory.Free(record);
            Marshal.FreeCoTaskMem(name);
        }
    }
}
