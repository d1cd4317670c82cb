using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using PixelLLM.Runtime;

namespace PixelLLM.Cli;

/// <summary><c>pixelllm inspect PATH</c>: list a checkpoint's tensors (name, dtype, shape, bytes), totals and parameters per name prefix.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("path") { Description = "a .safetensors, .pth/.pt/.bin (torch.save) or .msgpack/checkpoint_<step> (Flax) file, or a directory of them" };
        var json = new Option<bool>("--json") { Description = "machine-readable output" };
        var depth = new Option<int?>("--depth") { Description = "group parameter counts by this many leading name components (default: 1, deeper while that gives one group)" };
        var command = new Command("inspect", "List a checkpoint's tensors with dtype, shape and size, and count its parameters") { path, json, depth };
        command.SetAction(parse => CliErrors.Guard(() =>
            Run(parse.GetValue(path)!, parse.GetValue(json), parse.GetValue(depth), parse.InvocationConfiguration.Output)));
        return command;
    }

    /// <summary>Inspects <paramref name="path"/> and writes the report to <paramref name="output"/>; returns the exit code.</summary>
    internal static int Run(string path, bool json, int? depth, TextWriter output)
    {
        if (depth is < 1) throw new InvalidInputException($"--depth must be at least 1, got {depth}");
        var files = CheckpointInventory.Load(path);
        var summary = InspectSummary.Compute(files, depth);
        if (json) WriteJson(files, summary, output);
        else WriteText(files, summary, output);
        return ModelDirectoryInspection.Report(path, json, output);
    }

    private static void WriteText(IReadOnlyList<InspectedFile> files, InspectSummary summary, TextWriter o)
    {
        int nameWidth = Math.Max(4, files.SelectMany(f => f.Tensors).Select(t => t.Name.Length).DefaultIfEmpty(0).Max());
        int shapeWidth = Math.Max(5, files.SelectMany(f => f.Tensors).Select(t => t.Desc.Shape.ToString().Length).DefaultIfEmpty(0).Max());
        foreach (var file in files)
        {
            o.WriteLine($"{file.Path} ({file.Format}, {file.Tensors.Count} tensors)");
            o.WriteLine($"  {"name".PadRight(nameWidth)}  {"dtype",-5}  {"shape".PadRight(shapeWidth)}  {"bytes",14}");
            foreach (var t in file.Tensors)
                o.WriteLine($"  {t.Name.PadRight(nameWidth)}  {t.Desc.DType.SafetensorsName(),-5}  {t.Desc.Shape.ToString().PadRight(shapeWidth)}  {Number(t.Desc.ByteSize),14}");
        }
        o.WriteLine($"total: {Number(summary.Tensors)} tensors, {Number(summary.Parameters)} parameters, {Number(summary.Bytes)} bytes ({Size(summary.Bytes)})" +
                    (files.Count > 1 ? $" in {files.Count} files" : ""));
        o.WriteLine($"parameters by the first {summary.Depth} name component{(summary.Depth == 1 ? "" : "s")}:");
        int prefixWidth = Math.Max(6, summary.Groups.Select(g => g.Prefix.Length).DefaultIfEmpty(0).Max());
        o.WriteLine($"  {"prefix".PadRight(prefixWidth)}  {"parameters",15}  {"share",7}  {"tensors",7}  {"size",10}");
        foreach (var g in summary.Groups)
        {
            double share = summary.Parameters == 0 ? 0 : 100.0 * g.Parameters / summary.Parameters;
            o.WriteLine($"  {g.Prefix.PadRight(prefixWidth)}  {Number(g.Parameters),15}  {share,6:0.00}%  {Number(g.Tensors),7}  {Size(g.Bytes),10}");
        }
    }

    private static void WriteJson(IReadOnlyList<InspectedFile> files, InspectSummary summary, TextWriter o)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteStartArray("files");
            foreach (var file in files)
            {
                w.WriteStartObject();
                w.WriteString("path", file.Path);
                w.WriteString("format", file.Format);
                w.WriteStartArray("tensors");
                foreach (var t in file.Tensors)
                {
                    w.WriteStartObject();
                    w.WriteString("name", t.Name);
                    w.WriteString("dtype", t.Desc.DType.SafetensorsName());
                    w.WriteStartArray("shape");
                    foreach (var d in t.Desc.Shape.Dims) w.WriteNumberValue(d);
                    w.WriteEndArray();
                    w.WriteNumber("parameters", t.Desc.ElementCount);
                    w.WriteNumber("bytes", t.Desc.ByteSize);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("totals");
            w.WriteNumber("files", files.Count);
            w.WriteNumber("tensors", summary.Tensors);
            w.WriteNumber("parameters", summary.Parameters);
            w.WriteNumber("bytes", summary.Bytes);
            w.WriteEndObject();
            w.WriteNumber("groupDepth", summary.Depth);
            w.WriteStartArray("groups");
            foreach (var g in summary.Groups)
            {
                w.WriteStartObject();
                w.WriteString("prefix", g.Prefix);
                w.WriteNumber("tensors", g.Tensors);
                w.WriteNumber("parameters", g.Parameters);
                w.WriteNumber("bytes", g.Bytes);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        o.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }

    private static string Number(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string Size(long bytes) => bytes switch
    {
        < 1L << 10 => $"{bytes} B",
        < 1L << 20 => (bytes / 1024.0).ToString("0.0 'KiB'", CultureInfo.InvariantCulture),
        < 1L << 30 => (bytes / 1048576.0).ToString("0.0 'MiB'", CultureInfo.InvariantCulture),
        _ => (bytes / 1073741824.0).ToString("0.00 'GiB'", CultureInfo.InvariantCulture),
    };
}
