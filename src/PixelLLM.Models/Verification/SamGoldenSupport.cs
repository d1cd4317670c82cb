using System.Text.Json;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models.Verification;

/// <summary>What the SAM prompt-side runners share: config fields and NCHW ↔ channels-last glue.</summary>
internal static class SamGoldenSupport
{
    /// <summary>A config element not read from a case file (a test's edited copy): errors name it as "case JSON".</summary>
    public static CaseJson Fields(JsonElement config) => new(config, "case JSON", "config");

    /// <summary>A graph input holding an NCHW golden tensor, permuted to channels-last (B, H, W, C).</summary>
    public static Tensor NchwInput(Graph g, string name, HostTensor value) =>
        g.Permute(g.Input(name, value.DType, value.Shape.ToArray()), 0, 2, 3, 1);

    /// <summary>Marks a channels-last (B, H, W, C) tensor as an output in the golden's NCHW layout.</summary>
    public static void NchwOutput(Graph g, string name, Tensor nhwc) => g.Output(name, g.Permute(nhwc, 0, 3, 1, 2));
}
