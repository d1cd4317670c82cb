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
        catch (Exception e) when (e is ModelFileException or InvalidInputException or GraphBuildException or BackendException
                                      or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            Report("error: " + e.Message, e);
            return BadInput;
        }
        catch (OutOfMemoryException e)
        {
            Report("error: out of memory: " + e.Message, e);
            return BadInput;
        }
        catch (Exception e)
        {
            Report($"internal error ({e.GetType().Name}): {e.Message}", e);
            return Internal;
        }
    }

    private static void Report(string line, Exception e)
    {
        Console.Error.WriteLine(line);
        if (Environment.GetEnvironmentVariable("PIXELLLM_VERBOSE") == "1") Console.Error.WriteLine(e);
    }
}
