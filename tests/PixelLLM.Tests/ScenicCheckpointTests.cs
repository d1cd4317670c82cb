using System.Diagnostics;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Checkpoints;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Runtime.Weights;
using PixelLLM.Tests.Support;
using Xunit.Abstractions;

namespace PixelLLM.Tests;

/// <summary>
/// Flax msgpack checkpoints: the golden scenic train states against their sibling weights.safetensors, bit for bit,
/// and a hand-built state covering the leaf forms the goldens do not use.
/// </summary>
public class ScenicCheckpointTests(ITestOutputHelper output)
{
    /// <summary>Golden checkpoint, its safetensors twin, and the "msgpack check" numbers from the golden README.</summary>
    public static TheoryData<string, string, int, long> GoldenCheckpoints => new()
    {
        { "pixelllm/tiny_t5.scenic.msgpack", "pixelllm/tiny_t5.weights.safetensors", 277, 800256 },
        { "pixelllm_git/tiny_git.scenic.msgpack", "pixelllm_git/tiny_git.weights.safetensors", 239, 720572 },
        { "pixelllm_refseg/tiny_t5_refseg.scenic.msgpack", "pixelllm_refseg/tiny_t5_refseg.weights.safetensors", 489, 1214144 },
        { "pixelllm_densecap/tiny_densecap.scenic.msgpack", "pixelllm_densecap/tiny_densecap.weights.safetensors", 324, 1106592 },
    };

    [Theory]
    [MemberData(nameof(GoldenCheckpoints))]
    public void GoldenCheckpointEqualsItsSafetensorsBitForBit(string checkpointFile, string weightsFile, int tensorCount, long parameterBytes)
    {
        var path = Path.Combine(Golden.Root, checkpointFile);
        var clock = Stopwatch.StartNew();
        ScenicCheckpoint.Open(path).Dispose();
        var firstOpen = clock.Elapsed;
        var fastest = TimeSpan.MaxValue;
        for (int i = 0; i < 5; i++)
        {
            clock.Restart();
            ScenicCheckpoint.Open(path).Dispose();
            if (clock.Elapsed < fastest) fastest = clock.Elapsed;
        }
        using var checkpoint = ScenicCheckpoint.Open(path);
        using var weights = SafeTensorsFile.Open(Path.Combine(Golden.Root, weightsFile));
        output.WriteLine($"{checkpointFile}: open {firstOpen.TotalMilliseconds:F2} ms (first), {fastest.TotalMilliseconds:F2} ms " +
                         $"(fastest of 5 more), {checkpoint.Names.Count} tensors");

        Assert.Equal("params", checkpoint.ParamsRoot);
        Assert.Equal(1000, checkpoint.GlobalStep);
        Assert.Equal(weights.Names.Order(StringComparer.Ordinal), checkpoint.Names.Order(StringComparer.Ordinal));
        Assert.Equal(tensorCount, checkpoint.Names.Count);
        Assert.Equal(parameterBytes, checkpoint.ParameterBytes);
        IWeightSource source = checkpoint;
        foreach (var name in weights.Names)
        {
            Assert.True(source.Contains(name));
            var ours = source.Get(name);
            var theirs = weights.Get(name);
            Assert.Equal(theirs.Desc, ours.Desc);
            Assert.True(theirs.Data.Span.SequenceEqual(ours.Data.Span), $"{name}: bytes differ");
            Assert.NotNull(checkpoint.FileRange(name)); // a view into the mapping, not a copy
        }
    }

    [Fact]
    public void HandBuiltTrainStateYieldsEveryLeafForm()
    {
        var (state, expected) = ScenicCheckpointSamples.TrainState();
        using var dir = new TempDirectory();
        var path = dir.File("checkpoint_1000");
        File.WriteAllBytes(path, FlaxStateWriter.Serialize(state));
        using var checkpoint = ScenicCheckpoint.Open(path);

        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), checkpoint.Names.Order(StringComparer.Ordinal));
        foreach (var (name, want) in expected)
        {
            var got = checkpoint.Get(name);
            Assert.Equal(want.DType, got.DType);
            Assert.Equal(want.Shape, got.Shape.ToArray());
            Assert.True(want.Data.AsSpan().SequenceEqual(got.Data.Span), $"{name}: bytes differ");
        }
        Assert.Equal(1000, checkpoint.GlobalStep);
        Assert.Null(checkpoint.FileRange("big")); // re-assembled from its chunks
        Assert.NotNull(checkpoint.FileRange("np_scalar"));
        Assert.Equal(0, checkpoint.Get("scalar_f32").Shape.Rank);
        Assert.Equal(0, checkpoint.Get("np_scalar").Shape.Rank);
        // Names follow file order, the order a reader of a real (key-sorted) checkpoint sees.
        Assert.Equal(["blocks.0/attn/bias", "blocks.0/attn/kernel", "scalar_f32", "np_scalar", "big"], checkpoint.Names.Take(5));
    }

    [Fact]
    public void HalfAndBFloat16ValuesConvertThroughFloat32Weights()
    {
        var half = new[] { (Half)1.5f, (Half)(-2.25f), Half.MaxValue };
        var bf16 = new ushort[] { BFloat16.FromSingle(3.0f), BFloat16.FromSingle(-0.5f) };
        var bytes = ScenicCheckpointSamples.WithParams(new FlaxMap
        {
            { "h", new NdArray("float16", [3], half.SelectMany(h => BitConverter.GetBytes(h)).ToArray()) },
            { "b", new NdArray("bfloat16", [2], bf16.SelectMany(BitConverter.GetBytes).ToArray()) },
        });
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("c"), bytes);
        using var checkpoint = ScenicCheckpoint.Open(dir.File("c"));
        var f32 = new Float32Weights(checkpoint);
        Assert.Equal([1.5f, -2.25f, 65504f], f32.Get("h").AsSpan<float>().ToArray());
        Assert.Equal([3.0f, -0.5f], f32.Get("b").AsSpan<float>().ToArray());
    }

    [Fact]
    public void OlderOptimizerTargetLayoutIsRead()
    {
        var kernel = NdArray.Random(new Random(1), "float32", 2, 3);
        var bytes = FlaxStateWriter.Serialize(new FlaxMap
        {
            { "global_step", 12 },
            { "optimizer", new FlaxMap
                {
                    { "state", new FlaxMap { { "step", 12 }, { "param_states", new FlaxMap { { "dense", new FlaxMap { { "kernel", kernel } } } } } } },
                    { "target", new FlaxMap { { "params", new FlaxMap { { "dense", new FlaxMap { { "kernel", kernel } } } } } } },
                } },
            { "model_state", new FlaxMap() },
        });
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("c"), bytes);
        using var checkpoint = ScenicCheckpoint.Open(dir.File("c"));
        Assert.Equal("optimizer/target/params", checkpoint.ParamsRoot);
        Assert.Equal(["dense/kernel"], checkpoint.Names);
        Assert.Equal(12, checkpoint.GlobalStep);
        Assert.True(kernel.Data.AsSpan().SequenceEqual(checkpoint.Get("dense/kernel").Data.Span));
    }

    [Theory]
    [InlineData(4)] // map32 / str32 / bin32 / ext32
    [InlineData(2)]
    public void WideFormatsAreRead(int width)
    {
        var data = new byte[] { 0, 0, 128, 63, 0, 0, 0, 64 }; // 1f, 2f
        var b = new MsgPackBuilder().Map(1, width).Str("params", width).Map(1, width).Str("w", width);
        var payload = new MsgPackBuilder().Array(3, width).Array(1, width).UInt(2).Str("float32", width).Bin(data, width);
        b.ExtHeader(1, payload.Length, width).Raw(payload.ToArray());
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("c"), b.ToArray());
        using var checkpoint = ScenicCheckpoint.Open(dir.File("c"));
        Assert.Equal([1f, 2f], checkpoint.Get("w").AsSpan<float>().ToArray());
    }

    [Fact]
    public void MissingNameThrowsModelFileExceptionNamingIt()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("c"), ScenicCheckpointSamples.WithParams(new FlaxMap { { "a", ScenicCheckpointSamples.F32x2 } }));
        using var checkpoint = ScenicCheckpoint.Open(dir.File("c"));
        var e = Assert.Throws<ModelFileException>(() => checkpoint.Get("b"));
        Assert.Contains("'b'", e.Message);
        Assert.Contains(dir.File("c"), e.Message);
    }

    [Fact]
    public void GlobalStepOfAnUnreadableKindIsNullNotAnError()
    {
        var bytes = FlaxStateWriter.Serialize(new FlaxMap
        {
            { "params", new FlaxMap { { "a", ScenicCheckpointSamples.F32x2 } } },
            { "global_step", new NdArray("uint64", [], new byte[8]) },
        });
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("c"), bytes);
        using var checkpoint = ScenicCheckpoint.Open(dir.File("c"));
        Assert.Null(checkpoint.GlobalStep);
    }
}
