using PixelLLM.Models;
using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;

namespace PixelLLM.Tests.Api;

/// <summary>
/// <see cref="RequestOptions.Beams"/>: null and the task's own count decode as the reference does; 1 decodes greedily
/// (each token the capped argmax of the teacher-forced logits before it); more beams keep the task's candidates per
/// beam; counts outside 1 … 16 are refused by name.
/// </summary>
public class BeamsOverrideTests(TinyModel tiny) : IClassFixture<TinyModel>
{
    private PixelLlmModel Model => tiny.Model;

    [Fact]
    public void TheTasksOwnCountDecodesAsTheDefault()
    {
        var image = TinyModel.Image("caption_trace");
        Assert.Equal(Model.Caption(image).ToJson(), Model.Caption(image, request: new RequestOptions { Beams = 4 }).ToJson());
        var loca = TinyModel.Image("loca_caption");
        Box[] boxes = [new(38.18f, 45.33f, 64.86f, 93.16f), new(6.2f, 9.55f, 25.88f, 42.37f)];
        Assert.Equal(Model.Caption(loca, boxes).Select(r => r.ToJson()), Model.Caption(loca, boxes, new RequestOptions { Beams = 1 }).Select(r => r.ToJson()));
    }

    [Fact]
    public void OneBeamDecodesGreedily()
    {
        var trace = new Dictionary<string, HostTensor>();
        var result = Model.Caption(TinyModel.Image("caption_trace"), request: new RequestOptions { Beams = 1, Trace = trace });
        var logits = trace["mid.tf_logits"];                      // (1, L, V): the teacher-forced pass over the result
        int vocab = logits.Shape[-1];
        var values = logits.ToFloatArray();
        var ids = result.Tokens.Select(t => t.Id).ToArray();
        Assert.True(ids.Length >= 3);
        for (int t = 1; t < ids.Length; t++)
        {
            var row = values.AsSpan((t - 1) * vocab, vocab).ToArray();
            row[ids[t - 1]] = Math.Min(row[ids[t - 1]], GreedyDecoder.RepeatCap);
            Assert.Equal(Array.IndexOf(row, row.Max()), ids[t]);
        }
        Assert.NotEqual(Model.Caption(TinyModel.Image("caption_trace")).Score, result.Score); // a mean log-prob, not beam 4's score
    }

    [Fact]
    public void MoreBeamsKeepTheTasksCandidatesPerBeam()
    {
        Assert.Equal(new DecodeMode.Beam(new BeamOptions(2, 2)), TaskSettings.CaptionTrace.WithBeams(2).Decoding);
        Assert.Equal(new DecodeMode.Beam(new BeamOptions(3, 2)), TaskSettings.LocationCaption.WithBeams(3).Decoding);
        var refer = TaskSettings.Referring(PixelLLM.Cli.BenchConfigs.Get("pixelllm-tiny"));
        Assert.Equal(new DecodeMode.Beam(new BeamOptions(5, 1)), refer.WithBeams(5).Decoding);
        Assert.IsType<DecodeMode.Greedy>(refer.WithBeams(1).Decoding);
        Assert.Same(refer, refer.WithBeams(null));

        // A greedy task decoded by beam search: a length-penalised log-prob, from BOS on.
        var caption = Assert.Single(Model.Caption(TinyModel.Image("loca_caption"), [new Box(0, 0, 70, 120)], new RequestOptions { Beams = 3 }));
        Assert.Equal(0, caption.Tokens[0].Id);
        Assert.True(float.IsFinite(caption.Score) && caption.Score <= 0);
    }

    [Fact]
    public async Task TheStreamDecodesWithTheBeamsItIsGiven()
    {
        var image = TinyModel.Image("caption_trace");
        var expected = Model.Caption(image, request: new RequestOptions { Beams = 1 });
        var events = new List<PixelLlmEvent>();
        await foreach (var e in Model.CaptionStreamAsync(image, beams: 1)) events.Add(e);

        var ready = Assert.Single(events.OfType<CaptionReady>());
        Assert.Equal(expected.ToJson(), ready.Result.ToJson());
        Assert.Equal(expected.Tokens.Skip(1).Select(t => t.Id), events.OfType<TokenDecoded>().Select(t => t.Id));
        Assert.NotEqual(Model.Caption(image).ToJson(), ready.Result.ToJson());   // not the task's own beam 4
    }

    [Theory]
    [InlineData(0)]
    [InlineData(17)]
    public void CountsOutsideTheRangeAreRefused(int beams)
    {
        var e = Assert.Throws<InvalidInputException>(() => Model.Caption(TinyModel.Image("caption_trace"), request: new RequestOptions { Beams = beams }));
        Assert.Contains("RequestOptions.Beams must be 1 to 16", e.Message);
        Assert.Throws<InvalidInputException>(() => Model.Refer(TinyModel.Image("referring"), "a small dog", decodeText: true, new RequestOptions { Beams = beams }));
    }
}
