using System.Text.Json.Nodes;
using PixelLLM.Backends.Cpu;
using PixelLLM.Cli;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// <c>pixelllm verify</c> on corrupted copies of a real case (t5/cfgA): it never reports a pass it should not — a NaN
/// reference, a NaN tolerance, a tensor the case lists but its io file lacks — and a malformed case JSON is one
/// <c>error: FILE: FIELD …</c> line with exit code 2, or in a folder run that case's FAIL line, never an internal error.
/// </summary>
public class VerifyMalformedCaseTests
{
    private const string Component = "t5", Case = "cfgA";

    [Fact]
    public void ANanReferenceTensorFailsAndItsRowShowsTheError()
    {
        using var temp = CopyOfCase();
        EditIo(temp, tensors => tensors["out.logits"] = Filled(tensors["out.logits"], float.NaN));

        using var backend = new CpuBackend();
        var report = GoldenVerifier.Verify(temp.File(Case), backend);
        var logits = Assert.Single(report.Checks, c => c.Name == "out.logits");
        Assert.False(logits.Passed);
        Assert.Equal(double.PositiveInfinity, logits.MaxAbsError);
        Assert.Equal(double.PositiveInfinity, logits.WorstRatio);
        Assert.False(report.Passed);
        Assert.Equal(1, CliInProcess.Run("verify", temp.File(Case), "--quiet").ExitCode);
    }

    [Fact]
    public void NonFiniteValuesAreEqualOnlyToThemselves()
    {
        var tol = Tolerance.Default;
        HostTensor T(params float[] v) => HostTensor.FromArray(v, v.Length);
        Assert.True(GoldenComparison.CompareOne("both NaN", T(float.NaN, 1), T(float.NaN, 1), tol).Passed);
        Assert.True(GoldenComparison.CompareOne("same infinity", T(float.PositiveInfinity), T(float.PositiveInfinity), tol).Passed);
        Assert.False(GoldenComparison.CompareOne("NaN reference", T(float.NaN), T(1), tol).Passed);
        Assert.False(GoldenComparison.CompareOne("NaN ours", T(1), T(float.NaN), tol).Passed);
        Assert.False(GoldenComparison.CompareOne("infinite reference", T(float.PositiveInfinity), T(1), tol).Passed);
        Assert.False(GoldenComparison.CompareOne("infinite ours", T(1), T(float.NegativeInfinity), tol).Passed);
        Assert.False(GoldenComparison.CompareOne("opposite infinities", T(float.NegativeInfinity), T(float.PositiveInfinity), tol).Passed);
    }

    [Theory]
    [InlineData("--atol", "NaN")]
    [InlineData("--rtol", "NaN")]
    [InlineData("--atol", "Infinity")]
    [InlineData("--rtol", "-Infinity")]
    [InlineData("--rtol", "-1")]
    public void NonFiniteOrNegativeToleranceIsRefusedBeforeAnyWork(string option, string value)
    {
        // The case does not exist: the option must be refused before the case is even looked for.
        var (exit, error) = CliInProcess.Run("verify", Path.Combine(Path.GetTempPath(), "pixelllm-no-such-case"), option, value);
        Assert.Equal(CliErrors.BadInput, exit);
        Assert.Equal($"error: {option} must be a finite non-negative number, got {value}", error.TrimEnd());
    }

    [Fact]
    public void ATensorTheCaseListsButItsIoFileLacksIsAFailingRow()
    {
        using var temp = CopyOfCase();
        EditIo(temp, tensors => tensors.Remove("out.logits"));

        using var backend = new CpuBackend();
        var report = GoldenVerifier.Verify(temp.File(Case), backend);
        var logits = Assert.Single(report.Checks, c => c.Name == "out.logits");
        Assert.False(logits.Passed);
        Assert.Equal($"listed in {Case}.json but missing from {Case}.io.safetensors", logits.Note);
        Assert.False(report.Passed);
    }

    [Theory]
    [InlineData("delete d_model", "config.d_model is missing (expected a positive integer)")]
    [InlineData("d_model string", "config.d_model must be a positive integer (got \"32\")")]
    [InlineData("negative d_model", "config.d_model must be a positive integer (got -32)")]
    [InlineData("component number", "component must be a string (got 3)")]
    [InlineData("array", "the case must be a JSON object (got an array)")]
    public void AMalformedCaseJsonIsOneLineNamingTheFileAndTheField(string edit, string expected)
    {
        using var temp = CopyOfCase();
        EditJson(temp, edit);

        var (exit, error) = CliInProcess.Run("verify", temp.File(Case), "--quiet");
        Assert.Equal(CliErrors.BadInput, exit);
        Assert.Equal($"error: {temp.File(Case + ".json")}: {expected}", error.TrimEnd());
    }

    [Fact]
    public void AFolderRunReportsABrokenCaseAndGoesOn()
    {
        using var temp = CopyOfCase();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(Golden.Root, Component), "cfgB_*"))
            File.Copy(file, temp.File(Path.GetFileName(file)));
        EditJson(temp, "d_model string");

        using var backend = new CpuBackend();
        var output = new StringWriter();
        Assert.Equal(1, VerifyCommand.VerifyFolder(temp.Path, backend, null, quiet: false, output));
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal($"FAIL  {Case}: error: {temp.File(Case + ".json")}: config.d_model must be a positive integer (got \"32\")", lines[0]);
        Assert.StartsWith("pass  cfgB_", lines[1]);
        Assert.Equal($"verify: 1/2 cases pass ({temp.Path}, cpu)", lines[^1]);
    }

    private static TempDirectory CopyOfCase()
    {
        var temp = new TempDirectory();
        foreach (var suffix in new[] { ".json", ".io.safetensors", ".weights.safetensors" })
            File.Copy(Path.Combine(Golden.Root, Component, Case + suffix), temp.File(Case + suffix));
        return temp;
    }

    private static void EditIo(TempDirectory temp, Action<Dictionary<string, HostTensor>> edit)
    {
        Dictionary<string, HostTensor> tensors;
        using (var io = SafeTensorsFile.Open(Path.Combine(Golden.Root, Component, Case + ".io.safetensors")))
            tensors = io.Names.ToDictionary(n => n, n => Copy(io.Get(n)));
        edit(tensors);
        SafeTensorsWriter.Write(temp.File(Case + ".io.safetensors"), tensors);
    }

    /// <summary>The tensor's bytes copied out: the file they were read from is closed before the edited copy is written.</summary>
    private static HostTensor Copy(HostTensor t) => new(t.Desc, t.Data.ToArray());

    private static HostTensor Filled(HostTensor like, float value) =>
        HostTensor.FromArray(Enumerable.Repeat(value, checked((int)like.Desc.ElementCount)).ToArray(), like.Shape.ToArray());

    private static void EditJson(TempDirectory temp, string edit)
    {
        var path = temp.File(Case + ".json");
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var config = root["config"]!.AsObject();
        JsonNode edited = edit switch
        {
            "delete d_model" => Do(() => config.Remove("d_model"), root),
            "d_model string" => Do(() => config["d_model"] = "32", root),
            "negative d_model" => Do(() => config["d_model"] = -32, root),
            "component number" => Do(() => root["component"] = 3, root),
            "array" => new JsonArray(),
            _ => throw new ArgumentException(edit),
        };
        File.WriteAllText(path, edited.ToJsonString());
    }

    private static JsonNode Do(Action action, JsonNode result)
    {
        action();
        return result;
    }
}
