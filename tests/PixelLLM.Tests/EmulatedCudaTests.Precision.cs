using PixelLLM.Runtime;
using PixelLLM.Tests.Support;
using PixelLLM.WeightsTools;

namespace PixelLLM.Tests;

/// <summary>
/// <c>--precision</c> on the request commands with <c>--backend cuda</c>: what a user's bf16 model directory runs on a GPU
/// (Linear weights declared bf16, every f32 tensor stored bf16: the configuration the benchmarks time) and f16.
/// </summary>
public partial class EmulatedCudaTests
{
    private static string Sample => System.IO.Path.Combine(RepoRoot.Path, "samples", "scene_2000001.png");

    [Theory]
    [InlineData("f32")]
    [InlineData("bf16")]
    [InlineData("f16")]
    public void TheBundledModelsCaptionOnTheDeviceIsTheCpusAtEveryPrecision(string precision)
    {
        var cpu = Run(Cli, ["caption", Sample], emulator.Environment, TimeSpan.FromMinutes(2));
        Assert.True(cpu.ExitCode == 0, Tail(cpu.Output));
        var device = Run(Cli, ["caption", Sample, "--backend", "cuda", "--precision", precision], emulator.Isolated, TimeSpan.FromMinutes(10));
        output.WriteLine(Tail(device.Output));
        Assert.True(device.ExitCode == 0, $"caption --backend cuda --precision {precision} failed on the emulator:\n{Tail(device.Output)}");
        Assert.Equal(cpu.Output.Split('\n')[0], device.Output.Split('\n')[0]);
    }

    /// <summary>
    /// A directory stored in bf16 runs in bf16 on the device by default (its Linear weights reach the kernels as bf16, which
    /// the profile's shapes show) through every task command of every model kind, and in f32 when asked.
    /// </summary>
    [Theory]
    [InlineData("pixelllm_refseg/referring_segmentation", "segment", "cat")]
    [InlineData("pixelllm_densecap/densecap", "densecap", null)]
    [InlineData("pixelllm_git/loca_caption", "caption", "--box 3,4,60,50")]
    [InlineData("pixelllm/referring", "refer", "red")]
    public void ABf16DirectoryRunsInBf16OnTheDeviceThroughTheTaskCommands(string goldenCase, string command, string? argument)
    {
        using var temp = new TempDirectory();
        var dir = temp.File("model");
        RandomModel.Write(ModelConfigSource.Resolve(System.IO.Path.Combine(Golden.Root, goldenCase + ".json")), dir, seed: 5, DType.BF16, null);
        string[] request = [command, System.IO.Path.Combine(Golden.Root, goldenCase + ".png"), .. argument?.Split(' ') ?? [],
            "--model", dir, "--backend", "cuda"];

        var auto = Run(Cli, [.. request, "--profile"], emulator.Isolated, TimeSpan.FromMinutes(10));
        output.WriteLine(Tail(auto.Output));
        Assert.True(auto.ExitCode == 0, $"{command} on a bf16 directory failed on the emulator:\n{Tail(auto.Output)}");
        Assert.Contains("BF16(", auto.Output);
        var f32 = Run(Cli, [.. request, "--precision", "f32", "--profile"], emulator.Isolated, TimeSpan.FromMinutes(10));
        Assert.True(f32.ExitCode == 0, $"{command} --precision f32 failed on the emulator:\n{Tail(f32.Output)}");
        Assert.DoesNotContain("BF16(", f32.Output);
    }
}
