using System.CommandLine;
using PixelLLM.Cli;

var root = new RootCommand("PixelLLM.Native: pixel-aligned captioning, referring and segmentation");
root.Subcommands.Add(InfoCommand.Create());
root.Subcommands.Add(VerifyCommand.Create());
root.Subcommands.Add(InspectCommand.Create());
root.Subcommands.Add(CaptionCommand.Create());
root.Subcommands.Add(ReferCommand.Create());
root.Subcommands.Add(SegmentCommand.Create());
root.Subcommands.Add(DenseCaptionCommand.Create());
root.Subcommands.Add(KernelsCommand.Create());
root.Subcommands.Add(BackendCheckCommand.Create());
root.Subcommands.Add(InitCommand.Create());
root.Subcommands.Add(ConvertCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(EvalCommand.Create());
root.Subcommands.Add(GraphCheckCommand.Create());

// Failures are reported as one line naming what went wrong, never as a stack trace or a screen of help.
var parsed = root.Parse(args.Length == 0 ? ["--help"] : args);
if (parsed.Errors.Count > 0)
{
    Console.Error.WriteLine($"pixelllm: {string.Join("; ", parsed.Errors.Select(e => e.Message.TrimEnd('.')))} (see pixelllm --help)");
    return 2;
}
try
{
    return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e)
{
    Console.Error.WriteLine($"pixelllm: error: {e.Message.ReplaceLineEndings(" ")}");
    return 1;
}
