using PixelLLM.Runtime;
using PixelLLM.Runtime.Checkpoints;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>Each rejection rule of the checkpoint reader, with a message naming the file, the tree path and the problem.</summary>
public class ScenicCheckpointMalformedTests
{
    private static readonly NdArray F32x2 = ScenicCheckpointSamples.F32x2;

    /// <summary>Opens <paramref name="bytes"/> and requires a ScenicCheckpointException naming the file and each of <paramref name="parts"/>.</summary>
    private static ScenicCheckpointException Rejects(byte[] bytes, params string[] parts)
    {
        using var dir = new TempDirectory();
        var path = dir.File("checkpoint_7");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<ScenicCheckpointException>(() => ScenicCheckpoint.Open(path).Dispose());
        Assert.IsAssignableFrom<ModelFileException>(e);
        Assert.Contains(path, e.Message);
        foreach (var part in parts) Assert.Contains(part, e.Message);
        return e;
    }

    private static ScenicCheckpointException RejectsParams(object? parameters, params string[] parts) =>
        Rejects(ScenicCheckpointSamples.WithParams(parameters), parts);

    /// <summary>Params {'m': {'w': ext 1 with <paramref name="payload"/>}}.</summary>
    private static byte[] WithArrayPayload(MsgPackBuilder payload, sbyte type = 1)
    {
        var b = new MsgPackBuilder().Map(1).Str("params").Map(1).Str("m").Map(1).Str("w");
        return b.ExtHeader(type, payload.Length).Raw(payload.ToArray()).ToArray();
    }

    [Fact]
    public void EmptyFile() => Rejects([], "empty");

    [Theory]
    [InlineData(new byte[] { 0x90 }, "must be a msgpack map")]
    [InlineData(new byte[] { 0x05 }, "must be a msgpack map")]
    [InlineData(new byte[] { 0xC1 }, "0xc1")]
    [InlineData(new byte[] { 0x80, 0x00 }, "bytes follow")]
    [InlineData(new byte[] { 0x80 }, "no 'params'")]
    public void TopLevel(byte[] bytes, string part) => Rejects(bytes, part);

    [Fact]
    public void NoParamsNamesTheTopLevelKeys() =>
        Rejects(FlaxStateWriter.Serialize(new FlaxMap { { "opt_state", new FlaxMap() }, { "rng", 1 } }), "no 'params'", "[opt_state, rng]");

    [Fact]
    public void OptimizerWithoutTarget() =>
        Rejects(FlaxStateWriter.Serialize(new FlaxMap { { "optimizer", new FlaxMap { { "state", 1 } } } }), "optimizer", "no 'target'");

    [Theory]
    [InlineData(5)]
    [InlineData("text")]
    [InlineData(true)]
    public void ParamsNotAMap(object value) => RejectsParams(value, "at params:", "must be a map");

    [Theory]
    [InlineData(1)]
    [InlineData(2.5)]
    [InlineData("s")]
    [InlineData(false)]
    [InlineData(null)]
    public void LeafNotAnArray(object? leaf) =>
        RejectsParams(new FlaxMap { { "enc", new FlaxMap { { "w", leaf } } } }, "at params/enc/w:", "must be an array");

    [Fact]
    public void LeafIsAMsgPackArray() =>
        RejectsParams(new FlaxMap { { "w", new object[] { 1, 2 } } }, "at params/w:", "an array of 2 elements");

    [Fact]
    public void NonStringKey() =>
        Rejects(new MsgPackBuilder().Map(1).Str("params").Map(1).Str("enc").Map(1).Int(3).Nil().ToArray(), "at params/enc:", "key must be a string", "the integer 3");

    [Fact]
    public void DuplicateKey() =>
        RejectsParams(new FlaxMap { { "w", F32x2 }, { "w", F32x2 } }, "at params:", "'w' more than once");

    [Fact]
    public void KeyNotUtf8() =>
        Rejects(new MsgPackBuilder().Map(1).Str("params").Map(1).StrBytes([0xC3, 0x28]).Map(0).ToArray(), "not valid UTF-8");

    [Fact]
    public void FlattenedNamesCollide() =>
        RejectsParams(new FlaxMap { { "a", new FlaxMap { { "b", F32x2 } } }, { "a/b", F32x2 } }, "same name 'a/b'");

    [Theory]
    [InlineData(2, "complex")]
    [InlineData(5, "ext type 5")]
    [InlineData(-1, "ext type -1")]
    public void ExtTypeNotAnArray(int type, string part) =>
        RejectsParams(new FlaxMap { { "w", F32x2 with { ExtType = (sbyte)type } } }, "at params/w:", part);

    [Fact]
    public void NumpyScalarWithAShape() =>
        RejectsParams(new FlaxMap { { "w", F32x2 with { ExtType = 3 } } }, "at params/w:", "must have shape ()");

    [Theory]
    [InlineData("float64")]
    [InlineData("uint32")]
    [InlineData("bool")]
    [InlineData("complex64")]
    public void UnsupportedDTypeNamesTheTensor(string dtype) =>
        RejectsParams(new FlaxMap { { "textual", new FlaxMap { { "w", NdArray.Random(new Random(1), dtype, 2) } } } },
            "at params/textual/w:", $"dtype '{dtype}' is not supported");

    public static TheoryData<string, byte[], string> BadPayloads => new()
    {
        { "not an array", new MsgPackBuilder().Map(0).ToArray(), "[shape, dtype, data]" },
        { "two elements", new MsgPackBuilder().Array(2).Array(0).Str("float32").ToArray(), "[shape, dtype, data]" },
        { "shape not an array", new MsgPackBuilder().Array(3).Int(2).Str("float32").Bin(new byte[8]).ToArray(), "shape must be an array" },
        { "negative dim", new MsgPackBuilder().Array(3).Array(1).Int(-2).Str("float32").Bin(new byte[8]).ToArray(), "the integer -2" },
        { "dim over int", new MsgPackBuilder().Array(3).Array(1).UInt(1UL << 31).Str("float32").Bin(new byte[8]).ToArray(), "2147483648" },
        { "dim a float", new MsgPackBuilder().Array(3).Array(1).Float64(2).Str("float32").Bin(new byte[8]).ToArray(), "a float" },
        { "rank 65", Rank65(), "65 dimensions" },
        { "dtype not a string", new MsgPackBuilder().Array(3).Array(1).Int(2).Int(0).Bin(new byte[8]).ToArray(), "dtype name must be a string" },
        { "data not bin", new MsgPackBuilder().Array(3).Array(1).Int(2).Str("float32").Str("abcdefgh").ToArray(), "data must be a bin" },
        { "data short", new MsgPackBuilder().Array(3).Array(1).Int(2).Str("float32").Bin(new byte[7]).ToArray(), "needs 8 bytes but the array's data has 7" },
        { "data long", new MsgPackBuilder().Array(3).Array(1).Int(2).Str("float32").Bin(new byte[9]).ToArray(), "needs 8 bytes but the array's data has 9" },
        { "product overflows", new MsgPackBuilder().Array(3).Array(3).Int(int.MaxValue).Int(int.MaxValue).Int(int.MaxValue).Str("float32").Bin(new byte[4]).ToArray(), "more than 2^63" },
        { "trailing bytes", new MsgPackBuilder().Array(3).Array(1).Int(2).Str("float32").Bin(new byte[8]).Nil().ToArray(), "1 unexpected bytes follow" },
        { "inner bin past payload", new MsgPackBuilder().Array(3).Array(1).Int(2).Str("float32").BinHeader(8).Raw(new byte[4]).ToArray(), "runs past the end" },
        { "empty payload", [], "should start" },
    };

    private static byte[] Rank65()
    {
        var b = new MsgPackBuilder().Array(3).Array(65);
        for (int i = 0; i < 65; i++) b.Int(1);
        return b.Str("float32").Bin(new byte[4]).ToArray();
    }

    [Theory]
    [MemberData(nameof(BadPayloads))]
    public void BadArrayPayload(string what, byte[] payload, string part)
    {
        Assert.NotNull(what);
        var b = new MsgPackBuilder().Raw(payload);
        Rejects(WithArrayPayload(b), "at params/m/w:", part);
    }

    [Fact]
    public void ArrayDataPastTheEndOfItsPayload()
    {
        var payload = new MsgPackBuilder().Array(3).Array(1).Int(int.MaxValue).Str("uint8").BinHeader(int.MaxValue);
        Rejects(WithArrayPayload(payload), "at params/m/w:", "runs past the end");
    }

    public static TheoryData<string, byte[], string> AbsurdLengths => new()
    {
        { "map32 count", new MsgPackBuilder().Map(1).Str("params").Map(uint.MaxValue, 4).ToArray(), "claims 4294967295 entries" },
        { "array32 count", new MsgPackBuilder().Map(1).Str("opt_state").Array(uint.MaxValue, 4).ToArray(), "claims 4294967295 elements" },
        { "str32 length", new MsgPackBuilder().Map(1).Raw([0xDB, 0xFF, 0xFF, 0xFF, 0xF0]).ToArray(), "string of 4294967280 bytes" },
        { "bin32 length", new MsgPackBuilder().Map(1).Str("rng").BinHeader(uint.MaxValue, 4).ToArray(), "bin of 4294967295 bytes" },
        { "ext32 length", new MsgPackBuilder().Map(1).Str("params").Map(1).Str("w").ExtHeader(1, uint.MaxValue, 4).ToArray(), "4294967295 bytes runs past" },
        { "str16 key over limit", new MsgPackBuilder().Map(1).Str(new string('k', 70000)).Nil().ToArray(), "limit for keys" },
        { "header cut", new byte[] { 0x81, 0xA6, (byte)'p', (byte)'a', (byte)'r', (byte)'a', (byte)'m', (byte)'s', 0xDE, 0x00 }, "ends inside a msgpack header" },
        { "uint64 dim", WithArrayPayload(new MsgPackBuilder().Array(3).Array(1).UInt(ulong.MaxValue).Str("float32").Bin(new byte[4])), "18446744073709551615" },
    };

    [Theory]
    [MemberData(nameof(AbsurdLengths))]
    public void AbsurdLength(string what, byte[] bytes, string part)
    {
        Assert.NotNull(what);
        Rejects(bytes, part);
    }

    [Fact]
    public void DeepNestingInParams()
    {
        object? tree = F32x2;
        for (int i = 0; i < 100; i++) tree = new FlaxMap { { "n", tree } };
        RejectsParams(tree, "nested more than 64 levels");
    }

    [Fact]
    public void DeepNestingInASkippedSubtreeDoesNotOverflowTheStack()
    {
        var b = new MsgPackBuilder().Map(2).Str("opt_state");
        for (int i = 0; i < 1_000_000; i++) b.Array(1);
        b.Nil().Str("params").Map(0);
        Rejects(b.ToArray(), "at opt_state/0/0/0/0/", "…", "nested more than 64 levels");
    }

    public static TheoryData<string, object, string> BadChunkedArrays
    {
        get
        {
            var chunk = new NdArray("float32", [2], new byte[8]);
            FlaxMap Chunked(object? marker, object? shape, object? chunks) =>
                new() { { "__msgpack_chunked_array__", marker }, { "shape", shape }, { "chunks", chunks } };
            return new()
            {
                { "marker false", Chunked(false, FlaxMap.Tuple(4), FlaxMap.Tuple(chunk, chunk)), "must be true" },
                { "marker int", Chunked(1, FlaxMap.Tuple(4), FlaxMap.Tuple(chunk, chunk)), "must be true" },
                { "no shape", new FlaxMap { { "__msgpack_chunked_array__", true }, { "chunks", FlaxMap.Tuple(chunk) } }, "no 'shape'" },
                { "no chunks", new FlaxMap { { "__msgpack_chunked_array__", true }, { "shape", FlaxMap.Tuple(2) } }, "no 'chunks'" },
                { "extra field", new FlaxMap { { "__msgpack_chunked_array__", true }, { "shape", FlaxMap.Tuple(2) }, { "chunks", FlaxMap.Tuple(chunk) }, { "dtype", "f" } }, "unexpected field 'dtype'" },
                { "zero chunks", Chunked(true, FlaxMap.Tuple(0), new FlaxMap()), "no chunks" },
                { "size mismatch", Chunked(true, FlaxMap.Tuple(5), FlaxMap.Tuple(chunk, chunk)), "needs 20 bytes but the chunks hold 16" },
                { "dtype mismatch", Chunked(true, FlaxMap.Tuple(3), FlaxMap.Tuple(chunk, new NdArray("int32", [1], new byte[4]))), "chunk 1 is I32" },
                { "chunk not flat", Chunked(true, FlaxMap.Tuple(2), FlaxMap.Tuple(new NdArray("float32", [1, 2], new byte[8]))), "flat (1-d)" },
                { "chunk not an array", Chunked(true, FlaxMap.Tuple(2), FlaxMap.Tuple(5)), "must be an array" },
                { "chunk key gap", Chunked(true, FlaxMap.Tuple(4), new FlaxMap { { "0", chunk }, { "2", chunk } }), "key '2'" },
                { "chunk key not canonical", Chunked(true, FlaxMap.Tuple(4), new FlaxMap { { "0", chunk }, { "01", chunk } }), "key '01'" },
                { "shape not a tuple", Chunked(true, 4, FlaxMap.Tuple(chunk)), "a Flax tuple" },
                { "shape dim negative", Chunked(true, FlaxMap.Tuple(-4), FlaxMap.Tuple(chunk)), "the integer -4" },
            };
        }
    }

    [Theory]
    [MemberData(nameof(BadChunkedArrays))]
    public void BadChunkedArray(string what, object chunked, string part)
    {
        Assert.NotNull(what);
        RejectsParams(new FlaxMap { { "big", chunked } }, "at params/big", part);
    }

    [Fact]
    public void ErrorInsideOptStateIsReportedThere()
    {
        var b = new MsgPackBuilder().Map(2).Str("opt_state").Map(1).Str("mu").Map(1).Str("w").BinHeader(100).Raw(new byte[3]);
        Rejects(b.ToArray(), "at opt_state/mu/w:", "runs past the end");
    }
}
