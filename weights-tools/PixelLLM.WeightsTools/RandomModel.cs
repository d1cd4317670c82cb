using PixelLLM.Models;
using PixelLLM.Models.ModelFiles;
using PixelLLM.Runtime;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.WeightsTools;

/// <summary>
/// A model directory of random weights for any configuration (<c>pixelllm init</c>): every tensor
/// <see cref="EngineParameterShapes"/> lists, drawn by <see cref="RandomWeights"/> under its engine name. Values depend
/// only on (seed, name, shape), so the same seed always gives the same directory; tensors are generated one at a time
/// while the file is written, so a 3B-parameter model never has to fit in memory.
/// </summary>
public static class RandomModel
{
    /// <summary>The planned tensors of <paramref name="source"/>'s model, each generated when written.</summary>
    public static IReadOnlyList<PlannedTensor> Plan(ModelConfigSource source, int seed) =>
        EngineParameterShapes.For(source.Config).Select(entry => new PlannedTensor(entry.Key,
            new TensorDesc(DType.F32, new Shape(entry.Value)),
            () => new RandomWeights([entry], seed).Get(entry.Key))).ToList();

    /// <summary>Writes the random model directory <paramref name="outDir"/>.</summary>
    /// <param name="source">The model config.</param>
    /// <param name="outDir">The directory to create (replaced when it is a model directory already).</param>
    /// <param name="seed">Seed of every tensor.</param>
    /// <param name="dtype">Storage dtype (f32, bf16 or f16).</param>
    /// <param name="tokenizerFile">A tokenizer file to copy; null writes a synthetic one that fits the vocabulary.</param>
    public static void Write(ModelConfigSource source, string outDir, int seed, DType dtype, string? tokenizerFile)
    {
        var manifest = new ModelDirectoryManifest(source.Json, dtype, ModelDirectoryManifest.TokenizerFor(source.Config), source.Name);
        bool git = manifest.Tokenizer == TokenizerKind.WordPiece;
        if (tokenizerFile is not null) { ModelDirectory.Write(outDir, manifest, Plan(source, seed), tokenizerFile); return; }
        var scratch = Directory.CreateTempSubdirectory("pixelllm-init-").FullName;
        try
        {
            // The file name is what the model directory records for its tokenizer.
            var synthetic = Path.Combine(scratch, manifest.TokenizerFileName);
            if (git) File.WriteAllLines(synthetic, SyntheticWordPiece.Lines(source.Config));
            else File.WriteAllBytes(synthetic, SyntheticSentencePiece.Build(SyntheticSentencePiece.PieceCount(source)));
            ModelDirectory.Write(outDir, manifest, Plan(source, seed), synthetic);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }
}
