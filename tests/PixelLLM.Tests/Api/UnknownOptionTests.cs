using System.CommandLine;
using PixelLLM.Cli;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Api;

/// <summary>
/// An option a request command does not have lands among its image or text arguments; it is named as an unknown option
/// (exit 2, before any model is loaded), not read as an image called "--storage" or referred to as an expression.
/// </summary>
public class UnknownOptionTests
{
    private static string Png => Path.Combine(TinyModel.GoldenDir, "caption_trace.png");

    [Theory]
    [InlineData("caption", "--storage")]
    [InlineData("caption", "-x")]
    [InlineData("densecap", "--storage")]
    public void AnImageArgumentThatLooksLikeAnOptionIsNamed(string command, string token)
    {
        var e = Assert.Throws<InvalidInputException>(() => RequestOptionsCli.NotAnOption(token, command));
        Assert.Contains($"{token}: pixelllm {command} has no such option", e.Message);
        Assert.Equal(Png, RequestOptionsCli.NotAnOption(Png, command));
        Assert.Equal("-", RequestOptionsCli.NotAnOption("-", command));
    }

    [Fact]
    public void AnExpressionStartingWithTwoDashesIsNamedAndOneDashIsText()
    {
        var e = Assert.Throws<InvalidInputException>(() => RequestOptionsCli.NotOptions(["the dog", "--nope"], "refer"));
        Assert.Contains("--nope: pixelllm refer has no such option", e.Message);
        Assert.Equal(["the dog", "-shaped thing"], RequestOptionsCli.NotOptions(["the dog", "-shaped thing"], "refer"));
    }

    [Theory]
    [InlineData("caption", "--storage", "bf16")]
    [InlineData("refer", "a dog", "--nope")]
    [InlineData("segment", "a dog", "--nope")]
    public void TheCommandsExitWithBadInputBeforeLoadingAModel(string command, string first, string second)
    {
        var missingModel = Path.Combine(Path.GetTempPath(), $"pixelllm-no-model-{Guid.NewGuid():N}");
        // With no model at that path, reaching the model would fail too (also with 2): the message tells which check ran.
        var (code, error) = CliInProcess.Run(command, Png, first, second, "--model", missingModel);
        Assert.Equal(2, code);
        Assert.Contains("has no such option", error);
    }
}
