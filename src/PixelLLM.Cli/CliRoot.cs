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
}
