using System.CommandLine;
using PixelLLM.Cli;

namespace PixelLLM.Tests.Support;

/// <summary>The CLI run in this process on parsed arguments: its exit code and what it reported on stderr.</summary>
public static class CliInProcess
{
    public static (int ExitCode, string Error) Invoke(ParseResult parse)
    {
        // The CLI reports on the process's stderr; no other test reads it, so borrowing it here is harmless.
        var error = new StringWriter();
        var console = Console.Error;
        Console.SetError(error);
        try { return (parse.Invoke(new InvocationConfiguration { Output = TextWriter.Null, Error = error }), error.ToString()); }
        finally { Console.SetError(console); }
    }

    /// <summary>Parses <paramref name="args"/> with the CLI's own command tree (they must parse) and runs them.</summary>
    public static (int ExitCode, string Error) Run(params string[] args)
    {
        var parse = CliRoot.Create().Parse(args);
        if (parse.Errors.Count > 0) throw new ArgumentException($"{string.Join(' ', args)}: {string.Join("; ", parse.Errors.Select(e => e.Message))}");
        return Invoke(parse);
    }
}
