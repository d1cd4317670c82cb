using System.Diagnostics;
using System.Text.Json.Nodes;
using PixelLLM.Models;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Models;

/// <summary>
/// Every number the engine reads from a model config is checked while the config is parsed: a bad value is one
/// <see cref="ModelFileException"/> line naming the key and its range, never a hang (huge depths used to build layers
/// until memory ran out), a .NET crash (divide by zero, overflow, index out of range) or an error without the key.
/// The configs edited here are the named tiny ones (T5 with a point head, GIT, densecap) and the refseg golden's (mask branch).
/// </summary>
public class PixelLlmConfigBoundsTests
{
    private const string Big = "2147483647";

    /// <summary>Huge depths and counts: refused by the parse, within seconds.</summary>
    [Theory]
    [InlineData("pixelllm-tiny", "git.depth", Big, "git.depth must be an integer in [1, 1024], got 2147483647")]
    [InlineData("pixelllm-tiny", "git.depth", "1000000", "git.depth must be an integer in [1, 1024]")]
    [InlineData("pixelllm-tiny", "sam.depth", Big, "sam.depth must be an integer in [0, 1024]")]
    [InlineData("pixelllm-tiny", "t5.num_decoder_layers", Big, "t5.num_decoder_layers must be an integer in [1, 1024]")]
    [InlineData("pixelllm-tiny", "t5.num_encoder_layers", Big, "t5.num_encoder_layers must be an integer in [1, 1024]")]
    [InlineData("pixelllm-bert-tiny", "git_text.num_layers", Big, "git_text.num_layers must be an integer in [1, 1024]")]
    [InlineData("pixelllm-tiny", "prompt_adapter.depth", Big, "prompt_adapter.depth must be an integer in [1, 1024]")]
    [InlineData("pixelllm-tiny", "prompt_adapter.num_outputs", Big, "prompt_adapter.num_outputs must be an integer in [1, 1024]")]
    [InlineData("pixelllm-tiny", "point_predictor.depth", Big, "point_predictor.depth must be an integer in [1, 1024]")]
    [InlineData("refseg", "mask_decoder.iou_head_depth", Big, "mask_decoder.iou_head_depth must be an integer in [1, 1024]")]
    [InlineData("refseg", "mask_decoder.transformer_depth", Big, "mask_decoder.transformer_depth must be an integer in [1, 1024]")]
    [InlineData("refseg", "mask_adapter.depth", Big, "mask_adapter.depth must be an integer in [1, 1024]")]
    [InlineData("pixelllm-tiny", "t5.vocab_size", Big, "t5.vocab_size must be an integer in [1, 1048576]")]
    [InlineData("pixelllm-tiny", "t5.mlp_dim", Big, "t5.mlp_dim must be an integer in [1, 65536]")]
    [InlineData("pixelllm-tiny", "sam.window_size", "100000", "sam.window_size must be an integer in [0, 256]")]
    [InlineData("pixelllm-tiny-densecap", "box_decoder.roi_post_nms_num_detections", Big, "box_decoder.roi_post_nms_num_detections must be an integer in [1, 1024]")]
    [InlineData("pixelllm-tiny-densecap", "box_decoder.pre_nms_topk_test", Big, "box_decoder.pre_nms_topk_test must be an integer in [1, 1048576]")]
    public void HugeSizesAreRefusedFast(string source, string path, string value, string expected) => Refused(source, path, value, expected);

    /// <summary>Values that used to crash with a .NET exception (exit 3) once a model was built or run.</summary>
    [Theory]
    [InlineData("pixelllm-tiny", "max_caption_length", "0", "max_caption_length must be an integer in [3, 4096], got 0")]
    [InlineData("pixelllm-tiny", "max_caption_length", "-1", "max_caption_length must be an integer in [3, 4096], got -1")]
    [InlineData("pixelllm-tiny", "max_caption_length", "2", "max_caption_length must be an integer in [3, 4096]")]
    [InlineData("pixelllm-bert-tiny", "max_caption_length", "17", "max_caption_length must be an integer in [3, 16] (git_text.position_table has 16 rows), got 17")]
    [InlineData("pixelllm-tiny", "sam.depth", "-2", "sam.depth must be an integer in [0, 1024], got -2")]
    [InlineData("pixelllm-tiny", "box_points_per_side", "100000", "box_points_per_side must be an integer in [-64, 64], got 100000")]
    [InlineData("pixelllm-tiny", "box_points_per_side", "1.5", "box_points_per_side must be an integer in [-64, 64], got 1.5")]
    [InlineData("pixelllm-tiny", "git.mlp_ratio", "-1", "git.mlp_ratio must be a number in (0, 64], got -1")]
    [InlineData("pixelllm-tiny", "git.mlp_ratio", "0.001", "git.mlp_ratio must be a ratio making the MLP width")]
    [InlineData("pixelllm-tiny", "sam.mlp_ratio", "1e999", "sam.mlp_ratio must be a number in (0, 64]")]
    [InlineData("pixelllm-tiny", "git.patch_size", "0", "git.patch_size must be an integer in [1, 120], got 0")]
    [InlineData("pixelllm-tiny", "git.patch_size", "121", "git.patch_size must be an integer in [1, 120]")]
    [InlineData("pixelllm-tiny", "sam.patch_size", "0", "sam.patch_size must be an integer in [1, 120], got 0")]
    [InlineData("pixelllm-tiny", "sam.num_heads", "0", "sam.num_heads must be an integer in [1, 1024], got 0")]
    [InlineData("pixelllm-tiny", "sam.num_heads", "5", "sam.num_heads must be a divisor of sam.embed_dim 32, got 5")]
    [InlineData("pixelllm-tiny", "git.pretrain_img_size", "8", "git.pretrain_img_size must be an integer in [14, 3584], got 8")]
    [InlineData("pixelllm-tiny", "sam.img_size", "0", "sam.img_size must be an integer in [16, 4096], got 0")]
    [InlineData("refseg", "mask_decoder.attention_downsample_rate", "0", "mask_decoder.attention_downsample_rate must be an integer in [1, 32], got 0")]
    [InlineData("pixelllm-tiny", "prompt_adapter.attention_downsample_rate", "0", "prompt_adapter.attention_downsample_rate must be an integer in [1, 32], got 0")]
    [InlineData("pixelllm-tiny", "prompt_adapter.attention_downsample_rate", "3", "prompt_adapter.attention_downsample_rate must be a rate leaving the cross-attention width")]
    [InlineData("pixelllm-tiny", "t5.relpos_num_buckets", "2", "t5.relpos_num_buckets must be an integer in [4, 1024], got 2")]
    [InlineData("pixelllm-tiny", "t5.relpos_max_distance", "16", "t5.relpos_max_distance must be an integer in [17, 1048576], got 16")]
    [InlineData("pixelllm-tiny", "t5.head_dim", "65536", "t5.head_dim must be at most 16384")]
    [InlineData("pixelllm-tiny-densecap", "box_decoder.head_dim", "48", "box_decoder.head_dim must be a multiple of 32")]
    [InlineData("pixelllm-tiny-densecap", "box_decoder.strides", "[8, 16, 32]", "box_decoder.strides must be an array of 5 integers")]
    [InlineData("pixelllm-tiny-densecap", "box_decoder.strides", "[8, 16, 32, 64, 100]", "box_decoder.strides must be 5 consecutive powers of two")]
    [InlineData("pixelllm-tiny-densecap", "box_decoder.iou_thresh", "0.3", "box_decoder.iou_thresh must be a number in [0.5, 1], got 0.3")]
    [InlineData("refseg", "sam_preprocess_image_size", "[120]", "sam_preprocess_image_size must be an array of 2 integers in [1, 4096], got 1 entries")]
    [InlineData("refseg", "mask_adapter.output_dim", "16", "mask_adapter.output_dim must be mask_adapter.transformer_dim 32, got 16")]
    public void CrashingValuesAreRefused(string source, string path, string value, string expected) => Refused(source, path, value, expected);

    /// <summary>Wrong JSON types: refused naming the key, not with System.Text.Json's words.</summary>
    [Theory]
    [InlineData("pixelllm-tiny", "canvas", "128.5", "canvas must be an integer in [1, 4096], got 128.5")]
    [InlineData("pixelllm-tiny", "git.depth", "2.0", "git.depth must be an integer in [1, 1024], got 2.0")]
    [InlineData("pixelllm-tiny", "git.depth", "\"2\"", "git.depth must be an integer in [1, 1024], got \"2\"")]
    [InlineData("pixelllm-tiny", "git.use_ln_post", "1", "git.use_ln_post must be true or false, got 1")]
    [InlineData("pixelllm-tiny", "point_predictor.pre_norm", "\"yes\"", "point_predictor.pre_norm must be true or false, got \"yes\"")]
    [InlineData("refseg", "mask_adapter.gating", "0", "mask_adapter.gating must be true or false, got 0")]
    [InlineData("pixelllm-tiny", "git.mlp_ratio", "\"8/3\"", "git.mlp_ratio must be a number in (0, 64], got \"8/3\"")]
    [InlineData("pixelllm-tiny", "t5.lora_scale", "true", "t5.lora_scale must be a number in [0, 10000], got true")]
    [InlineData("pixelllm-tiny", "sam.window_block_indexes", "[0.5]", "sam.window_block_indexes[0] must be an integer in [0, 1], got 0.5")]
    [InlineData("pixelllm-tiny", "git", "[]", "git must be an object, got an array")]
    [InlineData("pixelllm-tiny", "text_decoder_feature_key", "3", "text_decoder_feature_key must be a string, got 3")]
    [InlineData("pixelllm-tiny-densecap", "box_decoder.roi_fc_dims", "32", "box_decoder.roi_fc_dims must be an array of 1 to 16 integers in [1, 65536], got 32")]
    public void WrongTypesAreRefusedByKey(string source, string path, string value, string expected) => Refused(source, path, value, expected);

    /// <summary>Errors that used to surface later without the key (an Embedding, an image fit, an encoder check).</summary>
    [Theory]
    [InlineData("pixelllm-tiny", "begin_token_id", "100", "begin_token_id must be an id in [0, 99] (vocab_size 100), got 100")]
    [InlineData("pixelllm-tiny", "end_token_id", "-1", "end_token_id must be an id in [0, 99] (vocab_size 100), got -1")]
    [InlineData("pixelllm-tiny", "pad_token_id", "1000", "pad_token_id must be an id in [0, 99]")]
    [InlineData("pixelllm-tiny", "unk_token_id", "100", "unk_token_id must be an integer in [0, 99], got 100")]
    [InlineData("pixelllm-tiny", "special_non_eos_ids", "[0, 100]", "special_non_eos_ids[1] must be an integer in [0, 99], got 100")]
    [InlineData("pixelllm-bert-tiny", "begin_token_id", "111", "begin_token_id must be an id in [0, 110] (vocab_size 111)")]
    [InlineData("pixelllm-tiny", "canvas", "-128", "canvas must be an integer in [1, 4096], got -128")]
    [InlineData("pixelllm-tiny", "git.num_heads", "3", "git.num_heads must be a divisor of git.embed_dim 32 leaving head widths that are multiples of 4, got 3")]
    [InlineData("pixelllm-tiny", "git.num_heads", "16", "git.num_heads must be a divisor of git.embed_dim 32 leaving head widths that are multiples of 4, got 16")]
    [InlineData("pixelllm-bert-tiny", "git_text.num_heads", "5", "git_text.num_heads must be a divisor of git_text.hidden 32, got 5")]
    [InlineData("pixelllm-tiny", "prompt_adapter.num_heads", "5", "prompt_adapter.num_heads must be a divisor of prompt_adapter.transformer_dim 32, got 5")]
    public void LateErrorsNameTheirKey(string source, string path, string value, string expected) => Refused(source, path, value, expected);

    [Theory]
    [InlineData("pixelllm-tiny", "git.depth", "git.depth")]
    [InlineData("pixelllm-tiny", "canvas", "canvas")]
    [InlineData("pixelllm-bert-tiny", "git_text.vocab_size", "git_text.vocab_size")]
    [InlineData("refseg", "mask_adapter.transformer_dim", "mask_adapter.transformer_dim")]
    public void MissingRequiredKeysAreNamed(string source, string path, string expected)
    {
        var json = Config(source);
        var (parent, key) = Parent(json, path);
        parent.Remove(key);
        var message = Assert.Throws<ModelFileException>(() => Golden.ParseConfig(json)).Message;
        Assert.Contains($"missing key '{expected}'", message);
    }

    /// <summary>The bounds are inclusive and leave room: the largest and smallest legal values parse (nothing is built).</summary>
    [Theory]
    [InlineData("pixelllm-tiny", "git.depth", "1024")]
    [InlineData("pixelllm-tiny", "sam.depth", "0")]
    [InlineData("pixelllm-tiny", "max_caption_length", "3")]
    [InlineData("pixelllm-tiny", "max_caption_length", "4096")]
    [InlineData("pixelllm-tiny", "box_points_per_side", "64")]
    [InlineData("pixelllm-tiny", "box_points_per_side", "1")]            // one point
    [InlineData("pixelllm-tiny", "box_points_per_side", "-1")]           // the two corners (scenic build_solid_grid)
    [InlineData("pixelllm-tiny", "end_token_id", "99")]
    [InlineData("pixelllm-tiny", "git.mlp_ratio", "4")]           // an integer literal is a number
    [InlineData("pixelllm-tiny", "unk_token_id", "null")]          // null is an absent key (Python's None)
    [InlineData("pixelllm-tiny", "sam.patch_size", "120")]        // one patch on the canvas
    [InlineData("pixelllm-bert-tiny", "max_caption_length", "16")] // the whole position table
    public void BoundaryValuesParse(string source, string path, string value)
    {
        var json = Config(source);
        Set(json, path, value);
        Golden.ParseConfig(json);
    }

    /// <summary>Every shipped and golden model config still parses: the bounds are not tighter than a real config.</summary>
    [Fact]
    public void EveryShippedConfigParses()
    {
        foreach (var name in PixelLlmConfigs.Names) PixelLlmConfigs.Get(name);
        foreach (var set in new[] { "pixelllm", "pixelllm_git", "pixelllm_refseg", "pixelllm_densecap" })
            foreach (var file in Directory.GetFiles(Path.Combine(Golden.Root, set), "*.json"))
            {
                var root = JsonNode.Parse(File.ReadAllText(file))!.AsObject();
                if (root["config"] is JsonObject config) Golden.ParseConfig(config);
            }
    }

    private static void Refused(string source, string path, string value, string expected)
    {
        var json = Config(source);
        Set(json, path, value);
        // On a worker with a deadline: a hang (the old failure) fails the test instead of stalling the run.
        var watch = Stopwatch.StartNew();
        var parse = Task.Run(() => Golden.ParseConfig(json));
        Assert.True(Task.WaitAny([parse], TimeSpan.FromSeconds(10)) == 0, $"parsing {path} = {value} did not return within 10 s");
        var e = Assert.IsType<ModelFileException>(Assert.IsType<AggregateException>(parse.Exception).InnerException);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"parsing {path} = {value} took {watch.Elapsed}");
        Assert.Equal($"pixelllm config: {expected}", e.Message[..Math.Min(e.Message.Length, $"pixelllm config: {expected}".Length)]);
        Assert.DoesNotContain('\n', e.Message);
    }

    private static JsonObject Config(string source) => source == "refseg"
        ? Golden.CaseConfig("pixelllm_refseg", "referring_segmentation")
        : PixelLlmConfigs.Json(source);

    private static void Set(JsonObject json, string path, string value)
    {
        var (parent, key) = Parent(json, path);
        parent[key] = JsonNode.Parse(value);
    }

    private static (JsonObject Parent, string Key) Parent(JsonObject json, string path)
    {
        var parts = path.Split('.');
        var node = json;
        foreach (var part in parts[..^1]) node = node[part]!.AsObject();
        return (node, parts[^1]);
    }
}
