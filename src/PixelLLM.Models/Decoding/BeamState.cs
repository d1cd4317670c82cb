namespace PixelLLM.Models.Decoding;

/// <summary>Live and finished hypotheses of every batch element, each set in ascending order (best last) as scenic keeps them.</summary>
internal sealed class BeamState
{
    private BeamState(int batch, int beams, int length)
    {
        Batch = batch; Beams = beams; Length = length;
        Live = new int[batch][][]; LiveLogProbs = new float[batch][];
        Finished = new int[batch][][]; FinishedScores = new float[batch][]; FinishedFlags = new bool[batch][];
        LiveBuffer = new int[batch * beams * length];
    }

    public int Batch { get; }
    public int Beams { get; }
    public int Length { get; }
    public int[][][] Live { get; }
    public float[][] LiveLogProbs { get; }
    public int[][][] Finished { get; }
    public float[][] FinishedScores { get; }
    public bool[][] FinishedFlags { get; }
    /// <summary>Live sequences flattened (batch·beams) × length, what the model reads.</summary>
    public int[] LiveBuffer { get; }

    public static BeamState Initial(int batch, int beams, DecodeOptions options)
    {
        var s = new BeamState(batch, beams, options.Length);
        for (int b = 0; b < batch; b++)
        {
            s.Live[b] = Enumerable.Range(0, beams).Select(_ => options.StartBuffer()).ToArray();
            s.LiveLogProbs[b] = Enumerable.Range(0, beams).Select(i => i == 0 ? 0f : BeamSearch.NegInf).ToArray();
            s.Finished[b] = Enumerable.Range(0, beams).Select(_ => new int[options.Length]).ToArray();
            s.FinishedScores[b] = Enumerable.Repeat(BeamSearch.NegInf, beams).ToArray();
            s.FinishedFlags[b] = new bool[beams];
        }
        s.RefreshBuffer();
        return s;
    }

    public void RefreshBuffer()
    {
        for (int b = 0; b < Batch; b++)
            for (int i = 0; i < Beams; i++)
                Live[b][i].CopyTo(LiveBuffer, (b * Beams + i) * Length);
    }

    /// <summary>The reference's stop test: every slot of every element holds a finished hypothesis better than the best live one can become.</summary>
    public bool Terminated(float maxPenalty)
    {
        for (int b = 0; b < Batch; b++)
        {
            float bestLive = LiveLogProbs[b][^1] / maxPenalty;
            float worst = FinishedScores[b].Min();
            for (int i = 0; i < Beams; i++)
                if (!((FinishedFlags[b][i] ? worst : BeamSearch.NegInf) > bestLive)) return false;
        }
        return true;
    }

    /// <summary>Keeps the best Beams of [old finished ; new candidates] by score (stable top-k, so older entries win ties).</summary>
    public void MergeFinished(int b, int[][] candidates, float[] scores, bool[] flags)
    {
        var allSeqs = Finished[b].Concat(candidates).ToArray();
        var allScores = FinishedScores[b].Concat(scores).ToArray();
        var allFlags = FinishedFlags[b].Concat(flags).ToArray();
        var top = TopK.Indices(allScores, Beams);
        Array.Reverse(top);
        Finished[b] = top.Select(i => allSeqs[i]).ToArray();
        FinishedScores[b] = top.Select(i => allScores[i]).ToArray();
        FinishedFlags[b] = top.Select(i => allFlags[i]).ToArray();
    }

    public BeamResult Result()
    {
        var seqs = new int[Batch][][];
        var scores = new float[Batch][];
        var flags = new bool[Batch][];
        for (int b = 0; b < Batch; b++)
        {
            bool any = FinishedFlags[b].Any(f => f);
            seqs[b] = any ? Finished[b] : Live[b];
            scores[b] = any ? FinishedScores[b] : LiveLogProbs[b];
            flags[b] = any ? FinishedFlags[b] : new bool[Beams];
        }
        return new BeamResult(seqs, scores, flags);
    }
}

/// <summary>lax.top_k order: largest first, equal values by lower index first.</summary>
internal static class TopK
{
    public static int[] Indices(ReadOnlySpan<float> values, int k)
    {
        var idx = new int[k];
        var vals = new float[k];
        int count = 0;
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            if (count == k && !(v > vals[k - 1])) continue;
            int pos = count < k ? count++ : k - 1;
            while (pos > 0 && v > vals[pos - 1]) { vals[pos] = vals[pos - 1]; idx[pos] = idx[pos - 1]; pos--; }
            vals[pos] = v; idx[pos] = i;
        }
        return idx;
    }
}
