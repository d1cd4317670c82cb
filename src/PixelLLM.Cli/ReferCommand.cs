using System.CommandLine;

namespace PixelLLM.Cli;

/// <summary><c>pixelllm refer IMAGE "text"</c>: the box of a referring expression.</summary>
internal static class ReferCommand
{
    public static Command Create()
    {
        var common = new RequestOptionsCli();
        var text = new Argument<string>("text") { Description = "the referring expression, e.g. \"the red ball on the left\"" };
        var decode = new Option<bool>("--decode-text") { Description = "beam-decode the text first and read the box from it (default: the expression is the decoder input)" };
        var command = new Command("refer", "Find the box a referring expression describes");
        common.AddTo(command);
        command.Arguments.Add(text);
        command.Options.Add(decode);
        command.SetAction(parse => CliErrors.Guard(() =>
            Run(common.Read(parse), parse.GetValue(text)!, parse.GetValue(decode), parse.InvocationConfiguration.Output)));
        return command;
    }

    internal static int Run(RequestArgs args, string text, bool decodeText, TextWriter output) =>
        RequestRun.Execute(args, output,
            (model, image, request) => model.Refer(image, text, decodeText, request),
            (result, image) => ResultJsonAccess.Refer(result, image),
            (result, image) => OverlayRenderer.Refer(image, result),
            (result, o) =>
            {
                o.WriteLine(result.Box is { } b ? b.ToString() : "no box (no position before EOS)");
                if (decodeText) o.WriteLine($"  decoded text: {result.Text}");
            });
}

/// <summary>The library's JSON writer with the image described at the top.</summary>
internal static class ResultJsonAccess
{
    public static byte[] Caption(IReadOnlyList<CaptionResult> results, PixelImage image) =>
        ResultJson.Caption(results, new ImageJson(image.Source, image.Width, image.Height));

    public static byte[] Refer(ReferResult result, PixelImage image) =>
        ResultJson.Refer(result, new ImageJson(image.Source, image.Width, image.Height));
}
