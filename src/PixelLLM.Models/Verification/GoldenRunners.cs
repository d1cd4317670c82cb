using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.Models.Verification;

/// <summary>Runs our implementation of one reference component on a case's inputs and returns tensors under the case's names.</summary>
public interface IGoldenRunner
{
    /// <summary>The case JSON's "component" this runner handles.</summary>
    string Component { get; }

    /// <summary>Every out.* and mid.* tensor the case holds, computed by our code on <paramref name="backend"/>.</summary>
    IReadOnlyDictionary<string, HostTensor> Run(GoldenCase golden, IBackend backend);
}

/// <summary>All runners, by component: the one list to extend when a module gains a reference case.</summary>
public static class GoldenRunners
{
    private static readonly IGoldenRunner[] all =
    [
        new PromptEncoderRunner(),
        new TwoWayTransformerRunner(),
        new MaskDecoderRunner(),
        new SamPipelineRunner(),
        new SamImageEncoderRunner(),
        new T5Runner(),
        new Eva02Runner(),
        new PixelLlmRunner(),
    ];

    public static IReadOnlyList<IGoldenRunner> All => all;

    public static IGoldenRunner For(string component) =>
        all.FirstOrDefault(r => r.Component == component)
        ?? throw new InvalidInputException($"no verifier for component '{component}' (known: {string.Join(", ", all.Select(r => r.Component))})");
}
