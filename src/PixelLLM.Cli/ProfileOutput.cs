using PixelLLM.Runtime.Profiling;

namespace PixelLLM.Cli;

/// <summary>Where <c>--profile</c> and <c>--profile-json</c> send a profile: the table to a writer, the JSON to a file.</summary>
internal static class ProfileOutput
{
    public static void Write(ProfileReport report, TextWriter? table, string? jsonPath)
    {
        if (table is not null)
        {
            table.WriteLine();
            report.WriteTable(table);
        }
        if (jsonPath is null) return;
        using var stream = File.Create(jsonPath);
        report.WriteJson(stream);
    }
}
