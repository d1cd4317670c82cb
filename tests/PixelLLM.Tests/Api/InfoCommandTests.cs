using PixelLLM.Cli;

namespace PixelLLM.Tests.Api;

/// <summary><c>pixelllm info</c>'s first line says which build runs: a NativeAOT one has its vector paths fixed at compile time.</summary>
public sealed class InfoCommandTests
{
    [Fact]
    public void TheFirstLineNamesTheVersionRuntimeAndBuild()
    {
        var output = new StringWriter();
        InfoCommand.Print(output);
        var first = output.ToString().Split('\n')[0];
        // The test host runs under the JIT; ./pixelllm's NativeAOT build prints "native (NativeAOT)" there instead.
        Assert.Matches(@"^pixelllm \S+ on \.NET \d+\.\d+\.\d+ \([a-z0-9-]+, JIT\), \d+ cores$", first);
    }
}
