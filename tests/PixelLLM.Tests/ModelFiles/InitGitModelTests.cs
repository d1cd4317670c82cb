using PixelLLM.Models;
using PixelLLM.Models.ModelFiles;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;
using PixelLLM.WeightsTools;

namespace PixelLLM.Tests.ModelFiles;

/// <summary><c>pixelllm init</c> of a BERT/GIT config writes a WordPiece vocab whose special ids are the config's, and the model captions.</summary>
public class InitGitModelTests
{
    [Theory]
    [InlineData("pixelllm-bert-tiny")]
    public void RandomGitModelOpensWithAMatchingVocabAndCaptions(string name)
    {
        using var temp = new TempDirectory();
        var source = ModelConfigSource.Resolve(name);
        var dir = temp.File("model");
        RandomModel.Write(source, dir, seed: 3, DType.F32, null);

        using var directory = ModelDirectory.Open(dir);
        Assert.Equal(LanguageModelKind.Git, directory.Config.LanguageModel.Kind);
        Assert.Equal(directory.Config.LanguageModel.VocabSize, directory.Tokenizer.VocabSize);
        directory.Config.CheckTokenizer(directory.Tokenizer, dir);     // [PAD]/[UNK]/[CLS]/[SEP] at the config's ids
        Assert.Equal(File.ReadAllLines(Path.Combine(dir, "vocab.txt")).Length, File.ReadAllLines(Path.Combine(dir, "vocab.txt")).Distinct().Count());

        using var model = PixelLlmModel.Load(dir);
        var image = PixelImage.Load(Path.Combine(RepoRoot.Path, "samples", "scene_2000002.png"));
        var caption = model.Caption(image);
        Assert.InRange(caption.Tokens.Count, 2, directory.Config.MaxCaptionLength);
        Assert.Equal(caption.Text, model.Caption(image).Text);
    }
}
