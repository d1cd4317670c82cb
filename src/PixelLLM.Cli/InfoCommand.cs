using System.CommandLine;
using System.Reflection;
using System.Runtime.Intrinsics.X86;

namespace PixelLLM.Cli;

internal static class InfoCommand
{
    public static Command Create()
    {
        var command = new Command("info", "Build, CPU features and which backends and GPU libraries were found");
        command.SetAction(_ =>
        {
            var version = Assembly.GetExecutingAssembly().GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?";
            Console.WriteLine($"pixelllm {version} on .NET {Environment.Version}, {Environment.ProcessorCount} cores");
            Console.WriteLine($"cpu backend: fp32, AVX2={Avx2.IsSupported} FMA={Fma.IsSupported} AVX-512F={Avx512F.IsSupported}");
            return 0;
        });
        return command;
    }
}
