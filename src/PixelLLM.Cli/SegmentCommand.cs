using System.CommandLine;
using System.Globalization;

namespace PixelLLM.Cli;

/// <summary><c>pixelllm segment IMAGE "text" ["text"...]</c>: the box and mask of each referring expression, in one batch.</summary>
internal static class SegmentCommand
{
    public static Command Create()
    {
        var common = new RequestOptionsCli();
        var text = new Argument<string>("text") { Description = "the referring expression, e.g. \"the red ball on the left\"" };
        var more = ReferCommand.MoreTexts();
        var teacher = new Option<bool>("--teacher-forced")
        {
            Description = "the expression itself is the decoder input, as refer's default (the reference's teacher-forced RefCOCO mode), instead of its beam-decoded text",
        };
        var command = new Command("segment", "Segment the object a referring expression describes (box, mask, IoU prediction; several expressions: one batch)");
        common.AddTo(command);
        command.Options.Add(teacher);
        command.Arguments.Add(text);
        command.Arguments.Add(more);
        command.SetAction(parse => CliErrors.Guard(() =>
            Run(common.Read(parse), RequestOptionsCli.NotOptions([parse.GetValue(text)!, .. parse.GetValue(more) ?? []], "segment"), parse.InvocationConfiguration.Output,
                decodeText: !parse.GetValue(teacher))));
        return command;
    }

    internal static int Run(RequestArgs args, IReadOnlyList<string> texts, TextWriter output, bool decodeText = true) =>
        RequestRun.Execute(args, output,
            (model, image, request) => model.Segment(image, texts, decodeText, request),
            (results, image) => ResultJson.Segment(results, new ImageJson(image.Source, image.Width, image.Height)),
            (results, image) => OverlayRenderer.Segment(image, results),
            (results, o) =>
            {
                foreach (var result in results)
                {
                    o.WriteLine(ReferCommand.BoxLine(result.Expression, result.Box, results.Count));
                    var decoded = decodeText ? $"  decoded text: {result.Text}" : "";
                    o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  mask {result.Mask.Area} of {result.Mask.Width}×{result.Mask.Height} pixels  IoU prediction {result.Iou:F4}{decoded}"));
                }
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
