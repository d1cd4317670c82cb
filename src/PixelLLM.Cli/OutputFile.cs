using PixelLLM.Runtime;

namespace PixelLLM.Cli;

/// <summary>
/// The files a command writes (--json, --overlay, --dump, the profiles, bench and eval reports): checked before any
/// work, then written whole or not at all. A regular file (or a new one) is written beside itself under a temporary name
/// and renamed over it once every output is complete; a symbolic link is followed, so the link stays and its target gets
/// the bytes; a device or pipe that exists (<c>/dev/stdout</c>, a FIFO) is written in place, after every output is ready,
/// never replaced by a file.
/// </summary>
internal static class OutputFile
{
    /// <summary>One output: the option that named it, the path as given, and what to write.</summary>
    public sealed record Pending(string Option, string Path, Action<Stream> Write);

    /// <summary>Fails with one line unless <paramref name="path"/> can become an output file; returns the file the bytes will go to.</summary>
    public static string Check(string option, string path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new InvalidInputException($"{option}: empty path, expected an output file name");
        string target;
        try { target = Target(path); }
        catch (IOException e) { throw new InvalidInputException($"{option} {path}: cannot follow the link ({Reason(e)})"); }
        if (Directory.Exists(target)) throw new InvalidInputException($"{option} {path}: is a directory, expected an output file name");
        var dir = System.IO.Path.GetDirectoryName(target);
        if (dir is null || !Directory.Exists(dir)) throw new InvalidInputException($"{option} {path}: the folder {dir} does not exist");
        return target;
    }

    /// <summary>
    /// <see cref="Check"/> for every output given, and no two of them, nor any of them and an existing file of the model
    /// directory (its weights, config or tokenizer), naming the same file.
    /// </summary>
    public static void CheckAll(IEnumerable<(string Option, string? Path)> outputs, string? modelDirectory = null)
    {
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        var model = modelDirectory is not null && Directory.Exists(modelDirectory) ? System.IO.Path.GetFullPath(modelDirectory) : null;
        foreach (var (option, path) in outputs)
        {
            if (path is null) continue;
            var target = Check(option, path);
            if (!seen.TryAdd(target, option)) throw new InvalidInputException($"{seen[target]} and {option} name the same file {path}; give each its own");
            if (model is not null && File.Exists(target) && System.IO.Path.GetDirectoryName(target) == model.TrimEnd('/'))
                throw new InvalidInputException($"{option} {path}: is a file of the model directory {modelDirectory}; write outputs elsewhere");
        }
    }

    public static void Write(string option, string path, Action<Stream> write) => WriteAll([new Pending(option, path, write)]);

    /// <summary>Writes every output, or (on any failure) none: temporary files are removed and the error names the option and path.</summary>
    public static void WriteAll(IReadOnlyList<Pending> outputs)
    {
        var staged = new List<(Pending Output, string Target, string Temp, bool InPlace)>();
        try
        {
            foreach (var output in outputs)
            {
                var target = Check(output.Option, output.Path);
                bool inPlace = FileKind.IsRegularFile(target) == false;
                var temp = inPlace ? System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"pixelllm-{Guid.NewGuid():N}.tmp") : TempBeside(target);
                staged.Add((output, target, temp, inPlace));
                Attempt(output, () =>
                {
                    using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
                    output.Write(stream);
                });
            }
            foreach (var (output, target, temp, inPlace) in staged)
                Attempt(output, () =>
                {
                    if (!inPlace) { File.Move(temp, target, overwrite: true); return; }
                    using var source = File.OpenRead(temp);
                    using var destination = new FileStream(target, FileMode.Open, FileAccess.Write);
                    source.CopyTo(destination);
                });
        }
        finally
        {
            foreach (var (_, _, temp, _) in staged)
                try { File.Delete(temp); }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>A hidden, unique file name beside <paramref name="full"/>, where an output is written before it is renamed.</summary>
    public static string TempBeside(string full) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(full)!, $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");

    /// <summary>The absolute path the bytes go to: a symbolic link's final target, else the path itself.</summary>
    private static string Target(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        FileSystemInfo? link, final = null;
        try { link = File.ResolveLinkTarget(full, returnFinalTarget: false); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return full; } // a new name
        if (link is null) return full; // a file or a device: not a link
        try { final = File.ResolveLinkTarget(full, returnFinalTarget: true); }
        catch (IOException) { }
        if (final is { Exists: true }) return System.IO.Path.GetFullPath(final.FullName);
        // A link only the kernel resolves (/dev/stdout → /proc/self/fd/1 → "pipe:[…]"): the path itself, written in place.
        if (FileKind.IsRegularFile(full) is not null) return full;
        if (final is not null && Directory.Exists(System.IO.Path.GetDirectoryName(final.FullName))) return System.IO.Path.GetFullPath(final.FullName);
        throw new IOException($"the link points to {link.FullName}, whose folder does not exist");
    }

    private static void Attempt(Pending output, Action action)
    {
        try { action(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException($"{output.Option} {output.Path}: cannot write it ({Reason(e)})");
        }
    }

    /// <summary>The exception's reason without the (temporary) path .NET appends to it.</summary>
    private static string Reason(Exception e)
    {
        var message = e.Message;
        int at = message.IndexOf(" : '", StringComparison.Ordinal);
        if (at < 0) at = message.IndexOf(" '/", StringComparison.Ordinal);
        return (at > 0 ? message[..at] : message).TrimEnd('.', ' ');
    }
}
