using System.Collections.Concurrent;
using PixelLLM.Models;
using PixelLLM.Models.DenseCaptioning;

namespace PixelLLM;

/// <summary>
/// The task stages kept beside each pooled <see cref="PixelLlm"/> (mask branch, box decoder): they cache compiled graphs, so
/// they live as long as the instance they belong to. A request borrows its instance exclusively, and with it these stages.
/// </summary>
internal sealed class TaskStages : IDisposable
{
    private readonly ConcurrentDictionary<PixelLlm, ReferringSegmentation> segmentation = new(ReferenceEqualityComparer.Instance);
    private readonly ConcurrentDictionary<PixelLlm, DenseCaptioner> captioners = new(ReferenceEqualityComparer.Instance);

    public ReferringSegmentation Segmentation(PixelLlm model) => segmentation.GetOrAdd(model, m => new ReferringSegmentation(m));

    public DenseCaptioner Captioner(PixelLlm model) => captioners.GetOrAdd(model, m => new DenseCaptioner(m));

    /// <summary>Disposes and forgets the stages of <paramref name="model"/> (the pool dropped it).</summary>
    public void Forget(PixelLlm model)
    {
        if (segmentation.TryRemove(model, out var s)) s.Dispose();
        if (captioners.TryRemove(model, out var c)) c.Dispose();
    }

    public void Dispose()
    {
        foreach (var s in segmentation.Values) s.Dispose();
        foreach (var c in captioners.Values) c.Dispose();
        segmentation.Clear();
        captioners.Clear();
    }
}
