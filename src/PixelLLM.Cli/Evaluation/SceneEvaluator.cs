using PixelLLM.Runtime;

namespace PixelLLM.Cli.Evaluation;

/// <summary>Which of eval.py's metric groups to compute.</summary>
[Flags]
internal enum EvalTasks
{
    None = 0,
    /// <summary>Caption exact match, teacher-forced token accuracy, trace hit rates.</summary>
    Trace = 1,
    /// <summary>Referring P@0.5.</summary>
    Refer = 2,
    /// <summary>Location-conditioned caption accuracy.</summary>
    Loca = 4,
    /// <summary>Mask IoU (mean and cumulative).</summary>
    Segment = 8,
    All = Trace | Refer | Loca | Segment,
}

/// <summary>
/// Runs every scene of a set through the model as weights-tools/trainer/eval.py does and scores it: the caption greedily
/// decoded (exact match) and teacher-forced on the scene's words (token accuracy, trace), each referring expression through
/// the public <see cref="PixelLlmModel.Refer"/> (teacher-forced, P@0.5) and teacher-forced again with the mask branch (IoU),
/// every object box through the public location-conditioned <see cref="PixelLlmModel.Caption(PixelImage, IReadOnlyList{Box}, RequestOptions?)"/>.
/// </summary>
internal static class SceneEvaluator
{
    /// <summary>The engine's referring context (TaskSettings.Referring); the caption contexts are read from TaskSettings.</summary>
    private const string ReferPrefix = "where is ";

    /// <summary>Checks the set was made for the contexts the engine's tasks use (the API takes no custom prompt).</summary>
    /// <exception cref="InvalidInputException">A prompt differs.</exception>
    public static void CheckPrompts(SyntheticSceneSet set)
    {
        void Check(string field, string value, string engine)
        {
            if (value != engine)
                throw new InvalidInputException($"{set.AnnotationsPath}: {field} is '{value}', but the engine's task uses '{engine}'");
        }
        Check("prompts.trace", set.Prompts.Trace, TaskSettings.CaptionTrace.Context);
        Check("prompts.loca", set.Prompts.Loca, TaskSettings.LocationCaption.Context);
        Check("prompts.refer_prefix", set.Prompts.ReferPrefix, ReferPrefix);
    }

    public static EvalMetrics Run(PixelLlmModel model, IReadOnlyList<SyntheticScene> scenes, EvalTasks tasks, Action<int>? progress = null)
    {
        if ((tasks & (EvalTasks.Trace | EvalTasks.Refer | EvalTasks.Segment)) != 0 && !model.HasPointHead)
            throw new InvalidInputException($"eval: model '{model.Name}' has no point head (trace, refer and segment need one)");
        if (tasks.HasFlag(EvalTasks.Segment) && !model.CanSegment)
            throw new InvalidInputException($"eval: model '{model.Name}' has no mask branch (--task segment needs one)");
        var metrics = new EvalMetrics();
        foreach (var scene in scenes)
        {
            var image = model.LoadImage(scene.ImagePath);
            if (image.Width != scene.Width || image.Height != scene.Height)
                throw new InvalidInputException($"{scene.ImagePath}: the image is {image.Width}×{image.Height}, annotations.json " +
                    $"scenes[{scene.Index}] says {scene.Width}×{scene.Height}");
            metrics.Scenes++;
            if (tasks.HasFlag(EvalTasks.Trace))
            {
                metrics.CaptionExact.Add(model.CaptionGreedy(image).Text == scene.Caption);
                SceneScoring.Trace(metrics, scene, model.TraceCaption(image, string.Join(' ', scene.CaptionWords)));
            }
            if (tasks.HasFlag(EvalTasks.Refer) && scene.Referrals.Count > 0)
            {
                // One batch per scene (one vision pass); each result is what its single call gives.
                var located = model.Refer(image, scene.Referrals.Select(r => r.Text).ToList());
                for (int k = 0; k < located.Count; k++) SceneScoring.Refer(metrics, scene, scene.Referrals[k], located[k].Box);
            }
            if (tasks.HasFlag(EvalTasks.Segment))
                foreach (var referral in scene.Referrals) SceneScoring.Mask(metrics, scene, referral, model.SegmentTeacherForced(image, referral.Text));
            if (tasks.HasFlag(EvalTasks.Loca))
            {
                var captions = model.Caption(image, scene.Objects.Select(o => o.Box).ToList());
                for (int k = 0; k < captions.Count; k++) metrics.LocaAccuracy.Add(captions[k].Text == scene.Objects[k].RegionCaption);
            }
            progress?.Invoke(metrics.Scenes);
        }
        return metrics;
    }
}
