using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models.DenseCaptioning;

/// <summary>
/// The CenterNet2 box decoder (scenic <c>FpnCenterNet2</c>, spec §7.1) over the engine-named <c>box_decoder.*</c> weights:
/// graph 1 = <see cref="SimpleFeaturePyramid"/> + <see cref="CenterNetHeads"/> on the fused map; host = proposals
/// (<see cref="CenterNetProposals"/>) and level assignment (<see cref="RoiLevels"/>); graph 2 = RoIAlign + <see cref="BoxHead"/>;
/// host = <see cref="RoiDetectionSelection"/>. Selections (top-k, NMS, sort) stay on the host: they are tiny, data-dependent
/// and must reproduce scenic's tie rules exactly. RoIAlign is a graph op so a device backend pools where the pyramid lives.
/// Graphs are compiled once per shape. Every intermediate can be reported under the golden names through <c>trace</c>.
/// </summary>
public sealed class BoxDecoder(BoxDecoderConfig config, IWeightSource weights, IBackend backend, int canvas) : IDisposable
{
    private readonly CompiledGraphs graphs = new();

    public BoxDecoderConfig Config { get; } = config;

    /// <summary>K detections from the fused map (1, G, G, C) of one image on a <c>canvas</c>-sided square.</summary>
    public Detections Detect(HostTensor fused, IDictionary<string, HostTensor>? trace = null) => Detect(new KeptTensor(fused), trace);

    /// <summary>
    /// <see cref="Detect(HostTensor, IDictionary{string, HostTensor}?)"/> on an image's features read where they are (on
    /// the backend while the vision graph holds them); the feature pyramid goes to the RoI head there too.
    /// </summary>
    public Detections Detect(ImageFeatures image, IDictionary<string, HostTensor>? trace = null) => Detect(image.KeptFused, trace);

    private Detections Detect(KeptTensor fused, IDictionary<string, HostTensor>? trace)
    {
        var shape = fused.Desc.Shape;
        if (shape.Rank != 4 || shape[0] != 1) throw new InvalidInputException($"box decoder: fused features must be (1, G, G, C), got {fused.Desc}");
        int levelsCount = Config.Strides.Count;
        var features = graphs.GetOrBuild(backend, $"features.{shape}", g => BuildFeatures(g, shape.ToArray()));
        fused.Bind(features, "fused");
        features.Run();
        var pyramid = new KeptTensor[levelsCount];
        var levels = new CenterNetProposals.Level[levelsCount];
        for (int l = 0; l < levelsCount; l++)
        {
            pyramid[l] = features.Keep(LevelName("mid.fpn.", l));
            var heat = features.Fetch(LevelName("mid.head.heatmap_logits.", l));
            var regs = features.Fetch(LevelName("mid.head.box_regs.", l));
            levels[l] = new CenterNetProposals.Level(heat.ToFloatArray(), regs.ToFloatArray(), heat.Shape[1], heat.Shape[2], Config.Strides[l]);
            if (trace is null) continue;
            trace[LevelName("mid.fpn.", l)] = pyramid[l].Host;
            trace[LevelName("mid.head.heatmap_logits.", l)] = heat;
            trace[LevelName("mid.head.box_regs.", l)] = regs;
        }

        var proposals = CenterNetProposals.Select(levels, Config, canvas);
        var (roiLevels, levelBoxes) = RoiLevels.Assign(proposals.Boxes, Config);
        int n = proposals.Count;
        var roi = graphs.GetOrBuild(backend, $"roi.{n}." + string.Join(",", pyramid.Select(p => p.Desc.Shape.ToString())), g => BuildRoi(g, n, pyramid));
        roi.SetInput<float>("level_boxes", levelBoxes);
        roi.SetInput<int>("level_ids", roiLevels.Select(l => l - Config.MinLevel).ToArray());
        for (int l = 0; l < levelsCount; l++)
        {
            pyramid[l].Bind(roi, $"p{l}");
            pyramid[l].Release(); // the RoI head is its only reader
        }
        roi.Run();
        var detections = RoiDetectionSelection.Select(proposals, roi.FetchFloats("mid.roi.class_logits"), roi.FetchFloats("mid.roi.box_deltas"), Config, canvas);
        if (trace is not null)
        {
            foreach (var name in new[] { "mid.roi.features", "mid.roi.class_logits", "mid.roi.box_deltas" }) trace[name] = roi.Fetch(name);
            DetectionTrace.Write(trace, proposals, roiLevels, detections);
        }
        return detections;
    }

    private string LevelName(string prefix, int level) => $"{prefix}p{Config.MinLevel + level}";

    private void BuildFeatures(Graph g, int[] fusedShape)
    {
        var fused = g.Input("fused", DType.F32, fusedShape);
        var pyramid = SimpleFeaturePyramid.Build(new ParamScope(g, weights, "box_decoder.fpn"), Config, fused);
        var head = new ParamScope(g, weights, "box_decoder.proposal_generator");
        for (int l = 0; l < pyramid.Length; l++)
        {
            var (heat, regs) = CenterNetHeads.Build(head, Config, pyramid[l], l);
            g.Output(LevelName("mid.fpn.", l), pyramid[l]);
            g.Output(LevelName("mid.head.heatmap_logits.", l), heat);
            g.Output(LevelName("mid.head.box_regs.", l), regs);
        }
    }

    private void BuildRoi(Graph g, int n, KeptTensor[] pyramid)
    {
        var maps = pyramid.Select((p, l) => g.Input($"p{l}", DType.F32, p.Desc.Shape.ToArray())).ToArray();
        var (features, logits, deltas) = BoxHead.Build(new ParamScope(g, weights, "box_decoder.roi_heads.box_head.0"), Config,
            g.Input("level_boxes", DType.F32, n, 4), g.Input("level_ids", DType.I32, n), maps);
        g.Output("mid.roi.features", features);
        g.Output("mid.roi.class_logits", logits);
        g.Output("mid.roi.box_deltas", deltas);
    }

    public void Dispose()
    {
        graphs.Dispose();
    }
}
