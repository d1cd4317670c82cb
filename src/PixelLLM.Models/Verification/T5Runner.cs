using System.Text.Json;
using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models.Verification;

/// <summary>Hugging Face T5ForConditionalGeneration cases: teacher-forced logits, hidden states, greedy ids.</summary>
internal sealed class T5Runner : IGoldenRunner
{
    public string Component => "t5";

    public IReadOnlyDictionary<string, HostTensor> Run(GoldenCase golden, IBackend backend)
    {
        var c = ReadConfig(golden.Fields);
        var ids = ToInt32(golden.Input("in.input_ids"));
        var mask = golden.Input("in.attention_mask");
        var decoderIds = ToInt32(golden.Input("in.decoder_input_ids"));
        int batch = ids.Shape[0], encLength = ids.Shape[1];
        var keyMask = HostTensor.FromArray(mask.ToFloatArray().Select(v => v != 0 ? (byte)1 : (byte)0).ToArray(), batch, 1, 1, encLength);

        var results = new Dictionary<string, HostTensor>();
        var g = new Graph();
        var p = new ParamScope(g, golden.Weights);
        var encoded = T5.Encode(p, c, g.Input("ids", DType.I32, batch, encLength), g.Input("mask", DType.U8, batch, 1, 1, encLength),
            (i, h) => g.Output($"mid.encoder_hidden_states.{i}", h));
        var hidden = T5.Decode(p, c, g.Input("dec", DType.I32, decoderIds.Shape.ToArray()), encoded, g["mask"],
            onHidden: (i, h) => g.Output($"mid.decoder_hidden_states.{i}", h));
        g.Output("out.logits", T5.Logits(p, c, hidden));
        using (var exec = new GraphExecutor(g, backend))
        {
            exec.SetInput("ids", ids); exec.SetInput("mask", keyMask); exec.SetInput("dec", decoderIds);
            exec.Run();
            foreach (var name in g.Outputs.Keys) results[name] = exec.Fetch(name);
            results["out.encoder_last_hidden_state"] = results[$"mid.encoder_hidden_states.{c.NumLayers}"];
        }

        int steps = golden.Fields.Count("greedy_steps");
        int start = golden.Fields.Count("decoder_start_token_id");
        var (greedy, margins) = GreedyByRerun(golden, backend, c, ids, keyMask, steps, start);
        results["out.greedy_ids"] = greedy;
        results["out.greedy_margin"] = margins;
        return results;
    }

    /// <summary>The reference's greedy loop: rerun the whole decoder on the growing prefix, argmax of the last position.</summary>
    private static (HostTensor Ids, HostTensor Margins) GreedyByRerun(GoldenCase golden, IBackend backend, T5Config c, HostTensor ids, HostTensor keyMask, int steps, int start)
    {
        int batch = ids.Shape[0];
        var tokens = new long[batch, steps + 1];
        var margins = new float[batch * steps];
        for (int b = 0; b < batch; b++) tokens[b, 0] = start;
        for (int t = 1; t <= steps; t++)
        {
            var g = new Graph();
            var p = new ParamScope(g, golden.Weights);
            var enc = T5.Encode(p, c, g.Input("ids", DType.I32, ids.Shape.ToArray()), g.Input("mask", DType.U8, keyMask.Shape.ToArray()));
            var hidden = T5.Decode(p, c, g.Input("dec", DType.I32, batch, t), enc, g["mask"]);
            g.Output("last", T5.Logits(p, c, g.Slice(hidden, 1, t - 1, t)));
            using var exec = new GraphExecutor(g, backend);
            var prefix = new int[batch * t];
            for (int b = 0; b < batch; b++) for (int i = 0; i < t; i++) prefix[b * t + i] = (int)tokens[b, i];
            exec.SetInput("ids", ids); exec.SetInput("mask", keyMask); exec.SetInput<int>("dec", prefix);
            exec.Run();
            var logits = exec.FetchFloats("last");
            for (int b = 0; b < batch; b++)
            {
                var row = logits.AsSpan(b * c.VocabSize, c.VocabSize);
                int best = 0;
                for (int v = 1; v < row.Length; v++) if (row[v] > row[best]) best = v;
                float second = float.NegativeInfinity;
                for (int v = 0; v < row.Length; v++) if (v != best && row[v] > second) second = row[v];
                tokens[b, t] = best;
                margins[b * steps + t - 1] = row[best] - second;
            }
        }
        var flat = new long[batch * (steps + 1)];
        for (int b = 0; b < batch; b++) for (int i = 0; i <= steps; i++) flat[b * (steps + 1) + i] = tokens[b, i];
        return (HostTensor.FromArray(flat, batch, steps + 1), HostTensor.FromArray(margins, batch, steps));
    }

    internal static T5Config ReadConfig(JsonElement j) => ReadConfig(new CaseJson(j, "case JSON", "config"));

    internal static T5Config ReadConfig(CaseJson j) => new(
        VocabSize: j.Size("vocab_size"), DModel: j.Size("d_model"),
        DKv: j.Size("d_kv"), DFf: j.Size("d_ff"), NumHeads: j.Size("num_heads"),
        NumLayers: j.Count("num_layers"), NumDecoderLayers: j.Count("num_decoder_layers"),
        RelativeBuckets: j.Size("relative_attention_num_buckets"),
        RelativeMaxDistance: j.Size("relative_attention_max_distance"),
        Eps: j.Single("layer_norm_epsilon"), MaskBias: float.MinValue,
        TieWordEmbeddings: j.Flag("tie_word_embeddings"))
    {
        // Hugging Face's T5Config defaults to "relu" (T5 v1.0) when the case does not say.
        FeedForward = T5FeedForward.Parse(j.OptionalText("feed_forward_proj") ?? "relu"),
    };

    private static HostTensor ToInt32(HostTensor t) =>
        HostTensor.FromArray(t.ToFloatArray().Select(v => (int)v).ToArray(), t.Shape.ToArray());
}
