using PixelLLM.Runtime;
using PixelLLM.Runtime.SafeTensors;

namespace PixelLLM.Tests;

/// <summary>Each malformed-file rule of the reader, with the message naming the file and what was wrong.</summary>
public class SafeTensorsMalformedTests
{
    private const string F32x2At0 = """{"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}""";

    /// <summary>Opens <paramref name="bytes"/> from a file and requires a SafeTensorsException naming the file and <paramref name="parts"/>.</summary>
    private static SafeTensorsException Rejects(byte[] bytes, params string[] parts)
    {
        using var dir = new TempDirectory();
        var path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.IsAssignableFrom<ModelFileException>(e);
        Assert.Contains(path, e.Message);
        foreach (var part in parts) Assert.Contains(part, e.Message);
        return e;
    }

    private static SafeTensorsException Rejects(string header, int dataBytes, params string[] parts) =>
        Rejects(SafeTensorsBytes.Build(header, dataBytes), parts);

    private static SafeTensorsFile Accepts(string header, int dataBytes, TempDirectory dir)
    {
        var path = dir.File("ok.safetensors");
        File.WriteAllBytes(path, SafeTensorsBytes.Build(header, dataBytes));
        return SafeTensorsFile.Open(path);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void FileShorterThanLengthPrefix(int length) => Rejects(new byte[length], "shorter than the 8-byte");

    [Fact]
    public void HeaderLengthPastEndOfFile() => Rejects(SafeTensorsBytes.Build("{}", 0, lengthPrefix: 100), "header length 100", "past the end");

    [Theory]
    [InlineData(100_000_001UL)]
    [InlineData(ulong.MaxValue)]
    [InlineData(1UL << 63)]
    public void HeaderLengthOverSaneBound(ulong length) => Rejects(SafeTensorsBytes.Build("{}", 0, length), "limit");

    [Fact]
    public void HeaderNotUtf8() => Rejects(SafeTensorsBytes.Build(new byte[] { (byte)'{', 0xC3, 0x28, (byte)'}' }, 0), "UTF-8");

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("""{"a": """ + F32x2At0)] // unterminated
    [InlineData("""{"a": }""")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},}""")] // trailing comma
    [InlineData("""{'a': 1}""")]
    [InlineData("""/* comment */ {}""")]
    [InlineData("""{} {}""")]
    [InlineData("""{}x""")]
    [InlineData("{}\0\0\0\0\0\0")] // NUL padding instead of spaces
    public void HeaderNotValidJson(string header) => Rejects(header, 8);

    [Theory]
    [InlineData("[]")]
    [InlineData("\"text\"")]
    [InlineData("3")]
    [InlineData("null")]
    public void HeaderNotAnObject(string header) => Rejects(header, 0, "must be a JSON object");

    [Theory]
    [InlineData("""{"a": [0, 8]}""")]
    [InlineData("""{"a": "F32"}""")]
    [InlineData("""{"a": null}""")]
    [InlineData("""{"a": 1}""")]
    public void EntryNotAnObject(string header) => Rejects(header, 8, "'a'", "dtype, shape and data_offsets");

    [Theory]
    [InlineData("""{"a": {"shape": [2], "data_offsets": [0, 8]}}""", "missing field 'dtype'")]
    [InlineData("""{"a": {"dtype": "F32", "data_offsets": [0, 8]}}""", "missing field 'shape'")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [2]}}""", "missing field 'data_offsets'")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "extra": 1}}""", "unexpected field 'extra'")]
    [InlineData("""{"a": {"dtype": "F32", "dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}""", "more than once")]
    [InlineData("""{"a": {"dtype": 4, "shape": [2], "data_offsets": [0, 8]}}""", "dtype must be a string")]
    [InlineData("""{"a": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}}""", "shape must be a JSON array")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": {"begin": 0}}}""", "data_offsets must be a JSON array")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}""", "exactly two")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8, 8]}}""", "exactly two")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, "8"]}}""", "non-negative integers")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}}""", "non-negative integers")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8.0]}}""", "non-negative integers")]
    public void EntryFieldsWrong(string header, string expected) => Rejects(header, 8, "'a'", expected);

    [Theory]
    [InlineData("F64")]
    [InlineData("f32")]
    [InlineData("BOOL")]
    [InlineData("")]
    public void UnknownDtype(string dtype) =>
        Rejects($$$"""{"a": {"dtype": "{{{dtype}}}", "shape": [2], "data_offsets": [0, 8]}}""", 8, "'a'", $"'{dtype}'", "expected one of");

    [Theory]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("2.0")]
    [InlineData("1e3")]
    [InlineData("\"2\"")]
    [InlineData("null")]
    [InlineData("[2]")]
    [InlineData("2147483648")]
    [InlineData("99999999999999999999999")]
    public void BadDimension(string dim) =>
        Rejects($$$"""{"a": {"dtype": "U8", "shape": [{{{dim}}}], "data_offsets": [0, 2]}}""", 2, "'a'", "shape dimension 0");

    [Fact]
    public void RankOverLimit()
    {
        var shape = string.Join(", ", Enumerable.Repeat(1, 65));
        Rejects($$$"""{"a": {"dtype": "U8", "shape": [{{{shape}}}], "data_offsets": [0, 1]}}""", 1, "'a'", "more than 64");
    }

    [Fact]
    public void ByteSizeOverflow() =>
        Rejects("""{"a": {"dtype": "I64", "shape": [2147483647, 2147483647, 2147483647], "data_offsets": [0, 8]}}""", 8,
            "'a'", "64 bits");

    [Fact]
    public void ShapeDoesNotMatchByteCount() =>
        Rejects("""{"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}}""", 24, "'a'", "needs 24 bytes", "hold 20");

    [Fact]
    public void BeginAfterEnd() =>
        Rejects("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}}""", 8, "'a'", "begin after end");

    [Theory]
    [InlineData(0UL, 8UL)]
    [InlineData(4UL, 8UL)]
    [InlineData(18446744073709551611UL, 18446744073709551615UL)]
    [InlineData(9223372036854775807UL, 9223372036854775811UL)]
    public void OffsetsPastDataSection(ulong begin, ulong end) =>
        Rejects($$$"""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [{{{begin}}}, {{{end}}}]}}""", 6, "'a'", "past the data section", "6 bytes");

    [Fact]
    public void OverlappingRanges() =>
        Rejects("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}""",
            16, "'b'", "'a'", "overlap");

    [Fact]
    public void IdenticalRangesOverlap() =>
        Rejects("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "I32", "shape": [2], "data_offsets": [0, 8]}}""",
            8, "overlap");

    [Fact]
    public void DuplicateTensorName() =>
        Rejects($$$"""{"a": {{{F32x2At0}}}, "a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}""", 16, "'a'", "more than once");

    [Fact]
    public void DuplicateMetadataKey() =>
        Rejects("""{"__metadata__": {"k": "1", "k": "2"}}""", 0, "'k'", "more than once");

    [Fact]
    public void DuplicateMetadataSection() =>
        Rejects("""{"__metadata__": {}, "__metadata__": {}}""", 0, "__metadata__", "more than once");

    [Theory]
    [InlineData("\"text\"")]
    [InlineData("[]")]
    [InlineData("""{"k": 1}""")]
    [InlineData("""{"k": null}""")]
    [InlineData("""{"k": {"nested": "x"}}""")]
    [InlineData("""{"k": ["x"]}""")]
    public void MetadataNotAStringMap(string metadata) =>
        Rejects($$$"""{"__metadata__": {{{metadata}}}}""", 0, "__metadata__", "strings to strings");

    // ---- what is deliberately accepted ------------------------------------------------------------------------

    [Fact]
    public void ZeroLengthTensorsMayPointAnywhereInsideTheData()
    {
        using var dir = new TempDirectory();
        using var file = Accepts(
            $$$"""{"a": {{{F32x2At0}}}, "z": {"dtype": "F32", "shape": [3, 0], "data_offsets": [4, 4]}, "e": {"dtype": "U8", "shape": [0], "data_offsets": [8, 8]}}""",
            8, dir);
        Assert.Equal(0, file["z"].Data.Length);
        Assert.Equal(new Shape(3, 0), file["z"].Shape);
        Assert.Equal(0, file["e"].Data.Length);
    }

    [Fact]
    public void UnpaddedHeadersAnyWhitespaceNullMetadataAndFieldOrderAreAccepted()
    {
        using var dir = new TempDirectory();
        using var file = Accepts(
            "\n{ \"__metadata__\" : null ,\r\n\t\"b\": {\"data_offsets\": [8,12], \"shape\": [], \"dtype\": \"I32\"},\"a\":" + F32x2At0 + "}\t\n ",
            12, dir);
        Assert.Equal(new[] { "b", "a" }, file.Names);
        Assert.Empty(file.Metadata);
        Assert.Equal(new byte[] { 8, 9, 10, 11 }, file["b"].Data.ToArray());
    }

    [Fact]
    public void UnusedBytesBetweenAndAfterTensorsAreTolerated()
    {
        // Stricter readers reject holes; this one only needs every range to be inside the file and disjoint.
        using var dir = new TempDirectory();
        using var file = Accepts("""{"a": {"dtype": "U8", "shape": [2], "data_offsets": [3, 5]}}""", 16, dir);
        Assert.Equal(new byte[] { 3, 4 }, file["a"].Data.ToArray());
    }
}
