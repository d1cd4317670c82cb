using PixelLLM.Models;
using PixelLLM.Models.ModelFiles;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.WeightsTools;

public static partial class ModelConverter
{
    /// <summary>Engine modules PixelLLM trains on top of the public backbones (random-initialised when no scenic checkpoint is given).</summary>
    public static readonly string[] TrainedModules = ["prompt_adapter.", "visual_projection.", "point_head."];

    /// <summary>
    /// A full model directory from the public parts (SAM .pth, timm EVA02, HF Flan-T5: recognised by their tensor names,
    /// in any order) and, optionally, a scenic checkpoint. Each engine tensor comes from the public input that holds it,
    /// else from the scenic checkpoint, else (trained modules only) from seeded random init. Position tables are resized
    /// for the canvas as in the scenic converter.
    /// </summary>
    private static ConvertResult Assemble(ConvertRequest request, IBackend backend)
    {
        if (request.Config is null) throw new InvalidInputException("convert --from assemble: pass --config NAME|FILE (the model to build)");
        var model = ModelConfigSource.Resolve(request.Config);
        var opened = new List<CheckpointSource>();
        try
        {
            var plans = new List<(string Role, ConversionPlan Plan)>();
            CheckpointSource? scenic = null;
            foreach (var input in request.Inputs)
            {
                var source = CheckpointSource.Open(input);
                opened.Add(source);
                switch (Recognise(source))
                {
                    case "sam": plans.Add(("SAM", ComponentPlans.Sam(source))); break;
                    case "eva02": plans.Add(("EVA02", ComponentPlans.TimmEva02(source))); break;
                    case "t5": plans.Add(("T5", ComponentPlans.HfT5(source))); break;
                    case "scenic": scenic = scenic is null ? source : throw new InvalidInputException("convert --from assemble: two scenic checkpoints given"); break;
                    default: throw new InvalidInputException($"{input}: not recognised as SAM (.pth), timm EVA02, HF T5 or a scenic checkpoint");
                }
            }
            var expected = EngineParameterShapes.For(model.Config);
            var tensors = new Dictionary<string, (PlannedTensor Tensor, ConversionPlan Plan, string Origin)>(StringComparer.Ordinal);
            foreach (var (role, plan) in plans)
                foreach (var t in plan.Tensors.Where(t => expected.ContainsKey(t.Name)))
                    if (!tensors.TryAdd(t.Name, (t, plan, role))) throw new InvalidInputException($"convert --from assemble: '{t.Name}' is in two inputs");
            if (scenic is not null)
            {
                var plan = ScenicConverter.Plan(scenic, model.Config, backend);
                foreach (var t in plan.Tensors) tensors.TryAdd(t.Name, (t, plan, "scenic"));
            }
            var random = new ConversionPlan([], _ => { }, []);
            foreach (var (name, shape) in expected)
            {
                if (tensors.ContainsKey(name) || !TrainedModules.Any(m => name.StartsWith(m, StringComparison.Ordinal))) continue;
                var entry = new KeyValuePair<string, int[]>(name, shape);
                tensors[name] = (new PlannedTensor(name, new TensorDesc(DType.F32, new Shape(shape)), () => new RandomWeights([entry], request.Seed).Get(name)), random, "random");
            }
            var missing = expected.Keys.Where(n => !tensors.ContainsKey(n)).ToList();
            if (missing.Count > 0)
                throw new InvalidInputException($"convert --from assemble: no input provides {missing.Count} tensors (e.g. '{string.Join("', '", missing.Take(3))}'); give the SAM, EVA02 and T5 checkpoints or a scenic checkpoint");
            var report = TensorChecklist.Compare(expected, tensors.Values.Select(t => (t.Tensor.Name, t.Tensor.Desc.Shape)));
            if (!report.Passed) throw new ModelFileException($"convert --from assemble: the inputs do not fit --config {request.Config}: {report.Summary()}");

            // The stored tables are resized for the canvas: computed once from whichever input holds them.
            var tables = PositionTables.ForCanvas(model.Config, new PlannedWeights(tensors.ToDictionary(t => t.Key, t => t.Value.Tensor)), backend);
            var ordered = expected.Keys.Select(n => tables.TryGetValue(n, out var table)
                ? new PlannedTensor(n, new TensorDesc(DType.F32, table.Shape), () => table) : tensors[n].Tensor).ToList();
            var notes = plans.SelectMany(p => p.Plan.Notes).ToList();
            foreach (var group in tensors.Values.GroupBy(t => t.Origin))
                notes.Add($"{group.Count()} tensors from {group.Key} ({string.Join(", ", group.Select(t => t.Tensor.Name.Split('.')[0]).Distinct())})");
            var manifest = new ModelDirectoryManifest(model.Json, request.StorageType, ModelDirectoryManifest.TokenizerFor(model.Config), model.Name);
            var tokenizer = TokenizerFor(request, manifest.TokenizerFileName);
            ModelDirectory.Write(request.OutDir, manifest, ordered, tokenizer, t => { if (tensors.TryGetValue(t.Name, out var s)) s.Plan.Written(s.Tensor); });
            return new ConvertResult(request.OutDir, ordered.Count, ordered.Sum(t => t.Desc.ElementCount), notes);
        }
        finally
        {
            foreach (var source in opened) source.Dispose();
        }
    }

    /// <summary>"sam", "eva02", "t5", "scenic" or null, from the tensor names.</summary>
    public static string? Recognise(CheckpointSource source)
    {
        if (source.Format == "flax-msgpack" || source.Names.Any(n => n.Contains('/', StringComparison.Ordinal))) return "scenic";
        if (source.Contains("image_encoder.patch_embed.proj.weight")) return "sam";
        if (source.Contains("shared.weight") && source.Contains("encoder.block.0.layer.0.SelfAttention.q.weight")) return "t5";
        if (source.Contains("cls_token") && source.Contains("patch_embed.proj.weight")) return "eva02";
        return null;
    }

    /// <summary>Planned tensors as a weight source (each produced on request).</summary>
    private sealed class PlannedWeights(IReadOnlyDictionary<string, PlannedTensor> tensors) : IWeightSource
    {
        public IEnumerable<string> Names => tensors.Keys;
        public bool Contains(string name) => tensors.ContainsKey(name);
        public HostTensor Get(string name) => tensors.TryGetValue(name, out var t) ? t.Produce() : throw new ModelFileException($"no input provides '{name}'");
    }
}
