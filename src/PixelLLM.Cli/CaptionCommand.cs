using System.CommandLine;
using System.Globalization;
using PixelLLM.Runtime;

namespace PixelLLM.Cli;

/// <summary>
/// <c>pixelllm caption IMAGE [--box x0,y0,x1,y1]...</c>: caption + per-token trace of the image, or captions of boxes;
/// <c>pixelllm caption IMAGE IMAGE...</c>: caption + trace of every image, all in one batch.
/// </summary>
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
        var more = new Argument<string[]>("more-images")
        {
            Description = "further images: every image is captioned with its trace in one batch (one vision pass, one decode)",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var command = new Command("caption", "Caption an image (or boxes in it, or several images at once) with a per-word trace of where each word is");
        common.AddTo(command);
        command.Arguments.Add(more);
        command.Options.Add(boxes);
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            var args = common.Read(parse);
            var others = (parse.GetValue(more) ?? []).Select(p => RequestOptionsCli.NotAnOption(p, "caption")).ToArray();
            return others.Length == 0
                ? Run(args, parse.GetValue(boxes) ?? [], parse.InvocationConfiguration.Output)
                : RunImages(args, [args.Image, .. others], (parse.GetValue(boxes) ?? []).Length > 0, parse.InvocationConfiguration.Output);
        }));
        return command;
    }

    /// <summary>
    /// Several images in one <see cref="PixelLlmModel.CaptionBatch"/>; --json writes a JSON array of one document per image
    /// (each as the one-image command writes it). Boxes, overlays, dumps and profiles are one image's: refused here.
    /// </summary>
    internal static int RunImages(RequestArgs args, IReadOnlyList<string> paths, bool withBoxes, TextWriter output)
    {
        if (withBoxes) throw new InvalidInputException("--box captions regions of one image; give one image with --box, or several images without it");
        foreach (var (given, name) in new[] { (args.Overlay, "--overlay"), (args.Dump, "--dump"), (args.ProfileJson, "--profile-json"), (args.ProfileTimeline, "--profile-timeline") })
            if (given is not null) throw new InvalidInputException($"{name} takes one image; {paths.Count} were given");
        if (args.Profile) throw new InvalidInputException($"--profile takes one image; {paths.Count} were given");
        if (args.Json is not null) OutputFile.Check("--json", args.Json);
        RequestRun.CheckCounts(args);
        var options = args.ModelOptions();
        var modelDir = RequestOptionsCli.ResolveModel(args.Model);
        var images = paths.Select(p => PixelImage.Load(p, options.MaxImagePixels)).ToArray();
        using var model = PixelLlmModel.Load(modelDir, options);
        var progress = RequestRun.Progress.OnTerminal();
        RequestRun.Progress.Loaded(model, modelDir);
        var results = model.CaptionBatch(images, new RequestOptions { OnEvent = progress, Beams = args.Beams });
        progress?.Invoke(new StageStarted("done"));

        if (args.Json is not null)
        {
            var documents = results.Select((r, i) => System.Text.Encoding.UTF8.GetString(ResultJsonAccess.Caption([r], images[i])).TrimEnd());
            var bytes = System.Text.Encoding.UTF8.GetBytes("[\n" + string.Join(",\n", documents) + "\n]\n");
            OutputFile.Write("--json", args.Json, stream => stream.Write(bytes));
        }
        for (int i = 0; i < images.Length; i++)
        {
            output.WriteLine($"{paths[i]}: {results[i].Text}");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  score {results[i].Score:F4}  trace box {(results[i].TraceBox?.ToString() ?? "none")}"));
        }
        return 0;
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
