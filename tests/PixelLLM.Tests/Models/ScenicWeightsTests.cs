using PixelLLM.Models.Checkpoints;
using PixelLLM.Models.Verification;
using PixelLLM.Models;
using PixelLLM.Runtime.Ops;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Runtime.Weights;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Models;

/// <summary>The scenic → engine name map on the tiny PixelLLM checkpoint: coverage, layouts, LoRA merge, errors.</summary>
public class ScenicWeightsTests
{
    private const string WeightsFile = "tiny_t5.weights.safetensors";

    private static (SafeTensorsFile File, ScenicWeights Weights) Open()
    {
        var file = Golden.Open(ScenicGolden.Component, WeightsFile);
        return (file, new ScenicWeights(new SafeTensorsWeights(file), new ScenicWeightsOptions(LoraScale: 2f, LoraRank: 4)));
    }

    [Fact]
    public void EveryCheckpointTensorIsConsumedOrListedUnused()
    {
        var (file, weights) = Open();
        using var _ = file;
        Assert.Empty(weights.Unmapped);
        var consumed = weights.Mappings.SelectMany(m => m.Sources).ToList();
        Assert.Equal(consumed.Count, consumed.Distinct().Count());                       // no scenic tensor feeds two engine tensors
        var covered = consumed.Concat(weights.Unused).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(file.Names.Order(StringComparer.Ordinal).ToList(), covered);
        Assert.Equal(["prompt_adapter/dense_output_mlp/layers.0/bias", "prompt_adapter/dense_output_mlp/layers.0/kernel"], weights.Unused);
        // Every mapping materialises.
        foreach (var name in weights.Names) Assert.True(weights.Get(name).Desc.ElementCount > 0, name);
    }

    /// <summary>With dense prompt fusion the adapter's dense output is read: mapped (Dense (in, out) → (out, in)), not unused.</summary>
    [Fact]
    public void DenseFusionMapsTheDenseOutput()
    {
        using var file = Golden.Open(ScenicGolden.Component, WeightsFile);
        var weights = new ScenicWeights(new SafeTensorsWeights(file), new ScenicWeightsOptions(LoraScale: 2f, LoraRank: 4, DenseFuse: true));
        Assert.Empty(weights.Unused);
        var kernel = file.Get("prompt_adapter/dense_output_mlp/layers.0/kernel");
        var weight = weights.Get("prompt_adapter.dense_output.layers.0.weight");
        Assert.Equal(new Shape(kernel.Shape[1], kernel.Shape[0]), weight.Shape);
        Assert.Equal(kernel.ToFloatArray()[1], weight.ToFloatArray()[kernel.Shape[0]]);   // kernel[0, 1] = weight[1, 0]
        Assert.Equal(file.Get("prompt_adapter/dense_output_mlp/layers.0/bias").ToFloatArray(), weights.Get("prompt_adapter.dense_output.layers.0.bias").ToFloatArray());
    }

    [Theory]
    [InlineData("sam.image_encoder.blocks.1.attn.qkv.weight", "sam_backbone/blocks.1/attn/qkv/kernel")]
    [InlineData("sam.image_encoder.neck.2.weight", "sam_backbone/neck/2/kernel")]
    [InlineData("sam.image_encoder.blocks.0.norm1.weight", "sam_backbone/blocks.0/norm1/scale")]
    [InlineData("sam.prompt_encoder.point_embeddings.2.weight", "prompt_encoder/point_embeddings.2.weight")]
    [InlineData("eva02.blocks.1.mlp.fc1_g.weight", "git_backbone/blocks.1/mlp/w1/kernel")]
    [InlineData("eva02.blocks.1.mlp.fc1_x.bias", "git_backbone/blocks.1/mlp/w2/bias")]
    [InlineData("eva02.blocks.0.mlp.norm.weight", "git_backbone/blocks.0/mlp/ffn_ln/scale")]
    [InlineData("eva02.blocks.0.attn.v_proj.bias", "git_backbone/blocks.0/attn/v_bias")]
    [InlineData("eva02.norm.weight", "git_backbone/ln_post/scale")]
    [InlineData("eva02.patch_embed.proj.weight", "git_backbone/patch_embed.proj/kernel")]
    [InlineData("prompt_adapter.transformer.layers.1.cross_attn_image_to_token.out_proj.weight", "prompt_adapter/transformer/layers.1/cross_attn_image_to_token/out_proj/kernel")]
    [InlineData("prompt_adapter.output_projections.3.layers.0.weight", "prompt_adapter/output_hypernetworks_mlps.3/layers.0/kernel")]
    [InlineData("prompt_adapter.prompt_projection.layers.0.bias", "prompt_adapter/prompt_embedding_projection_mlp/layers.0/bias")]
    [InlineData("prompt_adapter.output_tokens.weight", "prompt_adapter/output_tokens.weight")]
    [InlineData("visual_projection.norm.weight", "visual_project_layers/visual_projection.1/scale")]
    [InlineData("point_head.layers.3.weight", "point_predictor/mlp/layers.3/kernel")]
    [InlineData("point_head.norm.bias", "point_predictor/LayerNorm_0/bias")]
    [InlineData("t5.shared.weight", "textual/t5_module/token_embedder/embedding")]
    [InlineData("t5.lm_head.weight", "textual/t5_module/decoder/logits_dense/kernel")]
    [InlineData("t5.encoder.block.1.layer.1.DenseReluDense.wi_0.weight", "textual/t5_module/encoder/layers_1/mlp/wi_0/kernel")]
    [InlineData("t5.decoder.block.1.layer.2.layer_norm.weight", "textual/t5_module/decoder/layers_1/pre_mlp_layer_norm/scale")]
    [InlineData("t5.decoder.block.0.layer.1.EncDecAttention.k.weight", "textual/t5_module/decoder/layers_0/encoder_decoder_attention/key/kernel")]
    [InlineData("t5.decoder.block.0.layer.1.layer_norm.weight", "textual/t5_module/decoder/layers_0/pre_cross_attention_layer_norm/scale")]
    [InlineData("t5.decoder.final_layer_norm.weight", "textual/t5_module/decoder/decoder_norm/scale")]
    public void MapsScenicPathsToEngineNames(string engine, string scenic)
    {
        var (file, weights) = Open();
        using var _ = file;
        Assert.Equal(scenic, weights.SourcesOf(engine)[0]);
    }

    [Fact]
    public void ConvertsFlaxLayoutsToTorchLayouts()
    {
        var (file, weights) = Open();
        using var _ = file;
        // Dense (in, out) → (out, in).
        var dense = file.Get("point_predictor/mlp/layers.0/kernel");
        var linear = weights.Get("point_head.layers.0.weight");
        Assert.Equal(new Shape(dense.Shape[1], dense.Shape[0]), linear.Shape);
        var d = dense.ToFloatArray();
        var l = linear.ToFloatArray();
        for (int i = 0; i < dense.Shape[0]; i++)
            for (int o = 0; o < dense.Shape[1]; o++) Assert.Equal(d[i * dense.Shape[1] + o], l[o * dense.Shape[0] + i]);

        // Conv (kh, kw, in, out) → (out, in, kh, kw).
        var flax = file.Get("sam_backbone/neck/2/kernel");
        var torch = weights.Get("sam.image_encoder.neck.2.weight");
        int kh = flax.Shape[0], kw = flax.Shape[1], ci = flax.Shape[2], co = flax.Shape[3];
        Assert.Equal(new Shape(co, ci, kh, kw), torch.Shape);
        var f = flax.ToFloatArray();
        var t = torch.ToFloatArray();
        foreach (var (y, x, i, o) in new[] { (0, 0, 0, 0), (1, 2, 5, 7), (2, 1, ci - 1, co - 1), (2, 2, 3, 0) })
            Assert.Equal(f[((y * kw + x) * ci + i) * co + o], t[((o * ci + i) * kh + y) * kw + x]);

        // Tables and norms keep their values and shapes.
        Assert.Equal(file.Get("sam_backbone/pos_embed").ToFloatArray(), weights.Get("sam.image_encoder.pos_embed").ToFloatArray());
        Assert.Equal(file.Get("git_backbone/ln_post/scale").ToFloatArray(), weights.Get("eva02.norm.weight").ToFloatArray());
    }

    [Fact]
    public void MergedLoraKernelsEqualTheGoldenMergedKernels()
    {
        var (file, weights) = Open();
        using var _ = file;
        using var aux = Golden.Open(ScenicGolden.Component, "tiny_t5.aux.safetensors");
        var merged = aux.Names.Where(n => n.StartsWith("aux.lora_merged.", StringComparison.Ordinal)).ToList();
        Assert.Equal(12, merged.Count);
        foreach (var name in merged)
        {
            var path = name["aux.lora_merged.".Length..] + "/kernel";
            var mapping = weights.Mappings.Single(m => m.Sources[0] == path);
            Assert.Equal(ScenicLayout.LoraDenseKernel, mapping.Layout);
            // Ours is (out, in); the golden keeps Flax's (in, out). Summation order differs from the reference einsum by ulps.
            var ours = LayoutTransforms.Transpose2d(weights.Get(mapping.EngineName));
            var check = GoldenComparison.CompareOne(name, aux.Get(name), ours, new Tolerance(1e-6, 1e-6));
            Assert.True(check.Passed, $"{mapping.EngineName}: max|err| {check.MaxAbsError:E2}");
            // And the merge really changed the kernel.
            Assert.NotEqual(file.Get(path).ToFloatArray(), ours.ToFloatArray());
        }
    }

    [Fact]
    public void RelativePositionTablesBecomeBucketMajor()
    {
        // bias[h, q, k] = rel_embedding[h, bucket(q, k)] (t5x) must equal the HF-layout table (buckets, heads) read by bucket.
        var (file, weights) = Open();
        using var _ = file;
        using var aux = Golden.Open(ScenicGolden.Component, "tiny_t5.aux.safetensors");
        var table = weights.Get("t5.decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
        int heads = table.Shape[1];
        var t = table.ToFloatArray();
        var buckets = aux.Get("aux.t5_decoder_relpos_bucket").AsSpan<int>().ToArray();
        var bias = aux.Get("aux.t5_decoder_relpos_bias").ToFloatArray();
        int pairs = buckets.Length;
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < pairs; i++) Assert.Equal(bias[h * pairs + i], t[buckets[i] * heads + h]);
        // Our bucket function gives the golden buckets.
        int l = (int)Math.Sqrt(pairs);
        Assert.Equal(buckets, Enumerable.Range(0, pairs).Select(p => T5PositionBiasOp.Bucket(p % l - p / l, bidirectional: false, 32, 128)));
    }

    /// <summary>
    /// T5PositionBias's values by distance, read as (H, L, L) the way the attention reads them, are the reference's own
    /// bias tables to the bit: the decoder's (causal buckets, model level) and caption_trace's encoder one (bidirectional,
    /// over its K + Lc positions).
    /// </summary>
    [Theory]
    [InlineData("decoder", "tiny_t5.aux.safetensors", "aux.t5_decoder_relpos_bias")]
    [InlineData("encoder", "caption_trace.io.safetensors", "aux.t5_encoder_relpos_bias")]
    public void PositionBiasByDistanceIsTheReferencesBias(string stack, string file, string name)
    {
        var (weightsFile, weights) = Open();
        using var _ = weightsFile;
        using var aux = Golden.Open(ScenicGolden.Component, file);
        var expected = aux.Get(name);
        int heads = expected.Shape[0], length = expected.Shape[1];
        var table = weights.Get($"t5.{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
        var t = OpHarness.Run(new T5PositionBiasOp(length, length, Bidirectional: stack == "encoder", 32, 128), table).ToFloatArray();
        var unfolded = new float[heads * length * length];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < length; i++)
                for (int j = 0; j < length; j++)
                    unfolded[(h * length + i) * length + j] = t[h * (2 * length - 1) + j - i + length - 1];
        Assert.Equal(expected.ToFloatArray(), unfolded);
    }

    [Fact]
    public void MissingSourceNamesBothNames()
    {
        var (file, _) = Open();
        using var __ = file;
        var tensors = file.Names.Where(n => n != "textual/t5_module/encoder/layers_0/attention/value/kernel_right_lora")
            .ToDictionary(n => n, file.Get);
        // Without the right factor the kernel maps plainly and the left factor is reported as unmapped.
        var partial = new ScenicWeights(new DictionaryWeights(tensors), new ScenicWeightsOptions(2f));
        Assert.Contains("textual/t5_module/encoder/layers_0/attention/value/kernel_left_lora", partial.Unmapped);

        // A source that disappears after mapping (a broken file) names both names.
        var broken = new DroppingWeights(new DictionaryWeights(file.Names.ToDictionary(n => n, file.Get)), "point_predictor/mlp/layers.1/kernel");
        var weights = new ScenicWeights(broken, new ScenicWeightsOptions(2f));
        var e = Assert.Throws<ModelFileException>(() => weights.Get("point_head.layers.1.weight"));
        Assert.Contains("point_head.layers.1.weight", e.Message);
        Assert.Contains("point_predictor/mlp/layers.1/kernel", e.Message);

        var missing = Assert.Throws<ModelFileException>(() => weights.Get("point_head.layers.9.weight"));
        Assert.Contains("point_head.layers.9.weight", missing.Message);
    }

    [Fact]
    public void MisShapedSourcesNameBothNames()
    {
        var (file, _) = Open();
        using var __ = file;
        var tensors = file.Names.ToDictionary(n => n, file.Get);
        tensors["sam_backbone/neck/0/kernel"] = HostTensor.Zeros(DType.F32, 32, 24);                      // a conv stored as rank 2
        tensors["textual/t5_module/decoder/layers_1/self_attention/query/kernel_right_lora"] = HostTensor.Zeros(DType.F32, 3, 32);
        var weights = new ScenicWeights(new DictionaryWeights(tensors), new ScenicWeightsOptions(2f, LoraRank: 4));
        var conv = Assert.Throws<ModelFileException>(() => weights.Get("sam.image_encoder.neck.0.weight"));
        Assert.Contains("sam.image_encoder.neck.0.weight", conv.Message);
        Assert.Contains("sam_backbone/neck/0/kernel", conv.Message);
        var lora = Assert.Throws<ModelFileException>(() => weights.Get("t5.decoder.block.1.layer.0.SelfAttention.q.weight"));
        Assert.Contains("t5.decoder.block.1.layer.0.SelfAttention.q.weight", lora.Message);
        Assert.Contains("textual/t5_module/decoder/layers_1/self_attention/query/kernel_right_lora", lora.Message);
    }

    [Fact]
    public void TheConfigsParameterListIsExactlyTheCheckpoint()
    {
        var (file, weights) = Open();
        using var _ = file;
        using var golden = ScenicGolden.Open("caption_trace");
        var expected = ScenicParameterShapes.For(PixelLlmConfigJson.FromScenic(golden.Config));
        Assert.Equal(file.Names.Order(StringComparer.Ordinal), expected.Keys.Order(StringComparer.Ordinal));
        foreach (var (path, shape) in expected) Assert.Equal(shape, file.Get(path).Shape.ToArray());
        weights.Validate(expected);                                                       // no problem reported
    }

    [Fact]
    public void ValidationNamesBothNamesForMissingAndMisShapedTensors()
    {
        var (file, _) = Open();
        using var __ = file;
        using var golden = ScenicGolden.Open("caption_trace");
        var expected = ScenicParameterShapes.For(PixelLlmConfigJson.FromScenic(golden.Config));
        var tensors = file.Names.ToDictionary(n => n, file.Get);
        tensors.Remove("git_backbone/blocks.1/mlp/w3/kernel");
        tensors["prompt_adapter/transformer/layers.0/mlp/lin1/kernel"] = HostTensor.Zeros(DType.F32, 32, 65);
        tensors.Remove("textual/t5_module/encoder/layers_1/attention/value/kernel_left_lora");
        var weights = new ScenicWeights(new DictionaryWeights(tensors), new ScenicWeightsOptions(2f));
        var e = Assert.Throws<ModelFileException>(() => weights.Validate(expected));
        Assert.Contains("'git_backbone/blocks.1/mlp/w3/kernel' (engine 'eva02.blocks.1.mlp.fc2.weight')", e.Message);
        Assert.Contains("'prompt_adapter/transformer/layers.0/mlp/lin1/kernel' (engine 'prompt_adapter.transformer.layers.0.mlp.lin1.weight') is (32, 65)", e.Message);
        Assert.Contains("'textual/t5_module/encoder/layers_1/attention/value/kernel_left_lora' (engine 't5.encoder.block.1.layer.0.SelfAttention.v.weight')", e.Message);
        // The whole model refuses to load from it.
        using var backend = new PixelLLM.Backends.Cpu.CpuBackend();
        Assert.Throws<ModelFileException>(() => PixelLlm.FromScenic(PixelLlmConfigJson.FromScenic(golden.Config), new DictionaryWeights(tensors), backend));
    }

    [Fact]
    public void TheMsgpackCheckpointMapsToTheSameEngineTensors()
    {
        var (file, fromSafetensors) = Open();
        using var _ = file;
        using var checkpoint = PixelLLM.Runtime.Checkpoints.ScenicCheckpoint.Open(Path.Combine(Golden.Root, ScenicGolden.Component, "tiny_t5.scenic.msgpack"));
        var fromMsgpack = new ScenicWeights(checkpoint, new ScenicWeightsOptions(LoraScale: 2f, LoraRank: 4));
        Assert.Empty(fromMsgpack.Unmapped);
        Assert.Equal(fromSafetensors.Names.Order(StringComparer.Ordinal), fromMsgpack.Names.Order(StringComparer.Ordinal));
        foreach (var name in fromSafetensors.Names)
        {
            var a = fromSafetensors.Get(name);
            var b = fromMsgpack.Get(name);
            Assert.Equal(a.Shape, b.Shape);
            Assert.True(a.ToFloatArray().AsSpan().SequenceEqual(b.ToFloatArray()), name);
        }
    }

    /// <summary>A source that lists a name but fails to deliver it, like a truncated file.</summary>
    private sealed class DroppingWeights(IWeightSource inner, string dropped) : IWeightSource
    {
        public IEnumerable<string> Names => inner.Names;
        public bool Contains(string name) => inner.Contains(name);
        public HostTensor Get(string name) => name == dropped ? throw new ModelFileException($"missing tensor '{name}'") : inner.Get(name);
    }
}
