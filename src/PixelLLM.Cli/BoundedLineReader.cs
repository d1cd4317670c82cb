using System.Text;

namespace PixelLLM.Cli;

/// <summary>
/// Lines of <c>serve</c>'s input, each at most <paramref name="maxChars"/> long: a longer one is skipped to its end
/// without being held in memory (one gigabyte of base64 on a line must not take the server down) and reported as such,
/// so the server answers it with an error line and reads the next.
/// </summary>
internal sealed class BoundedLineReader(TextReader input, long maxChars)
{
    private readonly char[] buffer = new char[1 << 16];
    private int start, end;

    /// <summary>The next line without its end (null at the end of input); <paramref name="tooLong"/> when it was skipped.</summary>
    public string? ReadLine(out bool tooLong)
    {
        tooLong = false;
        var line = new StringBuilder();
        bool any = false;
        while (true)
        {
            if (start == end)
            {
                end = input.Read(buffer, 0, buffer.Length);
                start = 0;
                if (end <= 0)
                {
                    end = 0;
                    return any ? Finish(line, tooLong) : null;
                }
            }
            any = true;
            int newline = Array.IndexOf(buffer, '\n', start, end - start);
            int stop = newline < 0 ? end : newline;
            if (!tooLong)
            {
                if (line.Length + (stop - start) > maxChars) { tooLong = true; line.Clear(); }
                else line.Append(buffer, start, stop - start);
            }
            start = newline < 0 ? end : newline + 1;
            if (newline >= 0) return Finish(line, tooLong);
        }
    }

    private static string Finish(StringBuilder line, bool tooLong)
    {
        if (tooLong) return "";
        if (line.Length > 0 && line[^1] == '\r') line.Length--;
        return line.ToString();
    }
}
