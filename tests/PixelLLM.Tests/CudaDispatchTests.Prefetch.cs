using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Backends.Cuda.Ops;
using PixelLLM.Runtime.Checks;
using PixelLLM.Runtime.Ops;
using L = PixelLLM.Runtime.Ops.T5DecoderLayerOp.Input;

namespace PixelLLM.Tests;

/// <summary>
/// PIXELLLM_PREFETCH_L2: a decoder stack's GEMVs, run as ops, each ask L2 for the part of the weights ahead that the
/// launch before them did not; without the switch (and outside a stack) they ask for nothing.
/// </summary>
public partial class CudaDispatchTests
{
    private static readonly OpCheckCase TwentySixLayers = OpCheckCases.All.Single(c => c.Label == "decoder stack 26 layers 1 row");

    /// <summary>The prefetch argument of every gemv.cu launch, in launch order (it is each kernel's last argument).</summary>
    private static List<(ulong Address, long Bytes)[]> GemvPrefetches(RecordingQueue recorder)
    {
        var list = new List<(ulong, long)[]>();
        for (int i = 0; i < recorder.Launches.Count; i++)
        {
            if (recorder.Launches[i].File != "gemv.cu") continue;
            var (data, offsets) = recorder.Arguments[i];
            list.Add(System.Runtime.InteropServices.MemoryMarshal.Read<PrefetchRanges>(data.AsSpan(offsets[^1])).ToArray());
        }
        return list;
    }

    [Theory]
    [InlineData("BF16")]
    [InlineData("F32")]
    public void EveryDecoderWeightIsRequestedOnceAheadOfTheLaunchThatReadsIt(string storage)
    {
        var op = (T5DecoderStackOp)TwentySixLayers.Op;
        // A lookahead of what the largest launch reads (f32 q | k | v, wi0 | wi1: 12 KB), so that no launch outruns its
        // window, yet short enough that the first launch's whole window fits the ranges a kernel takes.
        var recorder = new RecordingQueue { PrefetchL2Bytes = 12 << 10 };
        var (x, _) = CheckDispatch(TwentySixLayers, storage, recorder);
        var prefetches = GemvPrefetches(recorder);
        Assert.Equal(6 * op.Layers, prefetches.Count); // qkv, o, cross q, cross o, gated, wo: the layers ran as ops

        // Which launch reads each weight byte, in launch order.
        var readers = new List<(ulong Start, ulong End, int Launch)>();
        L[][] launches = [[L.Wq, L.Wk, L.Wv], [L.Wo], [L.CrossWq], [L.CrossWo], [L.Wi0, L.Wi1], [L.WoFf]];
        for (int l = 0; l < op.Layers; l++)
            for (int s = 0; s < launches.Length; s++)
                foreach (var w in launches[s])
                {
                    var t = x[op.IndexOf(l, w)];
                    readers.Add((t.Ptr, t.Ptr + (ulong)t.Bytes, l * launches.Length + s));
                }
        var requested = new HashSet<ulong>(); // 128-byte lines
        for (int launch = 0; launch < prefetches.Count; launch++)
            foreach (var (address, bytes) in prefetches[launch])
            {
                Assert.Equal(0ul, address % 128);
                var reader = Assert.Single(readers, r => address >= r.Start && address + (ulong)bytes <= r.End + 127);
                Assert.True(reader.Launch > launch, $"launch {launch} prefetches for launch {reader.Launch}");
                for (ulong line = address; line < address + (ulong)bytes; line += 128)
                    Assert.True(requested.Add(line), $"line {line:x} requested twice");
            }
        // Every weight but the first launch's is requested (a weight's lines, rounded out to 128 bytes).
        foreach (var (start, end, launch) in readers.Where(r => r.Launch > 0))
            for (ulong line = start / 128 * 128; line < end; line += 128)
                Assert.True(requested.Contains(line), $"launch {launch}'s line {line:x} never requested");
        Assert.Empty(prefetches[^1]);
    }

    [Fact]
    public void WithoutTheSwitchOrOutsideAStackNothingIsRequested()
    {
        var off = new RecordingQueue();
        CheckDispatch(TwentySixLayers, "BF16", off);
        Assert.All(GemvPrefetches(off), Assert.Empty);

        var linear = new RecordingQueue { PrefetchL2Bytes = 1 << 20 };
        foreach (var c in OpCheckCases.All.Where(c => c.Op is LinearOp or RmsNormLinearOp or QkvProjectionOp))
            CheckDispatch(c, "BF16", linear);
        Assert.NotEmpty(GemvPrefetches(linear));
        Assert.All(GemvPrefetches(linear), Assert.Empty);
    }

    [Fact]
    public void TheWindowStaysTheLookaheadPastTheRunningLaunch()
    {
        // Launches of 1000, 3000 (two weights of 1500 side by side), 2000 and 1000 bytes, 2000 bytes of lookahead.
        var stream = new WeightStream([[(0x10000, 1000)], [(0x20000, 1500), (0x30000, 1500)], [(0x40000, 2000)], [(0x50000, 1000)]], 2048);
        Assert.Equal(7000, stream.Bytes);
        // The first launch: the window's 2048 bytes past it, the leading 2048 / 3000 of each of the pair.
        Assert.Equal([(0x20000ul, 1024L), (0x30000ul, 1024L)], stream.For(0x10000).ToArray());
        // The pair: from the stream's 4000 (past itself) to 4000 + 2048: all of the next, and 48 bytes of the last
        // launch, less than a line, so left to the next window.
        Assert.Equal([(0x40000ul, 2000L)], stream.For(0x20000).ToArray());
        // The 2000-byte launch: from 6048 to the end, i.e. the last launch from its first line.
        Assert.Equal([(0x50000ul, 1000L)], stream.For(0x40000).ToArray());
        Assert.Empty(stream.For(0x50000).ToArray());
        Assert.Empty(stream.For(0x30000).ToArray()); // not a launch's first weight
    }

    [Theory]
    [InlineData(8)]
    [InlineData(16)]
    [InlineData(32)]
    public void AtT5XlSizesEveryLaunchRequestsWhatItReadsWithinTheRangesAKernelTakes(int megabytes)
    {
        // T5-XL's 24 decoder layers in bf16, weights 256-aligned one after another as the backend uploads them.
        long d = 2048, inner = 2048, ff = 5120;
        ulong at = 0x7f0000000000;
        (ulong, long) Weight(long rows, long cols) { var w = (at, rows * cols * 2); at += (ulong)((rows * cols * 2 + 255) / 256 * 256); return w; }
        var steps = new List<(ulong, long)[]>();
        for (int l = 0; l < 24; l++)
        {
            steps.Add([Weight(inner, d), Weight(inner, d), Weight(inner, d)]);
            steps.Add([Weight(d, inner)]);
            steps.Add([Weight(inner, d)]);
            steps.Add([Weight(d, inner)]);
            steps.Add([Weight(ff, d), Weight(ff, d)]);
            steps.Add([Weight(d, ff)]);
        }
        var stream = new WeightStream(steps, (long)megabytes << 20);
        Assert.Equal(24L * (6 * 2048 * 2048 + 3 * 2048 * 5120) * 2, stream.Bytes); // 2.72 GB, what the profile reads a step
        long lookahead = (long)megabytes << 20;
        for (int i = 0; i < steps.Count; i++)
        {
            var ranges = stream.For(steps[i][0].Item1).ToArray();
            Assert.True(ranges.Length < PrefetchRanges.Capacity, $"launch {i}: {ranges.Length} ranges, at the kernel's limit (the window may have been cut)");
            long bytes = ranges.Sum(r => r.Bytes), own = steps[i].Sum(w => w.Item2);
            // The first launch requests the whole window; each later one what it reads, or the lookahead where it reads
            // more (the gated launch's 42 MB: the rest of it it reads from DRAM itself), give or take line rounding;
            // the stream's last launches have nothing left ahead.
            long expected = i == 0 ? lookahead : Math.Min(own, lookahead);
            if (i < steps.Count - 6) Assert.InRange(bytes, expected - 6 * 128, expected + 6 * 128);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3 << 10)]
    [InlineData(1 << 20)]
    public void ALayerInOneLaunchPrefetchesItsPhasesAndTheNextLayersQkvWhenAsked(int lookahead)
    {
        // Beams: every layer is decoder_layer.cu's one launch; its last two arguments are the next layer's q | k | v
        // ranges and whether its phases prefetch each other's weights.
        var c = OpCheckCases.All.Single(c => c.Label == "decoder stack 3 layers 2 rows");
        var op = (T5DecoderStackOp)c.Op;
        var recorder = new RecordingQueue { PrefetchL2Bytes = lookahead };
        var (x, _) = CheckDispatch(c, "BF16", recorder);
        var launches = Enumerable.Range(0, recorder.Launches.Count).Where(i => recorder.Launches[i].File == "decoder_layer.cu").ToArray();
        Assert.Equal(op.Layers, launches.Length);
        for (int l = 0; l < op.Layers; l++)
        {
            var (data, offsets) = recorder.Arguments[launches[l]];
            var ranges = System.Runtime.InteropServices.MemoryMarshal.Read<PrefetchRanges>(data.AsSpan(offsets[^2])).ToArray();
            Assert.Equal(lookahead > 0 ? 1 : 0, BitConverter.ToInt32(data, offsets[^1]));
            if (lookahead == 0 || l == op.Layers - 1)
            {
                Assert.Empty(ranges);
                continue;
            }
            var qkv = new[] { L.Wq, L.Wk, L.Wv }.Select(w => x[op.IndexOf(l + 1, w)]).ToArray();
            long each = Math.Min(qkv[0].Bytes, lookahead / 3 / 128 * 128);
            Assert.Equal(qkv.Select(w => (w.Ptr, each)), ranges);
        }
    }
}
