using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using PixelLLM.Models.ModelFiles;
using PixelLLM.Runtime;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Tests.Support;
using PixelLLM.WeightsTools;

namespace PixelLLM.Tests.ModelFiles;

/// <summary>The model directory format: write → open round trips, atomic writes, and one clear error per kind of damage.</summary>
public class ModelDirectoryTests
{
    internal static ModelConfigSource TinyConfig() =>
        ModelConfigSource.FromFile(Path.Combine(Golden.Root, "pixelllm", "caption_trace.json"));

    internal static string TinyTokenizer => Path.Combine(Golden.Root, "pixelllm", "spiece.model");

    [Theory]
    [InlineData("f32")]
    [InlineData("bf16")]
    [InlineData("f16")]
    public void RandomModelRoundTripsThroughWriteAndOpen(string dtypeName)
    {
        using var temp = new TempDirectory();
        var source = TinyConfig();
        var dtype = ModelDirectoryManifest.ParseDType(dtypeName)!.Value;
        var dir = temp.File("model");
        RandomModel.Write(source, dir, seed: 5, dtype, TinyTokenizer);

        using var model = ModelDirectory.Open(dir);
        Assert.Equal(dtype, model.StorageType);
        Assert.True(model.TensorReport.Passed, model.TensorReport.Summary());
        Assert.Equal(source.Config.T5.DModel, model.Config.T5.DModel);
        Assert.Equal(96, model.Tokenizer.VocabSize);
        Assert.Equal(EngineParameterShapes.For(source.Config).Keys.Order(), model.StoredWeights.Names.Order());
        // Every tensor reads back (as f32) as the generator made it, up to the storage rounding.
        foreach (var plan in RandomModel.Plan(source, 5))
        {
            var expected = plan.Produce().ToFloatArray();
            var actual = model.Weights.Get(plan.Name);
            Assert.Equal(DType.F32, actual.DType);
            var values = actual.ToFloatArray();
            double tolerance = dtype == DType.F32 ? 0 : dtype == DType.BF16 ? 1.0 / 128 : 1.0 / 1024;
            for (int i = 0; i < values.Length; i++)
                Assert.True(Math.Abs(values[i] - expected[i]) <= tolerance * Math.Abs(expected[i]) + 1e-7, $"{plan.Name}[{i}]: {values[i]} vs {expected[i]}");
        }
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(temp.Path), p => Path.GetFileName(p).StartsWith('.'));
    }

    /// <summary>
    /// The projections a graph stacks (T5's q, k, v and wi_0, wi_1; EVA02's q, k, v) lie back to back in the file, so
    /// stacking them is a view of the mapped file (ParamScope.Stacked), not a copy (1.5 GB at T5-XL's encoder).
    /// </summary>
    [Fact]
    public void StackedProjectionsAreStoredBackToBack()
    {
        using var temp = new TempDirectory();
        var dir = temp.File("model");
        RandomModel.Write(TinyConfig(), dir, seed: 5, DType.BF16, TinyTokenizer);
        using var file = SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors"));
        string[][] groups = [["q", "k", "v"], ["wi_0", "wi_1"], ["q_proj", "k_proj", "v_proj"]];
        int checkedGroups = 0;
        foreach (var name in file.Names)
            foreach (var group in groups)
            {
                var suffix = $".{group[0]}.weight";
                if (!name.EndsWith(suffix, StringComparison.Ordinal) || !(name.StartsWith("t5.", StringComparison.Ordinal) || name.StartsWith("eva02.", StringComparison.Ordinal)))
                    continue;
                var parts = group.Select(g => file[name[..^suffix.Length] + $".{g}.weight"]).ToArray();
                for (int i = 1; i < parts.Length; i++)
                    Assert.Equal(parts[i - 1].Data.Length, (long)Unsafe.ByteOffset(ref MemoryMarshal.GetReference(parts[i - 1].Data.Span),
                        ref MemoryMarshal.GetReference(parts[i].Data.Span)));
                checkedGroups++;
            }
        Assert.True(checkedGroups >= 10, $"{checkedGroups} groups");
    }

    [Fact]
    public void InitIsDeterministicPerSeed()
    {
        using var temp = new TempDirectory();
        var source = TinyConfig();
        RandomModel.Write(source, temp.File("a"), 7, DType.F32, null);
        RandomModel.Write(source, temp.File("b"), 7, DType.F32, null);
        RandomModel.Write(source, temp.File("c"), 8, DType.F32, null);
        var a = File.ReadAllBytes(Path.Combine(temp.File("a"), "model.safetensors"));
        Assert.Equal(a, File.ReadAllBytes(Path.Combine(temp.File("b"), "model.safetensors")));
        Assert.NotEqual(a, File.ReadAllBytes(Path.Combine(temp.File("c"), "model.safetensors")));
        // The synthetic tokenizer fits the vocabulary and tokenises plain text.
        using var model = ModelDirectory.Open(temp.File("a"));
        Assert.Equal(96, model.Tokenizer.VocabSize);
        var ids = model.Tokenizer.Encode("a photo of a cat", addEos: true);
        Assert.Equal(model.Tokenizer.EosId, ids[^1]);
        Assert.All(ids, id => Assert.InRange(id, 0, 95));
    }

    [Fact]
    public void StreamedWriteAcceptsLazyTensorsAndRejectsAWrongPlan()
    {
        using var temp = new TempDirectory();
        var source = TinyConfig();
        var plan = RandomModel.Plan(source, 1);
        var manifest = new ModelDirectoryManifest(source.Json, DType.F32, TokenizerKind.SentencePiece, "tiny");
        ModelDirectory.Write(temp.File("lazy"), manifest, plan.Select(p => (p.Name, p.Produce())), TinyTokenizer);
        using (var model = ModelDirectory.Open(temp.File("lazy"))) Assert.Equal("tiny", model.Name);

        var wrong = plan.Select(p => p.Name != "t5.shared.weight" ? p : p with { Produce = () => HostTensor.Zeros(DType.F32, 3, 3) }).ToList();
        var e = Assert.Throws<ModelFileException>(() => ModelDirectory.Write(temp.File("wrong"), manifest, wrong, TinyTokenizer));
        Assert.Contains("'t5.shared.weight'", e.Message);
        Assert.False(Directory.Exists(temp.File("wrong")));
        Assert.Single(Directory.EnumerateFileSystemEntries(temp.Path));   // only "lazy": no temp directory left behind
    }

    [Fact]
    public void WriteRefusesToReplaceSomethingElse()
    {
        using var temp = new TempDirectory();
        var source = TinyConfig();
        var manifest = new ModelDirectoryManifest(source.Json, DType.F32, TokenizerKind.SentencePiece);
        Directory.CreateDirectory(temp.File("precious"));
        File.WriteAllText(Path.Combine(temp.File("precious"), "notes.txt"), "keep me");
        Assert.Throws<InvalidInputException>(() => ModelDirectory.Write(temp.File("precious"), manifest, RandomModel.Plan(source, 1), TinyTokenizer));
        Assert.True(File.Exists(Path.Combine(temp.File("precious"), "notes.txt")));
        // A missing tensor is caught before anything appears at the target.
        var partial = RandomModel.Plan(source, 1).Where(p => p.Name != "point_head.norm.bias").ToList();
        var e = Assert.Throws<ModelFileException>(() => ModelDirectory.Write(temp.File("partial"), manifest, partial, TinyTokenizer));
        Assert.Contains("point_head.norm.bias", e.Message);
        Assert.False(Directory.Exists(temp.File("partial")));
    }

    public static TheoryData<string, string> DamagedConfigs => new()
    {
        { """{"format": "other/2"}""", "'format'" },
        { """{"format": "pixelllm-native/1", "model": {}, "dtype": "f32", "weights": ["model.safetensors"], "tokenizer": {"kind": "sentencepiece", "file": "spiece.model"}}""", "'model'" },
        { """{"format": "pixelllm-native/1", "model": MODEL, "dtype": "f64", "weights": ["model.safetensors"], "tokenizer": {"kind": "sentencepiece", "file": "spiece.model"}}""", "'dtype'" },
        { """{"format": "pixelllm-native/1", "model": MODEL, "dtype": "f32", "weights": [], "tokenizer": {"kind": "sentencepiece", "file": "spiece.model"}}""", "'weights'" },
        { """{"format": "pixelllm-native/1", "model": MODEL, "dtype": "f32", "weights": ["../x.safetensors"], "tokenizer": {"kind": "sentencepiece", "file": "spiece.model"}}""", "'weights[0]'" },
        { """{"format": "pixelllm-native/1", "model": MODEL, "dtype": "f32", "weights": ["model.safetensors"], "tokenizer": {"kind": "bpe", "file": "spiece.model"}}""", "'tokenizer.kind'" },
        { """{"format": "pixelllm-native/1", "model": MODEL, "dtype": "bf16", "weights": ["model.safetensors"], "tokenizer": {"kind": "sentencepiece", "file": "spiece.model"}}""", "'dtype' says bf16" },
        { """{"format": "pixelllm-native/1", "model": MODEL, "dtype": "f32", "weights": ["model.safetensors", "missing.safetensors"], "tokenizer": {"kind": "sentencepiece", "file": "spiece.model"}}""", "missing.safetensors" },
        { "not json", "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(DamagedConfigs))]
    public void DamagedConfigNamesTheField(string configText, string expected)
    {
        using var temp = new TempDirectory();
        var source = TinyConfig();
        var dir = temp.File("model");
        RandomModel.Write(source, dir, 1, DType.F32, TinyTokenizer);
        File.WriteAllText(Path.Combine(dir, "config.json"), configText.Replace("MODEL", source.Json.ToJsonString()));
        var e = Assert.Throws<ModelFileException>(() => ModelDirectory.Open(dir));
        Assert.Contains(expected, e.Message);
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void ModelFieldErrorsNameTheKey()
    {
        using var temp = new TempDirectory();
        var source = TinyConfig();
        var dir = temp.File("model");
        RandomModel.Write(source, dir, 1, DType.F32, TinyTokenizer);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!.AsObject();
        config["model"]!["t5"]!.AsObject().Remove("emb_dim");
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        var e = Assert.Throws<ModelFileException>(() => ModelDirectory.Open(dir));
        Assert.Contains("'model'", e.Message);
        Assert.Contains("emb_dim", e.Message);
    }

    [Fact]
    public void TensorsThatDoNotFitTheConfigAreListedByName()
    {
        using var temp = new TempDirectory();
        var source = TinyConfig();
        var dir = temp.File("model");
        RandomModel.Write(source, dir, 1, DType.F32, TinyTokenizer);
        var tensors = new List<KeyValuePair<string, HostTensor>>();
        using (var file = SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors")))
            foreach (var name in file.Names.Where(n => n != "t5.lm_head.weight"))
                tensors.Add(new(name, name == "eva02.cls_token" ? HostTensor.Zeros(DType.F32, 1, 2, 32) : file.Load(name, DType.F32)));
        tensors.Add(new("t5.extra.weight", HostTensor.Zeros(DType.F32, 2)));
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors);

        var e = Assert.Throws<ModelFileException>(() => ModelDirectory.Open(dir));
        Assert.Contains("'t5.lm_head.weight'", e.Message);
        Assert.Contains("'t5.extra.weight'", e.Message);
        Assert.Contains("'eva02.cls_token' is (1, 2, 32), expected (1, 1, 32)", e.Message);
        using var unchecked_ = ModelDirectory.Open(dir, checkTensors: false);
        Assert.Equal(["t5.lm_head.weight"], unchecked_.TensorReport.Missing);
        Assert.Equal(["t5.extra.weight"], unchecked_.TensorReport.Unexpected);
        Assert.Equal("eva02.cls_token", Assert.Single(unchecked_.TensorReport.Misshaped).Name);
    }
}
