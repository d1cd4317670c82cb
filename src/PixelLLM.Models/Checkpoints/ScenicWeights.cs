using System.Collections.Concurrent;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models.Checkpoints;

/// <summary>What <see cref="ScenicWeights"/> needs besides the tensors: the LoRA scale (not stored in a checkpoint).</summary>
/// <param name="LoraScale">scenic's <c>*_lora_scale</c> (2 in every PixelLLM config); the merge is W + scale·A·B.</param>
/// <param name="LoraRank">When set, every LoRA factor pair must have this rank (config <c>*_lora_rank</c>).</param>
/// <param name="DenseFuse">The config fuses the prompt adapter's dense output (prompt_fuse_fn 'dense'), so its
/// dense_output_mlp is mapped rather than listed unused.</param>
public sealed record ScenicWeightsOptions(float LoraScale, int? LoraRank = null, bool DenseFuse = false)
{
    /// <summary>The options a config's scenic checkpoint is read with.</summary>
    public static ScenicWeightsOptions For(PixelLlmConfig config) =>
        new(config.LoraScale, config.LoraRank > 0 ? config.LoraRank : null, config.Adapter.DenseFuse);
}

/// <summary>
/// A scenic PixelLLM parameter dict (Flax paths joined with '/', Flax layouts, LoRA unmerged — e.g. a flattened
/// <c>checkpoint_&lt;step&gt;['params']</c>) presented under the ENGINE's names and PyTorch layouts. This is the one
/// name-mapping layer: the model reads only engine names, converters reuse this class. Tensors are transformed on first
/// use and cached.
/// <para>Engine names (prefix + public-reference name) and their scenic sources:</para>
/// <list type="table">
/// <listheader><term>engine name</term><description>scenic path and transform</description></listheader>
/// <item><term><c>sam.image_encoder.&lt;segment-anything name&gt;</c></term><description><c>sam_backbone/…</c>: '/' → '.',
///   kernel/scale → weight; Dense (in, out) → (out, in); patch_embed.proj and neck convs (kh, kw, in, out) → (out, in, kh, kw).</description></item>
/// <item><term><c>sam.prompt_encoder.&lt;segment-anything name&gt;</c></term><description><c>prompt_encoder/…</c> as is
///   (pe_layer.positional_encoding_gaussian_matrix, point_embeddings.i.weight, not_a_point_embed.weight, no_mask_embed.weight).</description></item>
/// <item><term><c>eva02.&lt;timm Eva name&gt;</c></term><description><c>git_backbone/…</c>: as SAM, plus attn/q_bias, v_bias →
///   attn.q_proj.bias, attn.v_proj.bias; mlp/w1, w2, w3, ffn_ln → mlp.fc1_g, mlp.fc1_x, mlp.fc2, mlp.norm; ln_post → norm.</description></item>
/// <item><term><c>prompt_adapter.transformer.&lt;segment-anything TwoWayTransformer name&gt;</c></term><description>
///   <c>prompt_adapter/transformer/…</c> as SAM (layers.i.self_attn.q_proj.weight, …, norm_final_attn.weight).</description></item>
/// <item><term><c>prompt_adapter.output_tokens.weight</c></term><description><c>prompt_adapter/output_tokens.weight</c> (K, D) as is:
///   the learned query tokens.</description></item>
/// <item><term><c>prompt_adapter.prompt_projection.layers.j.{weight,bias}</c></term><description>
///   <c>prompt_adapter/prompt_embedding_projection_mlp/layers.j</c>: sparse prompts and no_mask_embed, E → D.</description></item>
/// <item><term><c>prompt_adapter.image_pe_projection.layers.j.*</c></term><description><c>…/image_pe_projection_mlp/layers.j</c>: dense PE, E → D.</description></item>
/// <item><term><c>prompt_adapter.image_projection.layers.j.*</c></term><description><c>…/image_projection_mlp/layers.j</c>: fused features → D.</description></item>
/// <item><term><c>prompt_adapter.output_projections.i.layers.j.*</c></term><description><c>…/output_hypernetworks_mlps.i/layers.j</c>:
///   the per-query-token output Dense, D → output dim.</description></item>
/// <item><term><c>visual_projection.dense.{weight,bias}</c>, <c>visual_projection.norm.{weight,bias}</c></term><description>
///   <c>visual_project_layers/visual_projection.0</c> (Dense) and <c>.1</c> (LayerNorm scale/bias).</description></item>
/// <item><term><c>point_head.norm.{weight,bias}</c>, <c>point_head.layers.i.{weight,bias}</c></term><description>
///   <c>point_predictor/LayerNorm_0</c>, <c>point_predictor/mlp/layers.i</c>.</description></item>
/// <item><term><c>t5.&lt;HF T5ForConditionalGeneration name&gt;</c></term><description><c>textual/t5_module/…</c>: token_embedder →
///   shared.weight; {encoder,decoder}/relpos_bias/rel_embedding (heads, buckets) → {encoder,decoder}.block.0.layer.0.SelfAttention
///   .relative_attention_bias.weight (buckets, heads); attention / self_attention / encoder_decoder_attention query|key|value|out →
///   SelfAttention / SelfAttention / EncDecAttention q|k|v|o (transposed; kernel + scale·left·right merged first when LoRA factors
///   exist); pre_*_layer_norm → layer.N.layer_norm; mlp/wi_0|wi_1|wo → DenseReluDense; encoder_norm / decoder_norm →
///   final_layer_norm; logits_dense → lm_head.</description></item>
/// <item><term><c>git.&lt;GIT decoder name&gt;</c></term><description><c>textual/…</c> (not t5_module) per
///   <see cref="ScenicGitNames"/>: visual_projection.0/.1, embedding/{words,positions,layer_norm}, transformer/encoder/layer.i
///   attention/self query|key|value, attention/output/{dense,LayerNorm}, intermediate/dense, output/{dense,LayerNorm}, output;
///   Dense kernels transposed.</description></item>
/// <item><term>(unused)</term><description><c>prompt_adapter/dense_output_mlp/*</c>: computed by scenic, never read (errata A5) — unless
///   prompt_fuse_fn is 'dense' (<see cref="ScenicWeightsOptions.DenseFuse"/>): then <c>prompt_adapter.dense_output.layers.0.*</c>.</description></item>
/// </list>
/// A missing source or one of the wrong rank throws <see cref="ModelFileException"/> naming both the engine and the scenic name.
/// </summary>
public sealed class ScenicWeights : IWeightSource
{
    private readonly IWeightSource scenic;
    private readonly ScenicWeightsOptions options;
    private readonly Dictionary<string, ScenicMapping> byEngineName = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, HostTensor> cache = new(StringComparer.Ordinal);

    public ScenicWeights(IWeightSource scenic, ScenicWeightsOptions options)
    {
        this.scenic = scenic;
        this.options = options;
        var names = scenic.Names.ToHashSet(StringComparer.Ordinal);
        var unused = new List<string>();
        var unmapped = new List<string>();
        foreach (var path in names.Order(StringComparer.Ordinal))
        {
            if (ScenicNameMap.IsKnownUnused(path, options.DenseFuse)) { unused.Add(path); continue; }
            if (ScenicNameMap.IsLoraFactor(path)) continue;
            var mapping = ScenicNameMap.Map(path, names.Contains);
            if (mapping is null) { unmapped.Add(path); continue; }
            if (!byEngineName.TryAdd(mapping.EngineName, mapping))
                throw new ModelFileException($"scenic weights: '{path}' and '{byEngineName[mapping.EngineName].Sources[0]}' both map to '{mapping.EngineName}'");
        }
        var consumed = byEngineName.Values.SelectMany(m => m.Sources).ToHashSet(StringComparer.Ordinal);
        unmapped.AddRange(names.Where(n => ScenicNameMap.IsLoraFactor(n) && !consumed.Contains(n)).Order(StringComparer.Ordinal));
        Unused = unused;
        Unmapped = unmapped;
    }

    public IEnumerable<string> Names => byEngineName.Keys;

    /// <summary>Scenic parameters known to be unused at inference (listed, not mapped).</summary>
    public IReadOnlyList<string> Unused { get; }

    /// <summary>Scenic parameters no rule covers (other heads, …) and LoRA factors without their kernel.</summary>
    public IReadOnlyList<string> Unmapped { get; }

    public IReadOnlyCollection<ScenicMapping> Mappings => byEngineName.Values;

    public bool Contains(string name) => byEngineName.ContainsKey(name);

    public HostTensor Get(string name) => cache.GetOrAdd(name, Materialise);

    /// <summary>The scenic path(s) behind an engine name.</summary>
    public IReadOnlyList<string> SourcesOf(string name) =>
        byEngineName.TryGetValue(name, out var m) ? m.Sources : throw Missing(name);

    /// <summary>
    /// Checks the scenic dict against the parameters a model needs (<see cref="ScenicParameterShapes.For"/>): every expected
    /// tensor present with its shape (−1 = any size), and no mapped tensor beyond them. Throws one
    /// <see cref="ModelFileException"/> listing every problem with both the scenic and the engine name.
    /// </summary>
    public void Validate(IReadOnlyDictionary<string, int[]> expected)
    {
        var problems = new List<string>();
        foreach (var (path, shape) in expected.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            var engine = EngineNameOf(path) ?? "(no engine name)";
            if (!scenic.Contains(path)) { problems.Add($"missing scenic '{path}' (engine '{engine}'), expected ({string.Join(", ", shape)})"); continue; }
            var actual = scenic.Get(path).Shape;
            bool fits = actual.Rank == shape.Length && shape.Select((d, i) => d < 0 || d == actual[i]).All(ok => ok);
            if (!fits) problems.Add($"scenic '{path}' (engine '{engine}') is {actual}, expected ({string.Join(", ", shape).Replace("-1", "*")})");
        }
        foreach (var mapping in byEngineName.Values)
            foreach (var source in mapping.Sources.Where(s => !expected.ContainsKey(s)))
                problems.Add($"scenic '{source}' (engine '{mapping.EngineName}') is not a parameter of this configuration");
        if (problems.Count > 0)
            throw new ModelFileException($"scenic weights do not fit the model ({problems.Count} problem(s)): " + string.Join("; ", problems.Take(20))
                + (problems.Count > 20 ? "; …" : ""));
    }

    /// <summary>The engine name a scenic path feeds (LoRA factors: their kernel's), whether or not the dict holds it.</summary>
    public static string? EngineNameOf(string scenicPath)
    {
        var path = ScenicNameMap.IsLoraFactor(scenicPath) ? scenicPath[..scenicPath.LastIndexOf('/')] + "/kernel" : scenicPath;
        return ScenicNameMap.Map(path, _ => false)?.EngineName;
    }

    private HostTensor Materialise(string name)
    {
        if (!byEngineName.TryGetValue(name, out var mapping)) throw Missing(name);
        var sources = new HostTensor[mapping.Sources.Count];
        for (int i = 0; i < sources.Length; i++)
        {
            try { sources[i] = scenic.Get(mapping.Sources[i]); }
            catch (ModelFileException e)
            {
                throw new ModelFileException($"scenic weights: '{name}' needs scenic '{mapping.Sources[i]}': {e.Message}", e);
            }
        }
        if (mapping.Layout == ScenicLayout.LoraDenseKernel && options.LoraRank is int rank && sources[1].Shape.Rank == 2 && sources[1].Shape[1] != rank)
            throw new ModelFileException($"scenic weights: '{name}' (from scenic '{mapping.Sources[1]}') has LoRA rank {sources[1].Shape[1]}, config says {rank}");
        return LayoutTransforms.Apply(mapping.Layout, sources, options.LoraScale, name, mapping.Sources);
    }

    private ModelFileException Missing(string name)
    {
        var hint = Names.Where(n => n.StartsWith(name.Split('.')[0], StringComparison.Ordinal)).Take(3).ToList();
        return new ModelFileException($"scenic weights: no scenic tensor maps to engine name '{name}'" +
            (hint.Count > 0 ? $" (this module has e.g. '{string.Join("', '", hint)}')" : ""));
    }
}
