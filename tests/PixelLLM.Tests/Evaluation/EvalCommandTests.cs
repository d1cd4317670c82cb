using System.Text.Json;
using PixelLLM.Cli;
using PixelLLM.Cli.Evaluation;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Evaluation;

/// <summary>
/// <c>pixelllm eval</c> end to end on the committed mini set (scenes.py --count 4 --seed 424242) with the bundled
/// models/default. The bundled model is retrained from time to time, so nothing here pins a metric's value: the counts follow
/// from the annotations, every metric is a rate in [0, 1], and the trace hit rate is recomputed from the model's own outputs.
/// </summary>
public sealed class EvalCommandTests : IDisposable
{
    private readonly string outDir = Path.Combine(Path.GetTempPath(), $"pixelllm-eval-{Guid.NewGuid():N}");

    public EvalCommandTests() => Directory.CreateDirectory(outDir);

    public void Dispose() => Directory.Delete(outDir, recursive: true);

    private static string MiniSet => SceneSetReaderTests.MiniSet;
    private static string DefaultModel => Path.Combine(RepoRoot.Path, "models", "default");

    [Fact]
    public void AllTasksReportEvalPyCountsAndRatesAndTheTraceHitRateOfTheModelsOwnPoints()
    {
        var json = Path.Combine(outDir, "metrics.json");
        var output = new StringWriter();
        Assert.Equal(0, CliErrors.Guard(() => EvalCommand.Run(new EvalArgs("all", MiniSet, DefaultModel, null, json), output)));

        using var annotations = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(MiniSet, "annotations.json")));
        var scenes = annotations.RootElement.GetProperty("scenes").EnumerateArray().ToList();
        int Sum(Func<JsonElement, int> f) => scenes.Sum(f);
        int words = Sum(s => s.GetProperty("caption_words").GetArrayLength());
        int naming = Sum(s => s.GetProperty("trace_object").EnumerateArray().Count(o => o.GetInt32() >= 0));
        int referrals = Sum(s => s.GetProperty("referring").GetArrayLength());
        int objects = Sum(s => s.GetProperty("objects").GetArrayLength());
        var expected = new Dictionary<string, int>
        {
            ["scenes"] = scenes.Count, ["cap_exact"] = scenes.Count, ["tok_acc"] = words + scenes.Count, ["trace_hit"] = naming,
            ["trace_box_hit"] = naming, ["refer_hit"] = referrals, ["mask_iou"] = referrals, ["mask_ciou"] = referrals, ["loca_acc"] = objects,
        };

        using var report = JsonDocument.Parse(File.ReadAllBytes(json));
        var root = report.RootElement;
        Assert.Equal(expected, root.GetProperty("counts").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32()));
        foreach (var key in expected.Keys.Where(k => k != "scenes"))
        {
            double value = root.GetProperty(key).GetDouble();
            Assert.InRange(value, 0.0, 1.0);
        }
        var table = output.ToString();
        Assert.Contains("trace hit rate (point in object mask)", table);
        Assert.Contains("referring P@0.5 (teacher-forced)", table);
        Assert.Contains($"scenes: {scenes.Count}", table);

        // The trace hit rate again, from the model's teacher-forced trace of each caption, with this test's own RLE decoding.
        using var model = PixelLlmModel.Load(DefaultModel);
        int hits = 0, boxHits = 0;
        foreach (var scene in scenes)
        {
            var image = model.LoadImage(Path.Combine(MiniSet, scene.GetProperty("image").GetString()!));
            var wordList = scene.GetProperty("caption_words").EnumerateArray().Select(w => w.GetString()!).ToList();
            var traced = model.TraceCaption(image, string.Join(' ', wordList));
            Assert.Equal(wordList.Count + 2, traced.Tokens.Length);
            var objectsOf = scene.GetProperty("objects").EnumerateArray().ToList();
            var traceObject = scene.GetProperty("trace_object").EnumerateArray().Select(o => o.GetInt32()).ToList();
            for (int w = 0; w < traceObject.Count; w++)
            {
                if (traceObject[w] < 0) continue;
                var points = traced.Points[w + 1];
                double x = points.Average(p => (double)p.X), y = points.Average(p => (double)p.Y);
                var obj = objectsOf[traceObject[w]];
                var box = obj.GetProperty("box").EnumerateArray().Select(v => v.GetDouble()).ToArray();
                if (box[0] <= x && x <= box[2] && box[1] <= y && y <= box[3]) boxHits++;
                if (Inside(obj.GetProperty("mask_rle"), image.Width, (int)Math.Floor(x), (int)Math.Floor(y), image.Height)) hits++;
            }
        }
        Assert.Equal((double)hits / naming, root.GetProperty("trace_hit").GetDouble(), 12);
        Assert.Equal((double)boxHits / naming, root.GetProperty("trace_box_hit").GetDouble(), 12);
    }

    /// <summary>Whether pixel (x, y) is set: walk the runs (outside first) to its row-major index.</summary>
    private static bool Inside(JsonElement runs, int width, int x, int y, int height)
    {
        if (x < 0 || y < 0 || x >= width || y >= height) return false;
        long index = (long)y * width + x, start = 0;
        bool inside = false;
        foreach (var run in runs.EnumerateArray())
        {
            long end = start + run.GetInt64();
            if (index < end) return inside;
            (start, inside) = (end, !inside);
        }
        throw new InvalidOperationException("pixel past the runs");
    }

    [Fact]
    public void OneTaskAndALimitScoreOnlyThatGroupOnThoseScenes()
    {
        var json = Path.Combine(outDir, "refer.json");
        var output = new StringWriter();
        Assert.Equal(0, CliErrors.Guard(() => EvalCommand.Run(new EvalArgs("refer", MiniSet, DefaultModel, 1, json), output)));
        using var report = JsonDocument.Parse(File.ReadAllBytes(json));
        var counts = report.RootElement.GetProperty("counts");
        Assert.Equal(["scenes", "refer_hit"], counts.EnumerateObject().Select(p => p.Name));
        Assert.Equal(1, counts.GetProperty("scenes").GetInt32());
        Assert.Equal(SceneSetReader.Read(MiniSet).Scenes[0].Referrals.Count, counts.GetProperty("refer_hit").GetInt32());
        Assert.DoesNotContain("trace hit", output.ToString());
    }

    [Fact]
    public void TheTeacherForcedEntriesAgreeWithThePublicApi()
    {
        using var model = PixelLlmModel.Load(DefaultModel);
        var scene = SceneSetReader.Read(MiniSet).Scenes[1];
        var image = model.LoadImage(scene.ImagePath);

        // Referring: the teacher-forced box of the mask entry is the public Refer's (teacher-forced by default).
        foreach (var referral in scene.Referrals.Take(2))
        {
            var publicBox = model.Refer(image, referral.Text).Box;
            var segment = model.SegmentTeacherForced(image, referral.Text);
            Assert.NotNull(publicBox);
            Assert.Equal(publicBox, segment.Box);
            Assert.Equal(segment.Logits.Width * segment.Logits.Height, segment.Logits.Values.Count);
        }

        // Caption: tracing the public greedy caption's own text reproduces its points (the public result's teacher-forced rerun).
        var greedy = model.CaptionGreedy(image);
        var traced = model.TraceCaption(image, greedy.Text);
        Assert.Equal(greedy.Tokens.Select(t => t.Id), traced.Tokens);
        for (int i = 0; i < traced.Tokens.Length; i++) Assert.Equal(greedy.Tokens[i].Points, traced.Points[i]);
        // Greedy takes the decoder's arg-max unless that repeats the previous token (repeat suppression, spec §8.1).
        for (int i = 0; i + 1 < traced.Tokens.Length; i++)
            if (traced.Predicted[i] != traced.Tokens[i]) Assert.Equal(traced.Tokens[i + 1], traced.Predicted[i]);
    }
}
