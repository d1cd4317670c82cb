using PixelLLM.Runtime;

namespace PixelLLM.Cli;

/// <summary>Turns failures into one clear line on stderr and an exit code; stack traces only with PIXELLLM_VERBOSE=1.</summary>
internal static class CliErrors
{
    public const int BadInput = 2;
    public const int Internal = 3;

    public static int Guard(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e)
        {
            Report(Describe(e), e);
            return IsInternal(e) ? Internal : BadInput;
        }
    }

    /// <summary>The one line for <paramref name="e"/>: "error: …" for a bad input or file, "internal error (Type): …" otherwise.</summary>
    public static string Describe(Exception e) => e switch
    {
        OutOfMemoryException => "error: out of memory: " + e.Message,
        _ when IsInternal(e) => $"internal error ({e.GetType().Name}): {e.Message}",
        _ => "error: " + e.Message,
    };

    private static bool IsInternal(Exception e) => e is not (ModelFileException or InvalidInputException or GraphBuildException or BackendException
        or IOException or UnauthorizedAccessException or NotSupportedException or OutOfMemoryException);

    private static void Report(string line, Exception e)
    {
        Console.Error.WriteLine(line);
        if (Environment.GetEnvironmentVariable("PIXELLLM_VERBOSE") == "1") Console.Error.WriteLine(e);
    }
}
