using PixelLLM.Models.Checkpoints;
using PixelLLM.Models.Common;
using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models.TextModels;

/// <summary>
/// The GIT stack over [memory ; caption] compiled once for (rows, L, M) — the reference's full pass (spec §5.2): token
/// rows and the layer-0 memory in, last-layer caption states and logits out. It serves the teacher-forced pass and, as
/// <see cref="StepLogits"/>, the full-rerun decoding engine. The mask is built on the host: memory rows see valid memory
/// columns, caption rows see valid memory columns and the caption causally (no caption padding mask, errata D7).
/// </summary>
internal sealed class GitFullDecoder : IDisposable
{
    private const string Tokens = "tokens", Memory = "memory", Mask = "mask", Features = "features", Logits = "logits";
    private readonly GraphExecutor exec;
    private readonly int rows, length, memoryLength, hidden, vocab;

    public GitFullDecoder(IWeightSource weights, GitDecoderConfig c, IBackend backend, int rows, int length, int memoryLength)
    {
        c.Validate();
        (this.rows, this.length, this.memoryLength, hidden, vocab) = (rows, length, memoryLength, c.Hidden, c.VocabSize);
        var g = new Graph();
        var p = new ParamScope(g, weights, ScenicGitNames.EnginePrefix);
        int s = memoryLength + length;
        var x = g.Concat(1, g.Input(Memory, DType.F32, rows, memoryLength, c.Hidden), GitDecoder.Embed(p, c, g.Input(Tokens, DType.I32, rows, length), "caption"));
        var mask = g.Input(Mask, DType.U8, rows, 1, s, s);
        for (int i = 0; i < c.NumLayers; i++) x = GitDecoderLayer.Forward(p.Sub($"layers.{i}"), c, x, mask);
        var features = g.Slice(x, 1, memoryLength, s);
        g.Output(Features, features);
        g.Output(Logits, GitDecoder.Logits(p, features));
        exec = new GraphExecutor(g, backend);
    }

    public int Rows => rows;

    /// <summary>
    /// Logits (rows × L × vocab) of the stack on <paramref name="tokens"/> (rows × L), as a decoding step of the full rerun
    /// reads them. <paramref name="memory"/> (prompts × M × d) and <paramref name="memoryValid"/> hold one entry per prompt;
    /// token row r reads prompt r / <paramref name="rowsPerPrompt"/>.
    /// </summary>
    public float[] AllLogits(ReadOnlySpan<int> tokens, float[] memory, bool[][] memoryValid, int rowsPerPrompt)
    {
        int block = memoryLength * hidden;
        if (memory.Length * rowsPerPrompt != rows * block)
            throw new InvalidInputException($"GIT decoder: memory of {memory.Length / block} prompts does not serve {rows} rows × {rowsPerPrompt}");
        SetTokens(tokens, memoryValid, rowsPerPrompt);
        var tiled = memory;
        if (rowsPerPrompt > 1)
        {
            tiled = new float[rows * block];
            for (int r = 0; r < rows; r++) Array.Copy(memory, r / rowsPerPrompt * block, tiled, r * block, block);
        }
        exec.SetInput<float>(Memory, tiled);
        exec.Run();
        return exec.FetchFloats(Logits);
    }

    /// <summary>
    /// The teacher-forced pass: one token row per prompt, the memory read where it is (on the backend while the prompt
    /// graph still holds it). The states stay in this decoder's outputs, where the point head reads them; the logits are
    /// fetched only when asked for.
    /// </summary>
    public (KeptTensor Features, float[]? Logits) TeacherForced(ReadOnlySpan<int> tokens, KeptTensor memory, bool[][] memoryValid, bool fetchLogits)
    {
        SetTokens(tokens, memoryValid, 1);
        memory.Bind(exec, Memory);
        exec.Run();
        return (exec.Keep(Features), fetchLogits ? exec.FetchFloats(Logits) : null);
    }

    /// <summary>Token ids (checked against the vocabulary) and the attention mask of the memory validity, one entry per prompt.</summary>
    private void SetTokens(ReadOnlySpan<int> tokens, bool[][] memoryValid, int rowsPerPrompt)
    {
        CheckTokens(tokens);
        if (memoryValid.Length * rowsPerPrompt != rows)
            throw new InvalidInputException($"GIT decoder: memory validity of {memoryValid.Length} prompts does not serve {rows} rows × {rowsPerPrompt}");
        exec.SetInput(Tokens, tokens);
        exec.SetInput(Mask, AttentionMask(memoryValid, rowsPerPrompt));
    }

    private void CheckTokens(ReadOnlySpan<int> tokens)
    {
        if (tokens.Length != rows * length) throw new InvalidInputException($"GIT decoder: {tokens.Length} tokens for {rows}×{length}");
        foreach (var id in tokens)
            if ((uint)id >= (uint)vocab) throw new InvalidInputException($"GIT decoder: token id {id} is outside [0, {vocab})");
    }

    /// <summary>U8 (rows, 1, M + L, M + L): valid memory columns for every row, caption columns causally for caption rows.</summary>
    private HostTensor AttentionMask(bool[][] memoryValid, int rowsPerPrompt)
    {
        int s = memoryLength + length;
        var mask = new byte[rows * s * s];
        for (int r = 0; r < rows; r++)
        {
            var valid = memoryValid[r / rowsPerPrompt];
            if (valid.Length != memoryLength) throw new InvalidInputException($"GIT decoder: memory validity of {valid.Length} columns, expected {memoryLength}");
            for (int q = 0; q < s; q++)
            {
                var row = mask.AsSpan((r * s + q) * s, s);
                for (int k = 0; k < memoryLength; k++) row[k] = valid[k] ? (byte)1 : (byte)0;
                if (q >= memoryLength) row[memoryLength..(q + 1)].Fill(1);
            }
        }
        return HostTensor.FromArray(mask, rows, 1, s, s);
    }

    public void Dispose() => exec.Dispose();

    /// <summary>The full rerun as decoding sees it: logits of position t − 1 for every row's buffer (rows may reorder freely).</summary>
    public sealed class StepLogits(GitFullDecoder decoder, float[] memory, bool[][] memoryValid, int rowsPerPrompt) : IStepLogits
    {
        public int VocabSize => decoder.vocab;

        public void Compute(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, Span<float> logits)
        {
            if (rows != decoder.rows) throw new InvalidInputException($"GIT decoder compiled for {decoder.rows} rows, asked for {rows}");
            var all = decoder.AllLogits(sequences, memory, memoryValid, rowsPerPrompt);
            int v = decoder.vocab;
            for (int r = 0; r < rows; r++)
                all.AsSpan((r * decoder.length + position - 1) * v, v).CopyTo(logits.Slice(r * v, v));
        }
    }
}
