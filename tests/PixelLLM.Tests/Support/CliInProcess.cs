using System.CommandLine;
using System.Text;
using PixelLLM.Cli;

namespace PixelLLM.Tests.Support;

/// <summary>The CLI run in this process on parsed arguments: its exit code and what it reported on stderr.</summary>
public static class CliInProcess
{
    public static (int ExitCode, string Error) Invoke(ParseResult parse)
    {
        // The CLI reports on the process's stderr. Tests run side by side, so stderr is routed per invocation (an
        // AsyncLocal follows the invocation into its tasks) rather than swapped, which let one test read another's line.
        RoutedError.Install();
        var error = new StringWriter();
        RoutedError.Target.Value = error;
        try { return (parse.Invoke(new InvocationConfiguration { Output = TextWriter.Null, Error = error }), error.ToString()); }
        finally { RoutedError.Target.Value = null; }
    }

    /// <summary>Parses <paramref name="args"/> with the CLI's own command tree (they must parse) and runs them.</summary>
    public static (int ExitCode, string Error) Run(params string[] args)
    {
        var parse = CliRoot.Create().Parse(args);
        if (parse.Errors.Count > 0) throw new ArgumentException($"{string.Join(' ', args)}: {string.Join("; ", parse.Errors.Select(e => e.Message))}");
        return Invoke(parse);
    }

    /// <summary>Console.Error for the whole test run: the current invocation's writer, else the real stderr.</summary>
    private sealed class RoutedError(TextWriter stderr) : TextWriter
    {
        public static readonly AsyncLocal<TextWriter?> Target = new();
        private static readonly Lock Installing = new();
        private static bool installed;

        public static void Install()
        {
            lock (Installing)
            {
                if (installed) return;
                Console.SetError(new RoutedError(Console.Error));
                installed = true;
            }
        }

        private TextWriter Current => Target.Value ?? stderr;
        public override Encoding Encoding => stderr.Encoding;
        public override void Write(char value) => Current.Write(value);
        public override void Write(string? value) => Current.Write(value);
        public override void Write(char[] buffer, int index, int count) => Current.Write(buffer, index, count);
        public override void WriteLine(string? value) => Current.WriteLine(value);
        public override void Flush() => Current.Flush();
    }
}
