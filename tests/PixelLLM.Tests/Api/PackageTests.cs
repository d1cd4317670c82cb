using System.Text.RegularExpressions;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Api;

/// <summary>
/// The NuGet packages: `dotnet pack` on the solution gives PixelLLM.Native and the four libraries it depends on, and a
/// fresh console app that references PixelLLM.Native from that folder builds and runs the package readme's own sample,
/// printing what the library prints in this process.
/// </summary>
public sealed partial class PackageTests : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("pixelllm-package-").FullName;

#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    [Fact]
    public void TheReadmeSampleRunsAgainstThePackedLibraries()
    {
        var feed = Path.Combine(work, "feed");
        var pack = Dotnet(["pack", Path.Combine(RepoRoot.Path, "PixelLLM.Native.sln"), "-c", Configuration, "--no-build", "-o", feed], RepoRoot.Path);
        Assert.True(pack.ExitCode == 0, $"dotnet pack failed:\n{ChildProcess.Tail(pack.Output)}");
        var packages = Directory.GetFiles(feed, "*.nupkg").Select(Path.GetFileName).Order().ToList();
        var version = Assert.Single(packages, p => p!.StartsWith("PixelLLM.Native.", StringComparison.Ordinal))!["PixelLLM.Native.".Length..^".nupkg".Length];
        Assert.Equal(new[] { "PixelLLM.Backends.Cpu", "PixelLLM.Backends.Cuda", "PixelLLM.Models", "PixelLLM.Native", "PixelLLM.Runtime" }
            .Select(id => $"{id}.{version}.nupkg"), packages);

        var model = Path.Combine(RepoRoot.Path, "models", "default");
        var image = Path.Combine(RepoRoot.Path, "samples", "scene_2000001.png");
        var sample = ReadmeSample().Match(File.ReadAllText(Path.Combine(RepoRoot.Path, "src", "PixelLLM", "package-readme.md")));
        Assert.True(sample.Success, "package-readme.md has no ```csharp sample");
        Assert.Contains("\"path/to/model\"", sample.Groups[1].Value);
        Assert.Contains("\"photo.jpg\"", sample.Groups[1].Value);
        var app = Path.Combine(work, "app");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "Program.cs"),
            sample.Groups[1].Value.Replace("\"path/to/model\"", Quote(model)).Replace("\"photo.jpg\"", Quote(image)));
        File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="PixelLLM.Native" Version="{version}" />
              </ItemGroup>
            </Project>
            """);
        // Packages restore into a folder of their own (a stale PixelLLM.Native of the same version elsewhere is never
        // taken); everything else comes from the machine's package folder, as the repository's own restore left it.
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config><add key="globalPackagesFolder" value="{Path.Combine(work, "packages")}" /></config>
              <fallbackPackageFolders><add key="machine" value="{MachinePackages()}" /></fallbackPackageFolders>
              <packageSources><add key="pixelllm" value="{feed}" /></packageSources>
            </configuration>
            """);
        var run = Dotnet(["run", "-c", "Release"], app);
        Assert.True(run.ExitCode == 0, $"the readme sample failed against the packages:\n{ChildProcess.Tail(run.Output)}");

        using var direct = PixelLlmModel.Load(model, new PixelLlmOptions { Backend = ComputeBackend.Cpu });
        var picture = direct.LoadImage(image);
        string expected = $"{direct.Caption(picture).Text} / {direct.Refer(picture, "the dog on the left").Box}";
        Assert.Equal(expected, run.Output.Trim().Split('\n')[^1]);
    }

    private static string Quote(string path) => "@\"" + path.Replace("\"", "\"\"") + "\"";

    private static string MachinePackages() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    private static (int ExitCode, string Output, TimeSpan Elapsed) Dotnet(string[] args, string directory) =>
        ChildProcess.Run("dotnet", args, new Dictionary<string, string> { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1", ["DOTNET_NOLOGO"] = "1" },
            TimeSpan.FromMinutes(5), directory);

    [GeneratedRegex("```csharp\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex ReadmeSample();

    public void Dispose() => Directory.Delete(work, recursive: true);
}
