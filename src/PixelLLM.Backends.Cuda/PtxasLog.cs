using System.Globalization;
using System.Text.RegularExpressions;

namespace PixelLLM.Backends.Cuda;

/// <summary>What ptxas reported for one function of a compiled kernel file.</summary>
/// <param name="Function">The symbol: the extern "C" name of a kernel, or the mangled name of a non-inlined device function.</param>
/// <param name="IsEntry">A __global__ kernel (ptxas "Compiling entry function") rather than a called device function.</param>
/// <param name="Registers">Registers per thread (entries only; 0 for device functions, which ptxas does not report).</param>
/// <param name="SharedBytes">Static shared memory per block.</param>
public sealed record KernelResourceUsage(string Function, bool IsEntry, int Registers, int SharedBytes,
    int StackFrameBytes, int SpillStoreBytes, int SpillLoadBytes)
{
    public bool Spills => SpillStoreBytes > 0 || SpillLoadBytes > 0;
}

/// <summary>Reads the resource report ptxas writes into the NVRTC/nvcc log when run with -v.</summary>
public static partial class PtxasLog
{
    [GeneratedRegex(@"Compiling entry function '(?<name>[^']+)'")]
    private static partial Regex EntryLine();

    [GeneratedRegex(@"Function properties for (?<name>\S+)")]
    private static partial Regex PropertiesLine();

    [GeneratedRegex(@"(?<stack>\d+) bytes stack frame, (?<stores>\d+) bytes spill stores, (?<loads>\d+) bytes spill loads")]
    private static partial Regex FrameLine();

    [GeneratedRegex(@"Used (?<registers>\d+) registers")]
    private static partial Regex RegistersLine();

    [GeneratedRegex(@"(?<smem>\d+) bytes smem")]
    private static partial Regex SharedMemory();

    /// <summary>One entry per function ptxas described, in the order of the log.</summary>
    public static IReadOnlyList<KernelResourceUsage> Parse(string log)
    {
        var functions = new List<KernelResourceUsage>();
        int Index(string name)
        {
            int i = functions.FindIndex(f => f.Function == name);
            if (i >= 0) return i;
            functions.Add(new KernelResourceUsage(name, false, 0, 0, 0, 0, 0));
            return functions.Count - 1;
        }

        // "Function properties" is followed by its frame line; "Used N registers" belongs to the last entry compiled.
        int entry = -1, properties = -1;
        foreach (var line in log.Split('\n'))
        {
            Match m;
            if ((m = EntryLine().Match(line)).Success)
            {
                entry = Index(m.Groups["name"].Value);
                functions[entry] = functions[entry] with { IsEntry = true };
            }
            else if ((m = PropertiesLine().Match(line)).Success)
            {
                properties = Index(m.Groups["name"].Value);
            }
            else if ((m = FrameLine().Match(line)).Success && properties >= 0)
            {
                functions[properties] = functions[properties] with
                {
                    StackFrameBytes = Int(m, "stack"), SpillStoreBytes = Int(m, "stores"), SpillLoadBytes = Int(m, "loads"),
                };
            }
            else if ((m = RegistersLine().Match(line)).Success && entry >= 0)
            {
                var smem = SharedMemory().Match(line);
                functions[entry] = functions[entry] with { Registers = Int(m, "registers"), SharedBytes = smem.Success ? Int(smem, "smem") : 0 };
            }
        }
        return functions;
    }

    private static int Int(Match m, string group) => int.Parse(m.Groups[group].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture);
}
