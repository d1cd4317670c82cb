using System.Text.Json.Nodes;
using PixelLLM.Models;
using PixelLLM.Models.Checkpoints;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;
using PixelLLM.WeightsTools;

namespace PixelLLM.Tests.Models;

/// <summary>
/// Referring segmentation with the BERT/GIT text decoder (no dev golden has that pairing): the mask adapter's visual
/// projection reads the prompt adapter's output (spec §7.3 D_vis: 1024 for BERT, which projects inside the decoder), its
/// textual projection the decoder's hidden states. The parameter checklist used to give both the hidden width, so a GIT
/// model with a mask branch could not be built or converted.
/// </summary>
public class GitMaskBranchTests
{
    /// <summary>The GIT golden's model with the refseg golden's SAM, prompt side and mask branch (consistent channel widths).</summary>
    private static JsonObject GitRefsegConfig()
    {
        var git = Golden.CaseConfig("pixelllm_git", "loca_caption");
        var refseg = Golden.CaseConfig("pixelllm_refseg", "referring_segmentation");
        foreach (var key in new[] { "sam", "prompt_encoder", "prompt_adapter", "mask_adapter", "mask_decoder", "mask_decoder_feature_key", "point_output_ignore" })
            git[key] = refseg[key]!.DeepClone();
        return git;
    }

    [Fact]
    public void TheVisualProjectionReadsTheAdapterOutputAndTheTextualOneTheHiddenStates()
    {
        var config = Golden.ParseConfig(GitRefsegConfig());
        var shapes = ScenicParameterShapes.For(config);
        int transformer = config.MaskBranch!.Adapter.TransformerDim;
        Assert.Equal([config.Adapter.OutputDim, transformer], shapes["mask_adapter/visual_projection_mlp/layers.0/kernel"]);
        Assert.Equal([config.Adapter.OutputDim], shapes["mask_adapter/visual_projection_mlp/LayerNorm_0/scale"]);
        Assert.Equal([config.Git.Hidden, transformer], shapes["mask_adapter/textual_projection_mlp/layers.0/kernel"]);
        Assert.NotEqual(config.Adapter.OutputDim, config.Git.Hidden); // the case tells the two widths apart
    }

    [Fact]
    public void ARandomGitModelWithAMaskBranchSegments()
    {
        using var temp = new TempDirectory();
        var source = ModelConfigSource.FromJson(GitRefsegConfig(), "git-refseg", "test");
        var dir = temp.File("model");
        RandomModel.Write(source, dir, seed: 3, DType.F32, tokenizerFile: null);
        using var model = PixelLlmModel.Load(dir);
        var image = PixelImage.Load(Path.Combine(Golden.Root, "pixelllm_refseg", "referring_segmentation.png"));
        var result = model.Segment(image, "a");
        Assert.Equal((image.Width, image.Height), (result.Mask.Width, result.Mask.Height));
        Assert.True(float.IsFinite(result.Iou));
        Assert.Equal(result.ToJson(), model.Segment(image, "a").ToJson());
    }
}
