using System.CommandLine;
using System.Globalization;

namespace PixelLLM.Cli;

/// <summary><c>pixelllm caption IMAGE [--box x0,y0,x1,y1]...</c>: caption + per-token trace of the image, or captions of boxes.</summary>
internal static class CaptionCommand
{
    public static Command Create()
    {
        var common = new RequestOptionsCli();
        var boxes = new Option<string[]>("--box")
        {
            Description = "caption this region instead of the whole image: x0,y0,x1,y1 in image pixels (repeat for several, one batch)",
            AllowMultipleArgumentsPerToken = false,
        };
        var command = new Command("caption", "Caption an image (or boxes in it) with a per-word trace of where each word is");
        common.AddTo(command);
        command.Options.Add(boxes);
        command.SetAction(parse => CliErrors.Guard(() =>
            Run(common.Read(parse), parse.GetValue(boxes) ?? [], parse.InvocationConfiguration.Output)));
        return command;
    }

    /// <summary>Runs the command; returns the exit code (bad input throws, <see cref="CliErrors.Guard"/> turns it into 2).</summary>
    internal static int Run(RequestArgs args, IReadOnlyList<string> boxTexts, TextWriter output)
    {
        var boxes = boxTexts.Select(Box.Parse).ToArray();
        return RequestRun.Execute(args, output,
            (model, image, request) => boxes.Length == 0 ? [model.Caption(image, (Box?)null, request)] : model.Caption(image, boxes, request),
            (results, image) => ResultJsonAccess.Caption(results, image),
            (results, image) => OverlayRenderer.Caption(image, results),
            Print);
    }

    private static void Print(IReadOnlyList<CaptionResult> results, TextWriter o)
    {
        foreach (var r in results)
        {
            o.WriteLine(r.Text);
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  score {r.Score:F4}  prompt {r.PromptBox}  trace box {(r.TraceBox?.ToString() ?? "none")}"));
        }
    }
}
