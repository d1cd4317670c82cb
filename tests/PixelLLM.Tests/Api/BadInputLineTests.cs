using PixelLLM.Cli;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Api;

/// <summary>
/// Inputs an audit of the CLI found accepted, crashing or reported under another name: each is now one line naming what the
/// user gave, with exit code 2.
/// </summary>
public sealed class BadInputLineTests(TinyModel tiny, RefsegModel refseg) : IClassFixture<TinyModel>, IClassFixture<RefsegModel>
{
    private static string Png => Path.Combine(TinyModel.GoldenDir, "caption_trace.png");

    private static string Line(string error) => Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));

    /// <summary>"▁" is SentencePiece's own space: no word, as refer already said; segment read it as "where is ".</summary>
    [Fact]
    public void AnExpressionOfNoWordIsRefusedBySegmentAsByRefer()
    {
        var (code, error) = CliInProcess.Run("segment", refseg.ImagePath, "▁", "--model", refseg.Directory);
        Assert.Equal(2, code);
        Assert.Contains("yields no SentencePiece token", Line(error));
        (code, error) = CliInProcess.Run("refer", refseg.ImagePath, "▁", "--model", refseg.Directory);
        Assert.Equal(2, code);
        Assert.Contains("yields no SentencePiece token", Line(error));
    }

    [Theory]
    [InlineData(",", "--stages: no stage named in ','")]
    [InlineData(" , ", "--stages: no stage named in ' , '")]
    public void ABenchOfNoStageIsRefused(string stages, string expected)
    {
        var (code, error) = CliInProcess.Run("bench", "--config", "pixelllm-tiny", "--random-weights", "--stages", stages);
        Assert.Equal(2, code);
        Assert.Contains(expected, Line(error));
    }

    /// <summary>init and convert check the directory under a temporary name; the error names the file the user gave.</summary>
    [Fact]
    public void ABadTokenizerIsNamedAsGivenNotByItsTemporaryCopy()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"pixelllm-init-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var tokenizer = Path.Combine(dir, "garbage.model");
            File.WriteAllText(tokenizer, "garbage");
            var (code, error) = CliInProcess.Run("init", "--config", "pixelllm-tiny", "--out", Path.Combine(dir, "model"), "--tokenizer", tokenizer);
            Assert.Equal(2, code);
            var line = Line(error);
            Assert.Contains($"'{tokenizer}'", line);
            Assert.DoesNotContain(".tmp", line);
            Assert.Equal([tokenizer], Directory.GetFileSystemEntries(dir));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void AnEmptyImagePathIsABadRequestNotAnInternalError()
    {
        var answer = tiny.Model.Answer("""{"task":"caption","image":""}""");
        Assert.Contains("\"kind\":\"invalid_input\"", answer);
        Assert.Contains("image path is empty", answer);
        var (code, error) = CliInProcess.Run("init", "--config", "pixelllm-tiny", "--out", "");
        Assert.Equal(2, code);
        Assert.Contains("empty", Line(error));
    }

    /// <summary>Weights of NaN gave "score NaN" and boxes the JSON wrote as null; now the request fails naming the output.</summary>
    [Fact]
    public void NonFiniteWeightsFailTheRequestInsteadOfReturningNaN()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"pixelllm-nan-{Guid.NewGuid():N}");
        try
        {
            TinyModel.Create(dir);
            var weights = Path.Combine(dir, "model.safetensors");
            var bytes = File.ReadAllBytes(weights);
            long headerLength = BitConverter.ToInt64(bytes, 0);
            using (var header = System.Text.Json.JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength)))
                foreach (var tensor in header.RootElement.EnumerateObject().Where(t => t.Name != "__metadata__" && t.Value.GetProperty("dtype").GetString() == "F32"))
                {
                    var offsets = tensor.Value.GetProperty("data_offsets");
                    for (long i = 8 + headerLength + offsets[0].GetInt64(); i < 8 + headerLength + offsets[1].GetInt64(); i += 4)
                        BitConverter.TryWriteBytes(bytes.AsSpan((int)i, 4), float.NaN);
                }
            File.WriteAllBytes(weights, bytes);
            using var model = PixelLlmModel.Load(dir);
            var image = TinyModel.Image("caption_trace");
            var caption = Assert.Throws<PixelLLM.Runtime.ModelFileException>(() => model.Caption(image));
            Assert.StartsWith("the model's decode scores came out NaN", caption.Message);
            var refer = Assert.Throws<PixelLLM.Runtime.ModelFileException>(() => model.Refer(image, "a dog"));
            Assert.StartsWith("the model's trace points came out NaN", refer.Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Theory]
    [InlineData("Cannot parse argument 'x' for option '--threads' as expected type 'System.Int32'.", "Cannot parse argument 'x' for option '--threads' as an integer (from -2147483648 to 2147483647).")]
    [InlineData("Cannot parse argument '9e99' for option '--beams' as expected type 'System.Nullable`1[System.Int32]'.", "Cannot parse argument '9e99' for option '--beams' as an integer (from -2147483648 to 2147483647).")]
    [InlineData("Cannot parse argument 'q' for option '--min-gain' as expected type 'System.Double'.", "Cannot parse argument 'q' for option '--min-gain' as a number.")]
    public void ParserMessagesNameTypesInWords(string message, string expected) => Assert.Equal(expected, CliRoot.Plain(message));

    /// <summary>A file padded far past any image of the pixel limit is refused from its size, before it is read.</summary>
    [Fact]
    public void AnImageFileLargerThanAnyImageOfThePixelLimitIsRefusedUnread()
    {
        var path = Path.Combine(Path.GetTempPath(), $"pixelllm-padded-{Guid.NewGuid():N}.png");
        try
        {
            File.Copy(Png, path);
            using (var stream = new FileStream(path, FileMode.Open)) stream.SetLength(1L << 30); // sparse: no gigabyte is written
            var error = Assert.Throws<PixelLLM.Runtime.InvalidInputException>(() => PixelImage.Load(path, maxPixels: 1_000_000));
            Assert.Equal($"{path}: {1L << 30} bytes, more than any image of at most 1000000 pixels can take ({(1L << 26) + 8_000_000})", error.Message);
        }
        finally { File.Delete(path); }
    }
}
