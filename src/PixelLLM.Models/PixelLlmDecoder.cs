using PixelLLM.Models.Common;
using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
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

    /// <param name="crossRowsPerPrompt">0: the cross-attention keys and values are projected from a "memory" input here.
    /// k ≥ 1: they come in per layer as the KV decoder's prefill states hold them, k rows (beams) per prompt, and row r reads
    /// state row r·k (<see cref="TeacherForced(ReadOnlySpan{int}, T5IncrementalDecoder, bool[][], bool)"/>).</param>
    public PixelLlmDecoder(IWeightSource weights, T5Config c, IBackend backend, int rows, int length, int encoderLength, int crossRowsPerPrompt = 0)
    {
        (this.rows, this.length, this.encoderLength, dModel, vocab) = (rows, length, encoderLength, c.DModel, c.VocabSize);
        CrossRowsPerPrompt = crossRowsPerPrompt;
        var g = new Graph();
        var t5 = new ParamScope(g, weights, "t5");
        var tokens = g.Input("tokens", DType.I32, rows, length);
        var selfMask = g.Input("self_mask", DType.U8, rows, 1, length, length);
        var crossMask = g.Input("cross_mask", DType.U8, rows, 1, length, encoderLength);
        Tensor features, logits;
        if (crossRowsPerPrompt == 0)
            (features, logits) = PixelLlmText.Decode(t5, c, tokens, g.Input("memory", DType.F32, rows, encoderLength, c.DModel), selfMask, crossMask);
        else
        {
            int k = crossRowsPerPrompt, width = encoderLength * c.Inner;
            var firstOfPrompt = k == 1 ? null
                : g.Weight($"aux.t5.prompt_rows.{rows}x{k}", HostTensor.FromArray(Enumerable.Range(0, rows).Select(r => r * k).ToArray(), rows));
            Tensor PerPrompt(string input)
            {
                var state = g.Input(input, DType.F32, rows * k, encoderLength, c.Inner);
                return firstOfPrompt is null ? state : g.Reshape(g.Embedding(g.Reshape(state, rows * k, width), firstOfPrompt), rows, encoderLength, c.Inner);
            }
            features = T5.Decode(t5, c, tokens, i => (PerPrompt(T5DecoderStep.CrossKey(i)), PerPrompt(T5DecoderStep.CrossValue(i))), crossMask, selfMask);
            logits = T5.Logits(t5, c, features);
        }
        g.Output("features", features);
        g.Output("logits", logits);
        exec = new GraphExecutor(g, backend);
    }

    /// <summary>0, or the prefill rows per prompt this decoder reads its cross-attention keys and values from.</summary>
    public int CrossRowsPerPrompt { get; }

    public int Rows => rows;
    public int VocabSize => vocab;

    /// <summary>
    /// Logits (rows × L × vocab) of the decoder on <paramref name="tokens"/> (rows × L), as a decoding step of the full
    /// rerun reads them. <paramref name="memory"/> and <paramref name="encoderValid"/> hold one entry per prompt; token row
    /// r reads prompt r / <paramref name="rowsPerPrompt"/>.
    /// </summary>
    public float[] AllLogits(ReadOnlySpan<int> tokens, float[] memory, bool[][] encoderValid, int rowsPerPrompt)
    {
        SetTokens(tokens, encoderValid, rowsPerPrompt);
        exec.SetInput<float>("memory", Tile(memory, rowsPerPrompt));
        exec.Run();
        return exec.FetchFloats("logits");
    }

    /// <summary>
    /// The teacher-forced pass: one token row per prompt, the memory read where it is (on the backend while the prompt
    /// graph still holds it). The states stay in this decoder's outputs (<see cref="GraphExecutor.Keep"/>), where the point
    /// head reads them; the logits are fetched only when asked for.
    /// </summary>
    public (KeptTensor Features, float[]? Logits) TeacherForced(ReadOnlySpan<int> tokens, KeptTensor memory, bool[][] encoderValid, bool fetchLogits)
    {
        if (CrossRowsPerPrompt != 0) throw new InvalidOperationException("this decoder reads the prefill's cross-attention states, not a memory");
        SetTokens(tokens, encoderValid, 1);
        memory.Bind(exec, "memory");
        return RunTeacherForced(fetchLogits);
    }

    /// <summary>
    /// The teacher-forced pass reading each layer's cross-attention keys and values from <paramref name="prefilled"/>'s
    /// states (its last prefill, which must be of these prompts' encoding): the same projections of the same memory,
    /// not computed twice.
    /// </summary>
    public (KeptTensor Features, float[]? Logits) TeacherForced(ReadOnlySpan<int> tokens, T5IncrementalDecoder prefilled, bool[][] encoderValid, bool fetchLogits)
    {
        if (CrossRowsPerPrompt != prefilled.Beams || prefilled.Batch != rows || prefilled.MemoryLength != encoderLength)
            throw new InvalidOperationException($"decoder for {rows} prompts × {CrossRowsPerPrompt} prefill rows cannot read a prefill of " +
                $"{prefilled.Batch} × {prefilled.Beams} over {prefilled.MemoryLength} memory tokens");
        SetTokens(tokens, encoderValid, 1);
        prefilled.BindCrossStates(exec);
        return RunTeacherForced(fetchLogits);
    }

    private void SetTokens(ReadOnlySpan<int> tokens, bool[][] encoderValid, int rowsPerPrompt)
    {
        if (tokens.Length != rows * length) throw new InvalidInputException($"decoder: {tokens.Length} tokens for {rows}×{length}");
        var (self, cross) = PixelLlmTokens.DecoderMasks(tokens, rows, length, encoderValid, rowsPerPrompt);
        exec.SetInput("tokens", tokens);
        exec.SetInput("self_mask", self);
        exec.SetInput("cross_mask", cross);
    }

    private (KeptTensor Features, float[]? Logits) RunTeacherForced(bool fetchLogits)
    {
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
            var all = decoder.AllLogits(sequences, memory, encoderValid, rowsPerPrompt);
            int v = decoder.vocab;
            for (int r = 0; r < rows; r++)
                all.AsSpan((r * decoder.length + position - 1) * v, v).CopyTo(logits.Slice(r * v, v));
        }
    }
}
