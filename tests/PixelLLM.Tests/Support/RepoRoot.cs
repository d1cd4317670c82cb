namespace PixelLLM.Tests.Support;

/// <summary>The repository root: the first directory above the test binaries that holds PixelLLM.Native.sln.</summary>
internal static class RepoRoot
{
    private static readonly Lazy<string> root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "PixelLLM.Native.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"no PixelLLM.Native.sln above {AppContext.BaseDirectory}");
    });

    public static string Path => root.Value;
}
