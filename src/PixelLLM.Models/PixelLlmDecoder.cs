using PixelLLM.Models.Common;
using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models;

/// <summary>
/// The T5 decoder compiled once for (rows, L, encoder length): token rows in, decoder_norm states and logits out, with the
/// t5x masks built from the tokens on every run. It serves both the teacher-forced pass and, as
/// <see cref="StepLogits"/>, every decoding step (the reference reruns the full decoder each step).
/// </summary>
internal sealed class PixelLlmDecoder : IDisposable
{
    private readonly GraphExecutor exec;
    private readonly int rows, length, encoderLength, dModel, vocab;

    public PixelLlmDecoder(IWeightSource weights, T5Config c, IBackend backend, int rows, int length, int encoderLength)
    {
        (this.rows, this.length, this.encoderLength, dModel, vocab) = (rows, length, encoderLength, c.DModel, c.VocabSize);
        var g = new Graph();
        var t5 = new ParamScope(g, weights, "t5");
        var (features, logits) = PixelLlmText.Decode(t5, c,
            g.Input("tokens", DType.I32, rows, length),
            g.Input("memory", DType.F32, rows, encoderLength, c.DModel),
            g.Input("self_mask", DType.U8, rows, 1, length, length),
            g.Input("cross_mask", DType.U8, rows, 1, length, encoderLength));
        g.Output("features", features);
        g.Output("logits", logits);
        exec = new GraphExecutor(g, backend);
    }

    public int Rows => rows;
    public int VocabSize => vocab;

    /// <summary>
    /// Runs the decoder on <paramref name="tokens"/> (rows × L). <paramref name="memory"/> and <paramref name="encoderValid"/>
    /// hold one entry per prompt; token row r reads prompt r / <paramref name="rowsPerPrompt"/>. Only the outputs asked
    /// for are fetched: the logits are rows × L × vocab (a few MB each pass), which a caption request never reads, and
    /// decoding steps never read the features.
    /// </summary>
    public (float[]? Features, float[]? Logits) Run(ReadOnlySpan<int> tokens, float[] memory, bool[][] encoderValid, int rowsPerPrompt,
        bool fetchFeatures = true, bool fetchLogits = true)
    {
        if (tokens.Length != rows * length) throw new InvalidInputException($"decoder: {tokens.Length} tokens for {rows}×{length}");
        var (self, cross) = PixelLlmTokens.DecoderMasks(tokens, rows, length, encoderValid, rowsPerPrompt);
        exec.SetInput("tokens", tokens);
        exec.SetInput<float>("memory", Tile(memory, rowsPerPrompt));
        exec.SetInput("self_mask", self);
        exec.SetInput("cross_mask", cross);
        exec.Run();
        return (fetchFeatures ? exec.FetchFloats("features") : null, fetchLogits ? exec.FetchFloats("logits") : null);
    }

    /// <summary>
    /// The teacher-forced pass: one token row per prompt, the memory read where it is (on the backend while the prompt
    /// graph still holds it). The states stay in this decoder's outputs (<see cref="GraphExecutor.Keep"/>), where the point
    /// head reads them; the logits are fetched only when asked for.
    /// </summary>
    public (KeptTensor Features, float[]? Logits) TeacherForced(ReadOnlySpan<int> tokens, KeptTensor memory, bool[][] encoderValid, bool fetchLogits)
    {
        if (tokens.Length != rows * length) throw new InvalidInputException($"decoder: {tokens.Length} tokens for {rows}×{length}");
        var (self, cross) = PixelLlmTokens.DecoderMasks(tokens, rows, length, encoderValid, 1);
        exec.SetInput("tokens", tokens);
        memory.Bind(exec, "memory");
        exec.SetInput("self_mask", self);
        exec.SetInput("cross_mask", cross);
        exec.Run();
        return (exec.Keep("features"), fetchLogits ? exec.FetchFloats("logits") : null);
    }

    private float[] Tile(float[] memory, int rowsPerPrompt)
    {
        int block = encoderLength * dModel;
        if (memory.Length * rowsPerPrompt != rows * block)
            throw new InvalidInputException($"decoder: encoder output of {memory.Length / block} prompts does not serve {rows} rows × {rowsPerPrompt}");
        if (rowsPerPrompt == 1) return memory;
        var tiled = new float[rows * block];
        for (int r = 0; r < rows; r++) Array.Copy(memory, r / rowsPerPrompt * block, tiled, r * block, block);
        return tiled;
    }

    public void Dispose() => exec.Dispose();

    /// <summary>The decoder as decoding sees it: logits of position t − 1 for every row's buffer (no cache: rows may reorder freely).</summary>
    public sealed class StepLogits(PixelLlmDecoder decoder, float[] memory, bool[][] encoderValid, int rowsPerPrompt) : IStepLogits
    {
        public int VocabSize => decoder.vocab;

        public void Compute(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, Span<float> logits)
        {
            if (rows != decoder.rows) throw new InvalidInputException($"decoder compiled for {decoder.rows} rows, asked for {rows}");
            var all = decoder.Run(sequences, memory, encoderValid, rowsPerPrompt, fetchFeatures: false).Logits!;
            int v = decoder.vocab;
            for (int r = 0; r < rows; r++)
                all.AsSpan((r * decoder.length + position - 1) * v, v).CopyTo(logits.Slice(r * v, v));
        }
    }
}
