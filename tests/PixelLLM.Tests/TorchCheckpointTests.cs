using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Checkpoints;
using PixelLLM.Runtime.Weights;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// Reads the torch.save fixtures (made by PyTorch 1.13, Fixtures/Torch) and compares every tensor's dtype, shape and
/// raw bytes with what PyTorch itself wrote to expected.json.
/// </summary>
public class TorchCheckpointTests
{
    private static readonly Lazy<JsonElement> expected = new(() =>
        JsonDocument.Parse(File.ReadAllText(TorchFixtures.Path("expected.json"))).RootElement);

    public static TheoryData<string> Fixtures() => new(expected.Value.EnumerateObject().Select(p => p.Name));

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void EveryTensorMatchesWhatPyTorchSaved(string fixture)
    {
        using var checkpoint = TorchCheckpoint.Open(TorchFixtures.Path(fixture));
        var tensors = expected.Value.GetProperty(fixture).EnumerateObject().ToList();
        Assert.Equal(tensors.Select(t => t.Name).Order(StringComparer.Ordinal), checkpoint.Names.Order(StringComparer.Ordinal));
        foreach (var t in tensors)
        {
            var dtype = t.Value.GetProperty("dtype").GetString()!;
            var shape = t.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray();
            var tensor = checkpoint.Get(t.Name);
            Assert.True(dtype == tensor.DType.SafetensorsName(), $"{fixture}:{t.Name} dtype {tensor.DType}, expected {dtype}");
            Assert.True(new Shape(shape) == tensor.Shape, $"{fixture}:{t.Name} shape {tensor.Shape}, expected ({string.Join(", ", shape)})");
            Assert.Equal(tensor.Desc, checkpoint.Describe(t.Name));
            Assert.Equal(t.Value.GetProperty("hex").GetString(), Convert.ToHexStringLower(tensor.Data.Span));
        }
    }

    [Fact]
    public void NestedCheckpointsFlattenWithDotsInPickleOrderAndSkipNonTensors()
    {
        using var checkpoint = TorchCheckpoint.Open(TorchFixtures.Path("nested.pth"));
        // The generator's dict order: model (a module state dict), ema.shadow, the Parameter, then the list; epoch,
        // name, flags and ema.decay are not tensors.
        Assert.Equal(["model.0.weight", "model.0.bias", "model.1.weight", "model.1.bias", "ema.shadow.w", "param", "history.0", "history.1"],
            checkpoint.Names);
    }

    [Fact]
    public void ContiguousStoredTensorsAreZeroCopyViewsAndStridedOnesAreCopies()
    {
        using var checkpoint = TorchCheckpoint.Open(TorchFixtures.Path("views.pth"));
        var tiedA = checkpoint.Get("tied_a");
        var tiedB = checkpoint.Get("tied_b");
        var tail = checkpoint.Get("tail");
        var row2 = checkpoint.Get("row2");
        Assert.False(MemoryMarshal.TryGetArray<byte>(tiedA.Data, out _), "a contiguous stored tensor should view the mapping");
        // tied_a, tied_b, tail and row2 all view one storage: same base, offsets 5 and 12 floats in.
        Assert.Equal(0, ByteDistance(tiedA, tiedB));
        Assert.Equal(5 * 4, ByteDistance(tiedA, tail));
        Assert.Equal(12 * 4, ByteDistance(tiedA, row2));
        // torch aligns storages to 64 bytes within the file, and the mapping starts on a page.
        Assert.Equal(0, AddressOf(tiedA) % 64);

        foreach (var strided in new[] { "transposed", "every_other_column", "broadcast", "permuted" })
            Assert.True(MemoryMarshal.TryGetArray<byte>(checkpoint.Get(strided).Data, out _), $"{strided} should be a managed copy");
    }

    [Fact]
    public void DeflatedEntriesAreInflatedAndViewed()
    {
        using var checkpoint = TorchCheckpoint.Open(TorchFixtures.Path("deflated.pth"));
        var f32 = checkpoint.Get("f32");
        Assert.True(MemoryMarshal.TryGetArray<byte>(f32.Data, out var segment));
        Assert.Equal(60, segment.Count);
    }

    [Fact]
    public void ServesAsAWeightSource()
    {
        using var checkpoint = TorchCheckpoint.Open(TorchFixtures.Path("dtypes.pth"));
        IWeightSource weights = new Float32Weights(checkpoint);
        Assert.True(weights.Contains("f16"));
        Assert.False(weights.Contains("missing"));
        var f16 = checkpoint.Get("f16").AsSpan<Half>().ToArray();
        var converted = weights.Get("f16");
        Assert.Equal(DType.F32, converted.DType);
        Assert.Equal(f16.Select(h => (float)h), converted.AsSpan<float>().ToArray());
        var error = Assert.Throws<ModelFileException>(() => weights.Get("missing"));
        Assert.Contains("dtypes.pth", error.Message);
        Assert.Contains("'missing'", error.Message);
    }

    [Fact]
    public void BoolBecomesBytesAndFloat64BecomesFloat32()
    {
        using var checkpoint = TorchCheckpoint.Open(TorchFixtures.Path("dtypes.pth"));
        Assert.Equal(new byte[] { 1, 0, 1, 1 }, checkpoint.Get("bool").Data.ToArray());
        Assert.Equal(new[] { 1.5f, -2.25f, 1e-3f }, checkpoint.Get("f64").AsSpan<float>().ToArray());
        Assert.Equal(long.MinValue, checkpoint.Get("i64").AsSpan<long>()[3]);
    }

    [Fact]
    public void LegacyFilesAreRefusedWithAClearMessage()
    {
        var error = Assert.Throws<ModelFileException>(() => TorchCheckpoint.Open(TorchFixtures.Path("legacy.pth")));
        Assert.Contains("legacy.pth", error.Message);
        Assert.Contains("legacy", error.Message);
        Assert.Contains("not supported", error.Message);
    }

    [Fact]
    public void PicklesCallingArbitraryGlobalsAreRefused()
    {
        // malicious.pth pickles a call to os.system (posix.system on Linux); loading must stop at the GLOBAL.
        var error = Assert.Throws<ModelFileException>(() => TorchCheckpoint.Open(TorchFixtures.Path("malicious.pth")));
        Assert.Contains("malicious.pth", error.Message);
        Assert.Contains("system'", error.Message);
        Assert.Contains("refusing", error.Message);
    }

    [Fact]
    public void ViewsAreInvalidAfterDispose()
    {
        var checkpoint = TorchCheckpoint.Open(TorchFixtures.Path("dtypes.pth"));
        checkpoint.Dispose();
        checkpoint.Dispose(); // idempotent
        Assert.Throws<ObjectDisposedException>(() => checkpoint.Get("f32"));
    }

    private static unsafe long AddressOf(HostTensor t) => (long)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.Data.Span));
    private static long ByteDistance(HostTensor from, HostTensor to) => AddressOf(to) - AddressOf(from);
}
