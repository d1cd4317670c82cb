using System.CommandLine;
using PixelLLM.Cli;

var root = CliRoot.Create();

// Failures are reported as one line naming what went wrong, never as a stack trace or a screen of help.
var parsed = root.Parse(args.Length == 0 ? ["--help"] : args);
if (parsed.Errors.Count > 0)
{
    Console.Error.WriteLine($"pixelllm: {string.Join("; ", parsed.Errors.Select(e => CliRoot.Plain(e.Message).TrimEnd('.')))} (see pixelllm --help)");
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
