using System.Text.Json;
using PixelLLM.Models;
using PixelLLM.Models.Tokenizers;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Checkpoints;
using PixelLLM.Runtime.SafeTensors;

namespace PixelLLM.Fuzz;

/// <summary>
/// One entry per parser the engine exposes to files users hand it. A target takes the raw bytes of one input and must either
/// accept it (reading everything it yields, so lazy paths run too) or reject it with one of <see cref="IsCleanRejection"/>'s
/// typed errors. Anything else — another exception type, a crash, a hang — is a finding.
/// </summary>
public static class FuzzTargets
{
    /// <summary>Target name → parser over one input file's bytes.</summary>
    public static IReadOnlyDictionary<string, Action<byte[]>> All { get; } = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["safetensors"] = bytes => WithFile(bytes, ".safetensors", path =>
        {
            using var file = SafeTensorsFile.Open(path);
            foreach (var name in file.Names) Touch(file.Get(name));
        }),
        ["scenic-msgpack"] = bytes => WithFile(bytes, ".msgpack", path =>
        {
            using var checkpoint = ScenicCheckpoint.Open(path);
            foreach (var name in checkpoint.Names) Touch(checkpoint.Get(name));
        }),
        ["torch-pth"] = bytes => WithFile(bytes, ".pth", path =>
        {
            using var checkpoint = TorchCheckpoint.Open(path);
            foreach (var name in checkpoint.Names) Touch(checkpoint.Get(name));
        }),
        ["sentencepiece"] = bytes => WithFile(bytes, ".model", path =>
        {
            var tokenizer = T5SentencePieceTokenizer.Load(path);
            tokenizer.Decode(tokenizer.Encode("a red circle, on the LEFT: 3 Ünïcödé ☃ words", addEos: true));
        }),
        ["wordpiece"] = bytes => WithFile(bytes, ".txt", path =>
        {
            var tokenizer = BertWordPieceTokenizer.Load(path);
            tokenizer.Decode(tokenizer.Encode("A long image caption: a red circle, on the LEFT ☃", addEos: true));
        }),
        ["model-config"] = bytes =>
        {
            JsonDocument json;
            try { json = JsonDocument.Parse(bytes); }
            catch (JsonException e) { throw new ModelFileException($"config.json: not valid JSON ({e.Message})", e); }
            using (json) PixelLlmConfigJson.FromScenic(json.RootElement);
        },
        // PNG/JPEG decode (header checked against the pixel limit first) and the eval resize to a small canvas.
        ["image"] = bytes => PixelImage.Decode(bytes, "fuzz input", maxPixels: 4_000_000).ToEvalSize(64),
        // What `caption --box` does with user text: parse "x0,y0,x1,y1", then check it against an image size ("W H" line 2).
        ["box-args"] = bytes =>
        {
            var lines = System.Text.Encoding.UTF8.GetString(bytes).Split('\n');
            var box = Box.Parse(lines[0]);
            var size = lines.Length > 1 ? lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries) : [];
            if (size.Length != 2 || !int.TryParse(size[0], out int width) || !int.TryParse(size[1], out int height))
                throw new InvalidInputException("box-args: line 2 must be the image size \"W H\"");
            box.Validate(width, height);
        },
    };

    /// <summary>The typed errors a parser may answer bad input with (each carries one line naming the file/field).</summary>
    public static bool IsCleanRejection(Exception e) => e is ModelFileException or InvalidInputException;

    /// <summary>Runs <paramref name="target"/> on <paramref name="bytes"/>: null when accepted or cleanly rejected, else the finding.</summary>
    public static Exception? Check(string target, byte[] bytes)
    {
        try
        {
            All[target](bytes);
            return null;
        }
        catch (Exception e) when (IsCleanRejection(e))
        {
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    private static void Touch(HostTensor tensor)
    {
        var span = tensor.Data.Span;
        if (span.Length > 0) _ = span[0] ^ span[^1];
    }

    [ThreadStatic] private static string? scratchDirectory;

    /// <summary>File-based parsers (they memory-map) get the bytes through one per-thread scratch file.</summary>
    private static void WithFile(byte[] bytes, string extension, Action<string> open)
    {
        scratchDirectory ??= Directory.CreateTempSubdirectory("pixelllm-fuzz-").FullName;
        var path = Path.Combine(scratchDirectory, "input" + extension);
        File.WriteAllBytes(path, bytes);
        open(path);
    }
}
