using System.Buffers.Binary;
using System.Text.Json;
using PixelLLM.Cli;
using PixelLLM.Runtime;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// <c>pixelllm inspect</c> on the golden T5 weights and the torch fixtures. Expected counts come from reading the
/// safetensors header JSON directly here, not from any reader the command uses.
/// </summary>
public class InspectCommandTests
{
    private static string GoldenWeights => Path.Combine(Golden.Root, "t5", "cfgA.weights.safetensors");

    /// <summary>(name, element count, bytes) of every tensor, straight from the header JSON.</summary>
    private static List<(string Name, long Elements, long Bytes)> HeaderTensors(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, headerLength));
        return header.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__").Select(p =>
        {
            long elements = p.Value.GetProperty("shape").EnumerateArray().Aggregate(1L, (n, d) => n * d.GetInt64());
            var offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(o => o.GetInt64()).ToArray();
            return (p.Name, elements, offsets[1] - offsets[0]);
        }).ToList();
    }

    private static JsonElement RunJson(string path, int? depth = null)
    {
        var output = new StringWriter();
        Assert.Equal(0, InspectCommand.Run(path, json: true, depth, output));
        return JsonDocument.Parse(output.ToString()).RootElement;
    }

    [Fact]
    public void JsonTotalsAndGroupsMatchTheGoldenHeader()
    {
        var expected = HeaderTensors(GoldenWeights);
        var report = RunJson(GoldenWeights);

        var totals = report.GetProperty("totals");
        Assert.Equal(expected.Count, totals.GetProperty("tensors").GetInt32());
        Assert.Equal(expected.Sum(t => t.Elements), totals.GetProperty("parameters").GetInt64());
        Assert.Equal(expected.Sum(t => t.Bytes), totals.GetProperty("bytes").GetInt64());

        var listed = report.GetProperty("files")[0].GetProperty("tensors").EnumerateArray()
            .Select(t => (t.GetProperty("name").GetString()!, t.GetProperty("parameters").GetInt64(), t.GetProperty("bytes").GetInt64()));
        Assert.Equal(expected, listed);

        // The T5 names split at the first component into decoder, encoder, lm_head and shared.
        Assert.Equal(1, report.GetProperty("groupDepth").GetInt32());
        var groups = report.GetProperty("groups").EnumerateArray().ToDictionary(g => g.GetProperty("prefix").GetString()!);
        var firstComponents = expected.GroupBy(t => t.Name.Split('.')[0]).ToDictionary(g => g.Key, g => (g.Count(), g.Sum(t => t.Elements)));
        Assert.Equal(firstComponents.Keys.Order(), groups.Keys.Order());
        foreach (var (prefix, (count, elements)) in firstComponents)
        {
            Assert.Equal(count, groups[prefix].GetProperty("tensors").GetInt32());
            Assert.Equal(elements, groups[prefix].GetProperty("parameters").GetInt64());
        }
    }

    [Fact]
    public void ExplicitDepthGroupsByMoreComponents()
    {
        var expected = HeaderTensors(GoldenWeights);
        var report = RunJson(GoldenWeights, depth: 3);
        static string Prefix(string name) => string.Join('.', name.Split('.').Take(3));
        var groups = report.GetProperty("groups").EnumerateArray()
            .ToDictionary(g => g.GetProperty("prefix").GetString()!, g => g.GetProperty("parameters").GetInt64());
        var want = expected.GroupBy(t => Prefix(t.Name)).ToDictionary(g => g.Key, g => g.Sum(t => t.Elements));
        Assert.Equal(want.OrderBy(p => p.Key), groups.OrderBy(p => p.Key));
    }

    [Fact]
    public void TextReportHasOneLinePerTensorAndTheTotals()
    {
        var expected = HeaderTensors(GoldenWeights);
        var output = new StringWriter();
        Assert.Equal(0, InspectCommand.Run(GoldenWeights, json: false, depth: null, output));
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        foreach (var (name, _, bytes) in expected)
        {
            var line = Assert.Single(lines, l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0] == name);
            Assert.EndsWith(bytes.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), line.TrimEnd());
        }
        var parameters = expected.Sum(t => t.Elements).ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains(lines, l => l.StartsWith($"total: {expected.Count} tensors, {parameters} parameters", StringComparison.Ordinal));
    }

    [Fact]
    public void DirectoriesListEveryCheckpointFile()
    {
        var dir = Path.Combine(Golden.Root, "t5");
        var files = Directory.GetFiles(dir, "*.safetensors");
        var report = RunJson(dir);
        Assert.Equal(files.Length, report.GetProperty("totals").GetProperty("files").GetInt32());
        Assert.Equal(files.Sum(f => HeaderTensors(f).Count), report.GetProperty("totals").GetProperty("tensors").GetInt32());
    }

    [Fact]
    public void TorchCheckpointsAreInspectedWithTheirFlattenedNames()
    {
        var report = RunJson(TorchFixtures.Path("nested.pth"));
        Assert.Equal("pytorch", report.GetProperty("files")[0].GetProperty("format").GetString());
        var groups = report.GetProperty("groups").EnumerateArray()
            .ToDictionary(g => g.GetProperty("prefix").GetString()!, g => g.GetProperty("parameters").GetInt64());
        // nn.Linear(3, 4) + LayerNorm(4) = 12 + 4 + 4 + 4; ema.shadow.w (3); param (2x2); history (2 + 1).
        Assert.Equal(new Dictionary<string, long> { ["model"] = 24, ["ema"] = 3, ["param"] = 4, ["history"] = 3 }, groups);
    }

    [Fact]
    public void ScenicCheckpointsAreInspectedAndGroupedBySlashComponents()
    {
        using var dir = new TempDirectory();
        var path = dir.File("checkpoint_1000"); // scenic's own naming, without an extension
        File.WriteAllBytes(path, ScenicCheckpointSamples.TrainStateBytes().Bytes);
        var expected = ScenicCheckpointSamples.TrainState().Expected;

        var report = RunJson(path);
        var file = report.GetProperty("files")[0];
        Assert.Equal("flax-msgpack", file.GetProperty("format").GetString());
        var listed = file.GetProperty("tensors").EnumerateArray()
            .ToDictionary(t => t.GetProperty("name").GetString()!, t => t.GetProperty("parameters").GetInt64());
        Assert.Equal(expected.ToDictionary(p => p.Key, p => p.Value.Shape.Aggregate(1L, (n, d) => n * d)).OrderBy(p => p.Key), listed.OrderBy(p => p.Key));

        // '/' separates Flax components; the '.' inside "blocks.0" does not.
        var groups = report.GetProperty("groups").EnumerateArray().Select(g => g.GetProperty("prefix").GetString()!).ToHashSet();
        Assert.Equal(expected.Keys.Select(k => k.Split('/')[0]).ToHashSet(), groups);
        Assert.Equal(1, RunJson(dir.Path).GetProperty("totals").GetProperty("files").GetInt32());
    }

    [Fact]
    public void ASingleTopLevelPrefixIsSplitOneLevelDeeper()
    {
        using var dir = new TempDirectory();
        var path = dir.File("wrapped.safetensors");
        SafeTensorsWriter.Write(path,
        [
            new("model.encoder.w", HostTensor.Zeros(DType.F32, 3, 5)), new("model.decoder.w", HostTensor.Zeros(DType.F16, 7)),
            new("model.decoder.b", HostTensor.Zeros(DType.F16, 2)),
        ]);
        var report = RunJson(path);
        Assert.Equal(2, report.GetProperty("groupDepth").GetInt32());
        var groups = report.GetProperty("groups").EnumerateArray()
            .ToDictionary(g => g.GetProperty("prefix").GetString()!, g => g.GetProperty("parameters").GetInt64());
        Assert.Equal(new Dictionary<string, long> { ["model.encoder"] = 15, ["model.decoder"] = 9 }, groups);
    }

    [Fact]
    public void BadPathsAndFilesAreOneLineErrorsWithExitCode2()
    {
        Assert.Throws<InvalidInputException>(() => InspectCommand.Run("/no/such/checkpoint.pth", false, null, TextWriter.Null));
        using var dir = new TempDirectory();
        var unknown = dir.File("params.npz");
        File.WriteAllBytes(unknown, [0x80]);
        Assert.Contains("unknown checkpoint type '.npz'", Assert.Throws<InvalidInputException>(() => InspectCommand.Run(unknown, false, null, TextWriter.Null)).Message);
        Assert.Throws<InvalidInputException>(() => InspectCommand.Run(GoldenWeights, false, 0, TextWriter.Null));
        Assert.Throws<InvalidInputException>(() => InspectCommand.Run(dir.Path, false, null, TextWriter.Null)); // no checkpoint files
        var msgpack = dir.File("params.msgpack");
        File.WriteAllBytes(msgpack, [0x80]);
        Assert.Equal(CliErrors.BadInput, CliErrors.Guard(() => InspectCommand.Run(msgpack, false, null, TextWriter.Null)));

        Assert.Equal(CliErrors.BadInput, CliErrors.Guard(() => InspectCommand.Run(TorchFixtures.Path("legacy.pth"), false, null, TextWriter.Null)));
        Assert.Equal(CliErrors.BadInput, CliErrors.Guard(() => InspectCommand.Run(TorchFixtures.Path("malicious.pth"), true, null, TextWriter.Null)));
    }
}
