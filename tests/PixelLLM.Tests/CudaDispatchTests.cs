using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using PixelLLM.Backends.Cuda;
using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Backends.Cuda.Interop;
using PixelLLM.Backends.Cuda.Ops;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Checks;
using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Tests;

/// <summary>
/// The CUDA dispatch checked without a GPU: every backend-check case is dispatched onto a recording queue, and every
/// launch must name a kernel that its kernels/*.cu file really defines (NVRTC-compiled PTX), with exactly the argument
/// sizes the kernel's .param list declares. Together with the catalog-coverage test this proves the CUDA switch covers
/// every op the CPU backend runs.
/// </summary>
public partial class CudaDispatchTests
{
    private static readonly Lazy<Dictionary<string, Dictionary<string, int[]>>> Entries = new(CompileAllToPtx);

    public static TheoryData<int, string> Cases()
    {
        var data = new TheoryData<int, string>();
        for (int i = 0; i < OpCheckCases.All.Count; i++)
            foreach (var storage in new[] { "F32", "BF16" })
                data.Add(i, storage);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryLaunchNamesAKernelOfItsFileWithMatchingArguments(int index, string storage) =>
        CheckDispatch(OpCheckCases.All[index], storage, new RecordingQueue());

    /// <summary>The decoder layer's kernels on every row count, plain, async and streamed, not only those the default picks.</summary>
    [Theory]
    [InlineData("Tickets", "F32")]
    [InlineData("Tickets", "BF16")]
    [InlineData("Async", "F32")]
    [InlineData("Async", "BF16")]
    [InlineData("Stream", "F32")]
    [InlineData("Stream", "BF16")]
    public void EveryDecoderLayerKernelTakesTheArgumentsItDeclares(string kernel, string storage)
    {
        var variant = Enum.Parse<DecoderLayerKernel>(kernel);
        foreach (var c in OpCheckCases.All.Where(c => c.Op is PixelLLM.Runtime.Ops.T5DecoderLayerOp))
        {
            var recorder = new RecordingQueue { FusedDecoderLayerMinRows = 1, FusedDecoderLayerKernel = variant };
            CheckDispatch(c, storage, recorder);
            if (c.Label.EndsWith("by ops")) continue;
            int rows = c.Inputs[0].Shape[0];
            string suffix = $"{storage.ToLowerInvariant()}_r{(rows == 1 ? 1 : rows == 2 ? 2 : 4)}";
            var launch = Assert.Single(recorder.Launches);
            string expected = variant switch
            {
                DecoderLayerKernel.Stream => $"decoder_layer_stream_{suffix}",
                DecoderLayerKernel.Async when rows == 1 => $"decoder_layer_async_{suffix}",
                _ => $"decoder_layer_{suffix}",
            };
            Assert.Equal(expected, launch.Kernel);
            if (variant == DecoderLayerKernel.Stream)
            {
                // A persistent grid: one or two blocks per SM, each with three 32 KB stages and its rows beyond 48 KB.
                Assert.True(launch.Grid.X == 132 || launch.Grid.X == 264, $"{c.Label}: grid {launch.Grid.X}");
                Assert.InRange(launch.SharedBytes, 3 * 32768 + 16, DeviceLimits.H100.SharedBytesPerBlock);
            }
            else Assert.Equal(0, launch.SharedBytes);
        }
    }

    /// <summary>PIXELLLM_STREAM_LAYER_BLOCKS sets the streamed layer's grid; shapes past its limits fall back, not fail.</summary>
    [Fact]
    public void StreamedLayerTakesTheForcedGridAndFallsBackWhereItDoesNotFit()
    {
        var wide = OpCheckCases.All.Single(c => c.Label == "decoder layer 1 row wide");
        var forced = new RecordingQueue { FusedDecoderLayerMinRows = 1, FusedDecoderLayerKernel = DecoderLayerKernel.Stream, StreamDecoderLayerBlocks = 5 };
        CheckDispatch(wide, "BF16", forced);
        Assert.Equal(5u, Assert.Single(forced.Launches).Grid.X);

        // 3 × 32 KB of stages + 1 × 1024 × 2 B of rows + 1024 × 2 B of norm weight: two blocks per 228 KB SM.
        var fits = new RecordingQueue { FusedDecoderLayerMinRows = 1, FusedDecoderLayerKernel = DecoderLayerKernel.Stream };
        CheckDispatch(wide, "BF16", fits);
        var launch = Assert.Single(fits.Launches);
        Assert.Equal((264u, 3 * 32768 + 2816 * 2 + 1024 * 2), (launch.Grid.X, launch.SharedBytes));

        // The odd widths are not whole 16-byte vectors: the eight ops, as for the other kernels.
        var odd = OpCheckCases.All.Single(c => c.Label == "decoder layer odd widths by ops");
        var fallback = new RecordingQueue { FusedDecoderLayerMinRows = 1, FusedDecoderLayerKernel = DecoderLayerKernel.Stream };
        CheckDispatch(odd, "BF16", fallback);
        Assert.DoesNotContain(fallback.Launches, l => l.File.StartsWith("decoder_layer"));
    }

    /// <summary>With PIXELLLM_MMA_ATTENTION=1: every attention case still dispatches correctly, the mma ones on attention_mma.cu.</summary>
    [Theory]
    [InlineData("F32")]
    [InlineData("BF16")]
    public void TensorCoreAttentionTakesTheArgumentsItDeclares(string storage)
    {
        foreach (var c in OpCheckCases.All.Where(c => c.Op is PixelLLM.Runtime.Ops.AttentionOp))
        {
            var recorder = new RecordingQueue { TensorCoreAttention = true };
            CheckDispatch(c, storage, recorder);
            bool mma = recorder.Launches.Any(l => l.File == "attention_mma.cu");
            if (c.Label.StartsWith("mma")) Assert.Equal(storage == "BF16", mma);
            if (storage == "F32" || c.Label.Contains("mask") || c.Label.Contains("causal")) Assert.False(mma, c.Label);
        }
    }

    /// <summary>
    /// With PIXELLLM_SKINNY_GEMM=1: every Linear case still dispatches correctly; the 16-bit 9–64-row ones whose K and N
    /// are multiples of 64 take gemm_skinny.cu, on a grid of (N / 64, the splits <see cref="CudaOps.SkinnySplits"/> picks).
    /// </summary>
    [Theory]
    [InlineData("F32")]
    [InlineData("BF16")]
    public void SkinnyGemmTakesTheArgumentsItDeclares(string storage)
    {
        int skinny = 0;
        foreach (var c in OpCheckCases.All.Where(c => c.Op is PixelLLM.Runtime.Ops.LinearOp))
        {
            var recorder = new RecordingQueue { SkinnyGemm = true };
            CheckDispatch(c, storage, recorder);
            var launch = recorder.Launches.Where(l => l.File == "gemm_skinny.cu").ToList();
            if (!c.Label.StartsWith("skinny")) continue;
            if (storage == "F32") { Assert.Empty(launch); continue; }
            var only = Assert.Single(launch);
            int n = c.Inputs[1].Shape[0], k = c.Inputs[1].Shape[1];
            var (splits, _) = CudaOps.SkinnySplits(n, k, DeviceLimits.H100.Multiprocessors);
            Assert.Equal(((uint)(n / 64), (uint)splits, 1u), only.Grid);
            skinny++;
        }
        Assert.Equal(storage == "BF16" ? 5 : 0, skinny);
    }

    [Theory]
    [InlineData(192, 128, 132, 2, 1)]     // 3 tiles, 2 chunks: every chunk its own split
    [InlineData(64, 640, 132, 10, 1)]     // 1 tile, 10 chunks
    [InlineData(16896, 64, 132, 1, 1)]    // 264 tiles fill two blocks per SM alone
    [InlineData(6144, 2048, 132, 3, 11)]  // T5-XL q|k|v: 96 tiles × 3 splits
    [InlineData(2048, 5120, 132, 9, 9)]   // T5-XL wo: 32 tiles, 80 chunks
    [InlineData(8448, 576, 132, 2, 5)]    // the catalog's uneven case: 5 + 4 chunks
    public void SkinnySplitsFillTwoBlocksPerSmWithEverySplitNonEmpty(int n, int k, int sms, int splits, int perSplit)
    {
        var got = CudaOps.SkinnySplits(n, k, sms);
        Assert.Equal((splits, perSplit), got);
        Assert.True((got.Splits - 1) * got.PerSplit < k / 64 && got.Splits * got.PerSplit >= k / 64);
    }

    /// <summary>
    /// The streamed kernel runs a stack's layers in one launch per 24 (the table's capacity): each launch's table holds its
    /// layers' own tensors in order, the first launch reads x and a later one y (the previous launch's output). Without
    /// the streamed kernel, or for shapes it does not serve, every layer runs as the layer op does.
    /// </summary>
    [Theory]
    [InlineData("F32")]
    [InlineData("BF16")]
    public void StreamedStackRunsUpToTwentyFourLayersPerLaunch(string storage)
    {
        foreach (var c in OpCheckCases.All.Where(c => c.Op is PixelLLM.Runtime.Ops.T5DecoderStackOp))
        {
            var op = (PixelLLM.Runtime.Ops.T5DecoderStackOp)c.Op;
            var recorder = new RecordingQueue { FusedDecoderLayerMinRows = 1, FusedDecoderLayerKernel = DecoderLayerKernel.Stream };
            var (x, y) = CheckDispatch(c, storage, recorder);
            if (c.Label.EndsWith("by ops"))
            {
                Assert.True(recorder.Launches.Count >= 8 * op.Layers && recorder.Launches.All(l => !l.File.StartsWith("decoder_layer")), c.Label);
                continue;
            }
            int launches = (op.Layers + DecoderLayerTable.MaxLayers - 1) / DecoderLayerTable.MaxLayers;
            Assert.Equal(launches, recorder.Launches.Count);
            for (int k = 0; k < launches; k++)
            {
                Assert.Equal("decoder_layer_stream.cu", recorder.Launches[k].File);
                var args = recorder.Arguments[k];
                ulong Arg(int i) => BitConverter.ToUInt64(args.Data, args.Offsets[i]);
                Assert.Equal(k == 0 ? x[0].Ptr : y.Ptr, Arg(0));
                int count = Math.Min(DecoderLayerTable.MaxLayers, op.Layers - k * DecoderLayerTable.MaxLayers);
                Assert.Equal(count, BitConverter.ToInt32(args.Data, args.Offsets[6]));
                Assert.Equal(y.Ptr, Arg(7));
                for (int l = 0; l < count; l++)
                    for (int i = 0; i < DecoderLayerTable.PointersPerLayer; i++)
                    {
                        int input = op.IndexOf(k * DecoderLayerTable.MaxLayers + l, PixelLLM.Runtime.Ops.T5DecoderStackOp.PerLayerInputs[i]);
                        Assert.Equal(x[input].Ptr, BitConverter.ToUInt64(args.Data, args.Offsets[5] + 8 * (l * DecoderLayerTable.PointersPerLayer + i)));
                    }
            }

            var layered = new RecordingQueue { FusedDecoderLayerMinRows = 1 };
            CheckDispatch(c, storage, layered);
            Assert.Equal(op.Layers, layered.Launches.Count(l => l.File == "decoder_layer.cu"));
        }
    }

    private static (DeviceTensor[] X, DeviceTensor Y) CheckDispatch(OpCheckCase c, string storage, RecordingQueue recorder)
    {
        var floatStorage = Enum.Parse<DType>(storage);
        var graph = new Graph();
        var inputs = c.Inputs.Select((d, i) => graph.Input($"x{i}", d.DType, d.Shape.ToArray())).ToArray();
        var output = graph.Apply(c.Op, inputs);
        ulong next = 0x10000;
        DeviceTensor Fake(TensorDesc d, int offset)
        {
            var t = new DeviceTensor(next + (ulong)offset, d, d.DType == DType.F32 ? floatStorage : d.DType);
            next += (ulong)((d.ByteSize + 511) / 256 * 256); // 256-aligned like cuMemAlloc, plus room for an offset
            return t;
        }
        var x = c.Inputs.Select((d, i) => Fake(d, c.Misaligned.Contains(i) ? OpCheckCase.MisalignBytes : 0)).ToArray();
        var y = c.Op.InPlaceInput >= 0 ? x[c.Op.InPlaceInput] : Fake(output.Desc, 0);

        new CudaOps(recorder).Dispatch(c.Op, x, y);

        Assert.True(recorder.Actions > 0, $"{c.Op.Name} {c.Label}: the dispatch queued nothing");
        foreach (var (file, kernel, sizes, _, _) in recorder.Launches)
        {
            Assert.True(Entries.Value.TryGetValue(file, out var entries), $"{c.Op.Name}: launch from unknown file {file}");
            Assert.True(entries!.TryGetValue(kernel, out var parameters), $"{c.Op.Name}: {file} has no kernel {kernel}; it has {string.Join(", ", entries.Keys.Take(12))}…");
            Assert.Equal(parameters!, sizes);
        }
        return (x, y);
    }

    [Fact]
    public void EveryOpTheBackendsRunHasACheckCase()
    {
        var opTypes = typeof(Op).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(Op)) && !t.IsAbstract)
            .Where(t => t != typeof(PixelLLM.Runtime.Ops.ReshapeOp)) // a view: no kernel on any backend
            .ToHashSet();
        var covered = OpCheckCases.All.Select(c => c.Op.GetType()).ToHashSet();
        var missing = opTypes.Where(t => !covered.Contains(t)).Select(t => t.Name).Order().ToArray();
        Assert.True(missing.Length == 0, $"ops without a backend-check case (and so without a dispatch check): {string.Join(", ", missing)}");
    }

    [Fact]
    public void AnUnknownOpIsRejectedByName()
    {
        var e = Assert.Throws<NotSupportedException>(() => new CudaOps(new RecordingQueue()).Dispatch(new MadeUpOp(), [], default));
        Assert.Contains("MadeUp", e.Message);
    }

    [Fact]
    public void KernelArgumentsAreAlignedLikeAParamBlock()
    {
        var args = new KernelArgs().I32(7).Dims(Dims8.From([1, 2, 3])).F32(1.5f).Ptr(0xdead);
        Assert.Equal([4, 64, 4, 8], args.Sizes.ToArray());
        Assert.Equal([0, 8, 72, 80], Enumerable.Range(0, args.Count).Select(args.Offset));
        Assert.Equal(3L, BitConverter.ToInt64(args.Data, 8 + 16));
    }

    private sealed record MadeUpOp : Op
    {
        public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs) => inputs[0];
    }

    private sealed class RecordingQueue : IDeviceQueue
    {
        public List<(string File, string Kernel, int[] Sizes, (uint X, uint Y, uint Z) Grid, int SharedBytes)> Launches { get; } = [];
        /// <summary>Every launch's argument bytes and their offsets, in launch order.</summary>
        public List<(byte[] Data, int[] Offsets)> Arguments { get; } = [];
        public int Actions { get; private set; }
        public ulong ErrorWord => 0x8;
        public int FusedDecoderLayerMinRows { get; init; } = 2;
        public DecoderLayerKernel FusedDecoderLayerKernel { get; init; }
        public int StreamDecoderLayerBlocks { get; init; }
        public bool TensorCoreAttention { get; init; }
        public bool FusedGridAttention { get; init; }
        public bool FusedMlp { get; init; }
        public bool FusedSwiGluNorm { get; init; }
        public bool SkinnyGemm { get; init; }
        public long PrefetchL2Bytes { get; init; }
        public bool StagedDecodeAttention { get; init; }
        public bool WarpSoftmax { get; init; }
        public bool StagedRelPos { get; init; }
        public bool GemvAttention { get; init; }

        public void Launch(string file, string kernel, (uint X, uint Y, uint Z) grid, int block, KernelArgs args, int sharedBytes = 0)
        {
            Assert.True(grid.X > 0 && grid.Y > 0 && grid.Z > 0, $"{kernel}: empty grid {grid}");
            Assert.True(block is > 0 and <= 1024 && block % 32 == 0, $"{kernel}: block of {block} threads");
            Assert.InRange(sharedBytes, 0, DeviceLimits.H100.SharedBytesPerBlock);
            Launches.Add((file, kernel, args.Sizes.ToArray(), grid, sharedBytes));
            Arguments.Add(((byte[])args.Data.Clone(), [.. Enumerable.Range(0, args.Count).Select(args.Offset)]));
            Actions++;
        }

        public bool GemmBiasEpilogue => false;
        public void Gemm(in GemmCall call)
        {
            Assert.True(call.M > 0 && call.N > 0 && call.K > 0 && call.Batch > 0, $"degenerate GEMM {call}");
            Actions++;
        }

        public void Copy(ulong destination, ulong source, long bytes) => Actions++;
        public void Fill(ulong destination, byte value, long bytes) => Actions++;
        public ulong Scratch(int slot, long bytes) => 0x100000000UL * (ulong)(slot + 1);
    }

    [GeneratedRegex(@"\.entry\s+(?<name>\w+)\s*\((?<params>[^)]*)\)", RegexOptions.Singleline)]
    private static partial Regex EntryPattern();

    [GeneratedRegex(@"\.param\s+(?:\.align\s+\d+\s+)?\.(?<type>[a-z]+)(?<bits>\d+)\s+\w+(?:\[(?<count>\d+)\])?")]
    private static partial Regex ParamPattern();

    /// <summary>kernel file → entry name → byte size of each parameter, from PTX for compute_80.</summary>
    private static Dictionary<string, Dictionary<string, int[]>> CompileAllToPtx()
    {
        var nvrtc = Nvrtc.TryLoad(out var whyNot) ?? throw new InvalidOperationException($"libnvrtc is needed for this test: {whyNot}");
        var result = new Dictionary<string, Dictionary<string, int[]>>();
        foreach (var file in KernelSources.KernelFiles)
        {
            using var program = nvrtc.CreateProgram(KernelSources.Read(file), file, KernelSources.Headers);
            program.Compile([.. KernelCompiler.BaseOptions, "--gpu-architecture=compute_80"]);
            var ptx = Encoding.UTF8.GetString(program.GetPtx()).TrimEnd('\0');
            var entries = new Dictionary<string, int[]>();
            foreach (Match m in EntryPattern().Matches(ptx))
                entries[m.Groups["name"].Value] = ParamPattern().Matches(m.Groups["params"].Value)
                    .Select(p => int.Parse(p.Groups["bits"].Value, CultureInfo.InvariantCulture) / 8
                                 * (p.Groups["count"].Success ? int.Parse(p.Groups["count"].Value, CultureInfo.InvariantCulture) : 1))
                    .ToArray();
            result[file] = entries;
        }
        return result;
    }
}
