using System.Diagnostics;
using System.Text.RegularExpressions;
using PixelLLM.Cli;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// bench/gpu/run.sh, the one script a device session runs in its few minutes, checked without a device: in its dry run
/// (PIXELLLM_GPU_DRY_RUN=1, every phase, stand-ins for nvidia-smi, nsys, compute-sanitizer and nvcc) it must finish
/// without a shell error, and every command it would run must parse: the CLI's arguments by the CLI's own command tree,
/// bench's stages and configs and backend-check's op names by the lists the commands check them against, and every
/// script it names must be one bench/gpu/prepare.sh copies into .gpu.
/// </summary>
public partial class GpuScriptTests
{
    private const string Cli = ".gpu/bin/pixelllm";

    private static readonly string[] GoldenStubs =
    [
        "t5/cfgA", "pixelllm/caption_trace", "pixelllm/loca_caption", "pixelllm/referring", "pixelllm_git/caption_trace",
        "pixelllm_refseg/referring_segmentation", "pixelllm_densecap/densecap", "sam_image_encoder/cfgA",
        "eva02/cfgA_mim_avgpool", "eva02/cfgB_clip_token_nonsquare",
    ];

    [Fact]
    public void DryRunFinishesAndEveryCommandParses()
    {
        var (steps, stderr) = DryRun();
        Assert.DoesNotMatch(ShellError(), stderr);
        // The script's own Python (inline summaries) ran on missing logs; where this machine has Python, none may fail.
        Assert.DoesNotMatch(PythonError(), stderr);
        var names = steps.Select(s => s.Name).ToHashSet();
        foreach (var expected in new[] { "check-f32", "check-bf16", "bench", "bench-profile", "fence-probe", "timeline-default", "timeline-pdl", "sanitizer", "bench-stream", "tune", "e2e-cuda-bf16", "product-caption", "product-bench", "pytorch-baseline" })
            Assert.Contains(expected, names);

        var copied = PreparedScripts();
        int parsed = 0;
        foreach (var (name, args) in steps)
            foreach (var invocation in Invocations(args))
            {
                if (invocation[0] == "python3")
                {
                    if (invocation.Length > 1 && invocation[1].StartsWith(".gpu/", StringComparison.Ordinal))
                        Assert.True(copied.Contains(invocation[1][5..]), $"{name}: {invocation[1]} is not among what prepare.sh copies");
                    continue;
                }
                var cliArgs = invocation[1..];
                var result = CliRoot.Create().Parse(cliArgs);
                Assert.True(result.Errors.Count == 0, $"{name}: {string.Join(' ', cliArgs)}: {string.Join("; ", result.Errors.Select(e => e.Message))}");
                CheckValues(name, cliArgs);
                parsed++;
            }
        Assert.True(parsed > 60, $"only {parsed} CLI commands found in the dry run");
    }

    /// <summary>The values the commands check only when they run (after the device is up).</summary>
    private static void CheckValues(string step, string[] args)
    {
        string? Value(string option)
        {
            int i = Array.IndexOf(args, option);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        }
        try
        {
            if (args[0] == "bench")
            {
                BenchCommand.Stages(Value("--stages"));
                if (Value("--config") is { } config) BenchConfigs.Get(config);
            }
            if (args[0] == "backend-check") BackendCheckCommand.OpNames(Value("--op"));
            if (args[0] is "verify" or "graph-check" or "caption" && Value("--backend") is { } b) Assert.Contains(b, new[] { "cpu", "cuda", "cpu-f64" });
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            Assert.Fail($"{step}: {string.Join(' ', args)}: {e.Message}");
        }
    }

    /// <summary>The CLI or python3 invocations inside one step's command: after env's assignments, after
    /// compute-sanitizer's own options, or inside a bash -c string (nsys's timelines).</summary>
    private static IEnumerable<string[]> Invocations(string[] args)
    {
        int i = 0;
        if (args[i] == "env")
            for (i++; i < args.Length && args[i].Contains('=') && !args[i].StartsWith('-'); i++) { }
        if (i < args.Length && args[i] == "compute-sanitizer")
            while (i < args.Length && args[i] != Cli) i++;
        if (i >= args.Length) yield break;
        if (args[i] == "bash" && i + 2 < args.Length && args[i + 1] == "-c")
        {
            var words = args[i + 2].Split((char[])[' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries);
            for (int w = 0; w < words.Length; w++)
            {
                if (words[w] is not (Cli or "python3")) continue;
                yield return [.. words.Skip(w).TakeWhile((x, k) => k == 0 || !(x.StartsWith('>') || x is "&&" or "||" or "|" or "\\"))];
            }
            yield break;
        }
        if (args[i] is Cli or "python3") yield return args[i..];
    }

    /// <summary>What prepare.sh copies from bench/gpu (and the PyTorch baseline, copied from the shared folder).</summary>
    private static HashSet<string> PreparedScripts()
    {
        var prepare = File.ReadAllText(Path.Combine(RepoRoot.Path, "bench", "gpu", "prepare.sh"));
        var copied = CopiedFile().Matches(prepare).Select(m => m.Groups[1].Value).ToHashSet();
        copied.Add("pytorch_baseline.py");
        return copied;
    }

    private static (List<(string Name, string[] Args)> Steps, string Stderr) DryRun()
    {
        var root = Directory.CreateTempSubdirectory("pixelllm-gpu-dry-");
        try
        {
            var gpu = Directory.CreateDirectory(Path.Combine(root.FullName, ".gpu")).FullName;
            foreach (var file in PreparedScripts().Where(f => File.Exists(Path.Combine(RepoRoot.Path, "bench", "gpu", f))))
                File.Copy(Path.Combine(RepoRoot.Path, "bench", "gpu", file), Path.Combine(gpu, file));
            foreach (var stub in GoldenStubs)
            {
                var prefix = Path.Combine(gpu, "golden", stub);
                Directory.CreateDirectory(Path.GetDirectoryName(prefix)!);
                File.WriteAllText(prefix + ".json", "{}");
                File.WriteAllText(prefix + ".io.safetensors", "");
            }
            var tools = Directory.CreateDirectory(Path.Combine(root.FullName, "tools")).FullName;
            foreach (var tool in new[] { "nvidia-smi", "nsys", "compute-sanitizer", "nvcc", "cmake" })
            {
                var path = Path.Combine(tools, tool);
                File.WriteAllText(path, tool == "nvidia-smi" ? "#!/bin/sh\necho 90\n" : "#!/bin/sh\nexit 0\n");
                if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            var output = Path.Combine(root.FullName, "out");
            var start = new ProcessStartInfo("bash", [".gpu/run.sh"])
            {
                WorkingDirectory = root.FullName,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            start.Environment["PATH"] = tools + ":" + Environment.GetEnvironmentVariable("PATH");
            start.Environment["OUT"] = output;
            start.Environment["PIXELLLM_GPU_DRY_RUN"] = "1";
            start.Environment["PIXELLLM_GPU_PHASES"] = "checks,bench,ab,tune,product,aot,baseline";
            start.Environment["PIXELLLM_GPU_BUDGET"] = "100000";
            start.Environment["PIXELLLM_GPU_ARCHIVE"] = "0";
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "the dry run did not finish in 2 minutes");
            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {stderr.Result}");
            var steps = File.ReadAllLines(Path.Combine(output, "dry-run.txt"))
                .Select(l => l.Split('\x1f'))
                .Select(f => (f[0], f[1..]))
                .ToList();
            return (steps, stderr.Result + stdout.Result);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    /// <summary>Every Python script of bench/gpu compiles (where this machine has Python).</summary>
    [Fact]
    public void EveryScriptOfTheRunCompiles()
    {
        var scripts = Directory.GetFiles(Path.Combine(RepoRoot.Path, "bench", "gpu"), "*.py");
        Assert.NotEmpty(scripts);
        // ast.parse rather than py_compile: nothing written into the tree.
        var start = new ProcessStartInfo("python3", ["-c", "import ast, sys\nfor f in sys.argv[1:]: ast.parse(open(f, encoding='utf-8').read(), f)", .. scripts])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        Process process;
        try { process = Process.Start(start)!; }
        catch (System.ComponentModel.Win32Exception) { return; } // no Python here: the dry run covers the shell side
        using (process)
        {
            var errors = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, errors);
        }
    }

    [GeneratedRegex(@"Traceback|SyntaxError")]
    private static partial Regex PythonError();

    [GeneratedRegex(@"unbound variable|syntax error|bad substitution|unexpected end of file")]
    private static partial Regex ShellError();

    [GeneratedRegex(@"bench/gpu/([\w.-]+\.(?:sh|py))")]
    private static partial Regex CopiedFile();
}
