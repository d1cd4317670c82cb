using System.CommandLine;
using System.Globalization;

namespace PixelLLM.Cli;

/// <summary><c>pixelllm segment IMAGE "text"</c>: the box and mask of a referring expression.</summary>
internal static class SegmentCommand
{
    public static Command Create()
    {
        var common = new RequestOptionsCli();
        var text = new Argument<string>("text") { Description = "the referring expression, e.g. \"the red ball on the left\"" };
        var command = new Command("segment", "Segment the object a referring expression describes (box, mask, IoU prediction)");
        common.AddTo(command);
        command.Arguments.Add(text);
        command.SetAction(parse => CliErrors.Guard(() => Run(common.Read(parse), parse.GetValue(text)!, parse.InvocationConfiguration.Output)));
        return command;
    }

    internal static int Run(RequestArgs args, string text, TextWriter output) =>
        RequestRun.Execute(args, output,
            (model, image, request) => model.Segment(image, text, request),
            (result, image) => ResultJson.Segment(result, new ImageJson(image.Source, image.Width, image.Height)),
            (result, image) => OverlayRenderer.Segment(image, result),
            (result, o) =>
            {
                o.WriteLine(result.Box is { } b ? b.ToString() : "no box (no position before EOS)");
                o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  mask {result.Mask.Area} of {result.Mask.Width}×{result.Mask.Height} pixels  IoU prediction {result.Iou:F4}  decoded text: {result.Text}"));
            });
}

/// <summary><c>pixelllm densecap IMAGE</c>: detect regions and caption each of them.</summary>
internal static class DenseCaptionCommand
{
    public static Command Create()
    {
        var common = new RequestOptionsCli();
        var command = new Command("densecap", "Detect the regions of an image and caption each (dense captioning)");
        common.AddTo(command);
        command.SetAction(parse => CliErrors.Guard(() => Run(common.Read(parse), parse.InvocationConfiguration.Output)));
        return command;
    }

    internal static int Run(RequestArgs args, TextWriter output) =>
        RequestRun.Execute(args, output,
            (model, image, request) => model.DenseCaption(image, request),
            (result, image) => ResultJson.DenseCaption(result, new ImageJson(image.Source, image.Width, image.Height)),
            (result, image) => OverlayRenderer.DenseCaption(image, result),
            (result, o) =>
            {
                if (result.Detections.Count == 0) o.WriteLine($"no detection above the score threshold ({result.Slots} slots)");
                foreach (var d in result.Detections)
                    o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{d.Score:F4}  {d.Box}  {d.Text}"));
            });
}
