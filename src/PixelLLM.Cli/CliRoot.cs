using System.CommandLine;

namespace PixelLLM.Cli;

/// <summary>The command tree: Program parses the process's arguments with it; tests parse the GPU script's command lines.</summary>
internal static class CliRoot
{
    public static RootCommand Create()
    {
        var root = new RootCommand("PixelLLM.Native: pixel-aligned captioning, referring and segmentation");
        root.Subcommands.Add(InfoCommand.Create());
        root.Subcommands.Add(VerifyCommand.Create());
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(CaptionCommand.Create());
        root.Subcommands.Add(ReferCommand.Create());
        root.Subcommands.Add(SegmentCommand.Create());
        root.Subcommands.Add(DenseCaptionCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(KernelsCommand.Create());
        root.Subcommands.Add(BackendCheckCommand.Create());
        root.Subcommands.Add(InitCommand.Create());
        root.Subcommands.Add(ConvertCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(TuneCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(GraphCheckCommand.Create());
        return root;
    }

    /// <summary>A parser message with .NET's type names in words ("as expected type 'System.Int32'" → "as an integer").</summary>
    public static string Plain(string message) => System.Text.RegularExpressions.Regex.Replace(message,
        @"as expected type '(System\.Nullable`1\[)?System\.(\w+)\]?'", m => m.Groups[2].Value switch
        {
            "Int32" => "as an integer (from -2147483648 to 2147483647)",
            "Int64" => "as an integer",
            "Single" or "Double" => "as a number",
            "Boolean" => "as true or false",
            var other => $"as {other}",
        });
}
