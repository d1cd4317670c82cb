using System.Text.RegularExpressions;
using PixelLLM.Models;
using PixelLLM.Models.ModelFiles;
using PixelLLM.Runtime;
using PixelLLM.Runtime.SafeTensors;

namespace PixelLLM.WeightsTools;

/// <summary>
/// Public backbone checkpoints → engine names: segment-anything (<c>sam.*</c>), timm EVA02 (<c>eva02.*</c>) and Hugging Face
/// T5 (<c>t5.*</c>). The public names ARE the engine's (behind the module prefix), so tensors pass through unchanged as
/// views, except timm's fused qkv, which is split. Each plan checks the structure it can infer and names what is missing.
/// </summary>
public static partial class ComponentPlans
{
    /// <summary>segment-anything: image_encoder.*, prompt_encoder.*, mask_decoder.* → sam.*.</summary>
    public static ConversionPlan Sam(CheckpointSource source)
    {
        string[] modules = ["image_encoder.", "prompt_encoder.", "mask_decoder."];
        Require(source, "image_encoder.patch_embed.proj.weight", "image_encoder.pos_embed", "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix");
        int depth = Count(source, BlockIndex(), "image_encoder.blocks.");
        for (int i = 0; i < depth; i++)
            Require(source, $"image_encoder.blocks.{i}.attn.qkv.weight", $"image_encoder.blocks.{i}.attn.proj.weight",
                $"image_encoder.blocks.{i}.mlp.lin1.weight", $"image_encoder.blocks.{i}.mlp.lin2.weight", $"image_encoder.blocks.{i}.norm1.weight");
        return Renamed(source, name => modules.Any(m => name.StartsWith(m, StringComparison.Ordinal)) ? "sam." + name : null);
    }

    /// <summary>timm Eva (EVA02) state dict → eva02.*; a fused attn.qkv (+ q_bias, v_bias) is split into q/k/v_proj.</summary>
    public static ConversionPlan TimmEva02(CheckpointSource source)
    {
        Require(source, "cls_token", "pos_embed", "patch_embed.proj.weight");
        int depth = Count(source, BlockIndex(), "blocks.");
        var plan = new List<PlannedTensor>();
        var sources = new Dictionary<string, string>(StringComparer.Ordinal);
        var skipped = new List<string>();
        foreach (var name in source.Names)
        {
            var fused = FusedQkv().Match(name);
            if (fused.Success)
            {
                var block = fused.Groups[1].Value;
                var desc = source.Describe(name);
                int dim = desc.Shape[0] / 3;
                if (desc.Shape.Rank != 2 || desc.Shape[0] != 3 * dim) throw new ModelFileException($"{source.Path}: '{name}' is {desc.Shape}, expected (3·dim, dim)");
                foreach (var (proj, index) in new[] { ("q_proj", 0), ("k_proj", 1), ("v_proj", 2) })
                {
                    var engine = $"eva02.blocks.{block}.attn.{proj}.weight";
                    plan.Add(new PlannedTensor(engine, desc with { Shape = new Shape(dim, desc.Shape[1]) }, () => Rows(source.Get(name), index * dim, dim)));
                    sources[engine] = name;
                }
                continue;
            }
            var bias = SplitBias().Match(name);
            if (bias.Success)
            {
                if (bias.Groups[2].Value == "k") { skipped.Add(name); continue; }   // EVA02 has no k bias (timm keeps zeros)
                var engine = $"eva02.blocks.{bias.Groups[1].Value}.attn.{bias.Groups[2].Value}_proj.bias";
                plan.Add(new PlannedTensor(engine, source.Describe(name), () => source.Get(name)));
                sources[engine] = name;
                continue;
            }
            if (name.StartsWith("rope.", StringComparison.Ordinal)) { skipped.Add(name); continue; }   // buffers, recomputed
            plan.Add(new PlannedTensor("eva02." + name, source.Describe(name), () => source.Get(name)));
            sources["eva02." + name] = name;
        }
        for (int i = 0; i < depth; i++)
            foreach (var leaf in new[] { "attn.q_proj.weight", "attn.k_proj.weight", "attn.v_proj.weight", "attn.proj.weight", "mlp.fc1_g.weight", "mlp.fc1_x.weight", "mlp.fc2.weight", "norm1.weight", "norm2.weight" })
                if (!sources.ContainsKey($"eva02.blocks.{i}.{leaf}"))
                    throw new ModelFileException($"{source.Path}: missing 'blocks.{i}.{leaf}' (block {i} of {depth}); is this a timm EVA02 state dict?");
        var notes = skipped.Count == 0 ? [] : new List<string> { $"skipped {skipped.Count} timm tensors the engine recomputes or does not use (e.g. '{skipped[0]}')" };
        return new ConversionPlan(plan, t => { if (sources.TryGetValue(t.Name, out var s)) source.ReleasePages(s); }, notes);
    }

    /// <summary>Hugging Face T5ForConditionalGeneration (gated FFN, e.g. Flan-T5) → t5.*; the tied embed_tokens copies are dropped.</summary>
    public static ConversionPlan HfT5(CheckpointSource source)
    {
        var config = InferT5(source);
        var expected = T5Parameters.Shapes(config).ToDictionary(p => p.Name, p => p.Shape, StringComparer.Ordinal);
        var report = TensorChecklist.Compare(expected, source.Names.Where(expected.ContainsKey).Select(n => (n, source.Describe(n).Shape)));
        if (!report.Passed) throw new ModelFileException($"{source.Path}: not a T5 checkpoint of a consistent size: {report.Summary()}");
        var plan = ComponentPlan(source, name => expected.ContainsKey(name) ? "t5." + name : null);
        return plan with { Notes = [.. plan.Notes, $"T5: {config.NumLayers}+{config.NumDecoderLayers} layers, d_model {config.DModel}, {config.NumHeads} heads × {config.DKv}, d_ff {config.DFf}, vocab {config.VocabSize}"] };
    }

    /// <summary>The T5 sizes a Hugging Face state dict implies.</summary>
    public static T5Config InferT5(CheckpointSource source)
    {
        Require(source, "shared.weight", "encoder.block.0.layer.0.SelfAttention.q.weight", "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
        if (source.Contains("encoder.block.0.layer.1.DenseReluDense.wi.weight"))
            throw new ModelFileException($"{source.Path}: 'encoder.block.0.layer.1.DenseReluDense.wi.weight' is a non-gated T5 v1.0 FFN; the engine runs the gated (v1.1 / Flan-T5) FFN");
        Require(source, "encoder.block.0.layer.1.DenseReluDense.wi_0.weight");
        var shared = source.Describe("shared.weight").Shape;
        var q = source.Describe("encoder.block.0.layer.0.SelfAttention.q.weight").Shape;
        var bias = source.Describe("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight").Shape;
        int heads = bias[1];
        if (q[0] % heads != 0) throw new ModelFileException($"{source.Path}: q width {q[0]} is not a multiple of the {heads} heads of relative_attention_bias");
        return new T5Config(VocabSize: shared[0], DModel: shared[1], DKv: q[0] / heads,
            DFf: source.Describe("encoder.block.0.layer.1.DenseReluDense.wi_0.weight").Shape[0], NumHeads: heads,
            NumLayers: Count(source, T5Block(), "encoder.block."), NumDecoderLayers: Count(source, T5Block(), "decoder.block."),
            RelativeBuckets: bias[0], TieWordEmbeddings: !source.Contains("lm_head.weight"));
    }

    private static ConversionPlan Renamed(CheckpointSource source, Func<string, string?> rename) => ComponentPlan(source, rename);

    private static ConversionPlan ComponentPlan(CheckpointSource source, Func<string, string?> rename)
    {
        var plan = new List<PlannedTensor>();
        var sources = new Dictionary<string, string>(StringComparer.Ordinal);
        var skipped = new List<string>();
        foreach (var name in source.Names)
        {
            if (rename(name) is not { } engine) { skipped.Add(name); continue; }
            plan.Add(new PlannedTensor(engine, source.Describe(name), () => source.Get(name)));
            sources[engine] = name;
        }
        var notes = skipped.Count == 0 ? [] : new List<string> { $"skipped {skipped.Count} tensors outside the engine's modules (e.g. '{string.Join("', '", skipped.Take(3))}')" };
        return new ConversionPlan(plan, t => { if (sources.TryGetValue(t.Name, out var s)) source.ReleasePages(s); }, notes);
    }

    private static void Require(CheckpointSource source, params string[] names)
    {
        foreach (var name in names)
            if (!source.Contains(name)) throw new ModelFileException($"{source.Path}: missing tensor '{name}' (the file has {source.Names.Count()} tensors)");
    }

    /// <summary>1 + the largest block index among names starting with <paramref name="prefix"/>.</summary>
    private static int Count(CheckpointSource source, Regex index, string prefix) =>
        source.Names.Where(n => n.StartsWith(prefix, StringComparison.Ordinal))
            .Select(n => index.Match(n[prefix.Length..])).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) + 1)
            .DefaultIfEmpty(0).Max();

    private static HostTensor Rows(HostTensor t, int start, int count)
    {
        int cols = t.Shape[1], size = t.DType.SizeOf();
        return new HostTensor(new TensorDesc(t.DType, new Shape(count, cols)), t.Data.Slice(start * cols * size, count * cols * size));
    }

    [GeneratedRegex(@"^(\d+)\.")] private static partial Regex BlockIndex();
    [GeneratedRegex(@"^(\d+)\.")] private static partial Regex T5Block();
    [GeneratedRegex(@"^blocks\.(\d+)\.attn\.qkv\.weight$")] private static partial Regex FusedQkv();
    [GeneratedRegex(@"^blocks\.(\d+)\.attn\.([qkv])_bias$")] private static partial Regex SplitBias();
}
