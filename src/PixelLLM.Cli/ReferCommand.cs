using System.CommandLine;

namespace PixelLLM.Cli;

/// <summary><c>pixelllm refer IMAGE "text" ["text"...]</c>: the box of each referring expression, all in one batch.</summary>
internal static class ReferCommand
{
    public static Command Create()
    {
        var common = new RequestOptionsCli();
        var text = new Argument<string>("text") { Description = "the referring expression, e.g. \"the red ball on the left\"" };
        var more = MoreTexts();
        var decode = new Option<bool>("--decode-text") { Description = "beam-decode the text first and read the box from it (default: the expression is the decoder input)" };
        var command = new Command("refer", "Find the box a referring expression describes (several expressions: one batch)");
        common.AddTo(command);
        command.Arguments.Add(text);
        command.Arguments.Add(more);
        command.Options.Add(decode);
        command.SetAction(parse => CliErrors.Guard(() =>
            Run(common.Read(parse), RequestOptionsCli.NotOptions([parse.GetValue(text)!, .. parse.GetValue(more) ?? []], "refer"), parse.GetValue(decode), parse.InvocationConfiguration.Output)));
        return command;
    }

    /// <summary>Further expressions after the first (refer, segment): each gets its own result in the one batch.</summary>
    internal static Argument<string[]> MoreTexts() => new("more-texts")
    {
        Description = "further expressions: each gets its own result, all decoded in one batch",
        Arity = ArgumentArity.ZeroOrMore,
    };

    internal static int Run(RequestArgs args, IReadOnlyList<string> texts, bool decodeText, TextWriter output) =>
        RequestRun.Execute(args, output,
            (model, image, request) => model.Refer(image, texts, decodeText, request),
            (results, image) => ResultJsonAccess.Refer(results, image),
            (results, image) => OverlayRenderer.Refer(image, results),
            (results, o) =>
            {
                foreach (var result in results)
                {
                    o.WriteLine(BoxLine(result.Expression, result.Box, results.Count));
                    if (decodeText) o.WriteLine($"  decoded text: {result.Text}");
                }
            });

    /// <summary>An expression's box as refer and segment print it; with several expressions, prefixed by the expression.</summary>
    internal static string BoxLine(string expression, Box? box, int expressions)
    {
        var text = box is { } b ? b.ToString() : "no box (no position before EOS)";
        return expressions == 1 ? text : $"{expression}: {text}";
    }
}

/// <summary>The library's JSON writer with the image described at the top.</summary>
internal static class ResultJsonAccess
{
    public static byte[] Caption(IReadOnlyList<CaptionResult> results, PixelImage image) =>
        ResultJson.Caption(results, new ImageJson(image.Source, image.Width, image.Height));

    public static byte[] Refer(IReadOnlyList<ReferResult> results, PixelImage image) =>
        ResultJson.Refer(results, new ImageJson(image.Source, image.Width, image.Height));
}
