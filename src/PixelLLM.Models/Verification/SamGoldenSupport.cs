using System.Text.Json;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models.Verification;

/// <summary>What the SAM prompt-side runners share: config fields and NCHW ↔ channels-last glue.</summary>
internal static class SamGoldenSupport
{
    public static int Int(JsonElement config, string name) => Field(config, name).GetInt32();

    public static (int First, int Second) Pair(JsonElement config, string name)
    {
        var e = Field(config, name);
        if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() != 2) throw new ModelFileException($"case config: '{name}' must be a pair");
        return (e[0].GetInt32(), e[1].GetInt32());
    }

    public static JsonElement Field(JsonElement config, string name) =>
        config.TryGetProperty(name, out var e) ? e : throw new ModelFileException($"case config: missing '{name}'");

    /// <summary>A graph input holding an NCHW golden tensor, permuted to channels-last (B, H, W, C).</summary>
    public static Tensor NchwInput(Graph g, string name, HostTensor value) =>
        g.Permute(g.Input(name, value.DType, value.Shape.ToArray()), 0, 2, 3, 1);

    /// <summary>Marks a channels-last (B, H, W, C) tensor as an output in the golden's NCHW layout.</summary>
    public static void NchwOutput(Graph g, string name, Tensor nhwc) => g.Output(name, g.Permute(nhwc, 0, 3, 1, 2));
}
