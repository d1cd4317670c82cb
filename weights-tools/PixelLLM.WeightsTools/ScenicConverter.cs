using PixelLLM.Models;
using PixelLLM.Models.Checkpoints;
using PixelLLM.Models.ModelFiles;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.SafeTensors;

namespace PixelLLM.WeightsTools;

/// <summary>
/// scenic PixelLLM parameters (a Flax msgpack checkpoint's <c>params</c>, or a safetensors of '/'-joined scenic paths) →
/// engine tensors, through <see cref="ScenicWeights"/> (THE name map: layouts to PyTorch, LoRA merged) after checking
/// them against <see cref="ScenicParameterShapes"/>; position tables resized for the canvas by <see cref="PositionTables"/>.
/// </summary>
public static class ScenicConverter
{
    /// <summary>
    /// The plan for every engine tensor of <paramref name="config"/>, or only those under <paramref name="prefixes"/>. The
    /// whole checkpoint is validated either way (a scenic checkpoint always holds every module).
    /// </summary>
    /// <param name="scenic">The scenic parameters.</param>
    /// <param name="config">The model they belong to.</param>
    /// <param name="backend">Runs the table resizes.</param>
    /// <param name="prefixes">Engine-name prefixes to keep (e.g. the trained parts when assembling); null keeps all.</param>
    public static ConversionPlan Plan(CheckpointSource scenic, PixelLlmConfig config, IBackend backend, IReadOnlyList<string>? prefixes = null)
    {
        var weights = new ScenicWeights(scenic, ScenicWeightsOptions.For(config));
        try { weights.Validate(ScenicParameterShapes.For(config)); }
        catch (ModelFileException e) { throw new ModelFileException($"{scenic.Path}: {e.Message}", e); }

        var mappings = weights.Mappings.ToDictionary(m => m.EngineName, StringComparer.Ordinal);
        bool wantsTables = prefixes is null || PositionTables.Names(config).Any(n => Keep(n, prefixes));
        var tables = wantsTables ? PositionTables.ForCanvas(config, weights, backend) : [];
        var plan = new List<PlannedTensor>();
        foreach (var (name, shape) in EngineParameterShapes.For(config))
        {
            if (prefixes is not null && !Keep(name, prefixes)) continue;
            var desc = new TensorDesc(DType.F32, new Shape(shape));
            if (tables.TryGetValue(name, out var table)) { plan.Add(new PlannedTensor(name, desc, () => table)); continue; }
            var mapping = mappings[name];
            // Straight from the mapping, not through ScenicWeights.Get: its cache would keep every tensor in memory.
            plan.Add(new PlannedTensor(name, desc, () => LayoutTransforms.Apply(mapping.Layout, [.. mapping.Sources.Select(scenic.Get)],
                config.LoraScale, name, mapping.Sources)));
        }
        var notes = new List<string>();
        if (weights.Unmapped.Count > 0)
            notes.Add($"skipped {weights.Unmapped.Count} scenic parameters no rule maps (e.g. '{string.Join("', '", weights.Unmapped.Take(3))}')");
        if (weights.Unused.Count > 0) notes.Add($"dropped {weights.Unused.Count} scenic parameters unused at inference (prompt_adapter/dense_output_mlp)");
        void Written(PlannedTensor t)
        {
            if (mappings.TryGetValue(t.Name, out var m))
                foreach (var source in m.Sources) scenic.ReleasePages(source);
        }
        return new ConversionPlan(plan, Written, notes);
    }

    private static bool Keep(string engineName, IReadOnlyList<string> prefixes) =>
        prefixes.Any(p => engineName.StartsWith(p, StringComparison.Ordinal));
}
