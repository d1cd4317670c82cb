using PixelLLM.Runtime;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Tests.Support;

/// <summary>
/// Test-only view of scenic's <c>git_backbone/...</c> Flax parameters under the engine's (timm) EVA02 names and layouts
/// (spec §3.3 mapping): Dense kernels (in, out) → (out, in), the patch Conv (kh, kw, in, out) → (out, in, kh, kw),
/// LayerNorm scale → weight, q_bias/v_bias → q_proj/v_proj.bias, w1/w2/ffn_ln/w3 → fc1_g/fc1_x/norm/fc2, ln_post → norm.
/// A stand-in for the real converter so the PixelLLM goldens can check the scenic variant of the encoder.
/// </summary>
internal sealed class ScenicEva02Weights(IWeightSource scenic, string root = "git_backbone") : IWeightSource
{
    public IEnumerable<string> Names => throw new NotSupportedException("ScenicEva02Weights maps names on demand only");

    public bool Contains(string name) => scenic.Contains(ScenicName(name));

    public HostTensor Get(string name)
    {
        var t = scenic.Get(ScenicName(name)).ToF32();
        var v = t.ToFloatArray();
        var s = t.Shape;
        if (name.EndsWith("proj.weight", StringComparison.Ordinal) && s.Rank == 4)
            return HostTensor.FromArray(Permute4(v, s), s[3], s[2], s[0], s[1]);
        if (name.EndsWith(".weight", StringComparison.Ordinal) && s.Rank == 2)
            return HostTensor.FromArray(Transpose(v, s[0], s[1]), s[1], s[0]);
        return t;
    }

    private static readonly Dictionary<string, string> Renamed = new(StringComparer.Ordinal)
    {
        ["norm"] = "ln_post", ["mlp.fc1_g"] = "mlp/w1", ["mlp.fc1_x"] = "mlp/w2", ["mlp.fc2"] = "mlp/w3", ["mlp.norm"] = "mlp/ffn_ln",
        ["attn.q_proj"] = "attn/q_proj", ["attn.k_proj"] = "attn/k_proj", ["attn.v_proj"] = "attn/v_proj", ["attn.proj"] = "attn/proj",
        ["norm1"] = "norm1", ["norm2"] = "norm2", ["patch_embed.proj"] = "patch_embed.proj",
    };

    private string ScenicName(string engine)
    {
        // blocks.<i> is one scenic path component; the rest splits into module and leaf.
        string block = "";
        if (engine.StartsWith("blocks.", StringComparison.Ordinal))
        {
            int dot = engine.IndexOf('.', "blocks.".Length);
            block = engine[..dot] + "/";
            engine = engine[(dot + 1)..];
        }
        int last = engine.LastIndexOf('.');
        if (last < 0) return $"{root}/{block}{engine}";                 // cls_token, pos_embed
        string module = engine[..last], leaf = engine[(last + 1)..];
        if (module is "attn.q_proj" or "attn.v_proj" && leaf == "bias") return $"{root}/{block}attn/{module[5]}_bias";
        var scenicModule = Renamed.TryGetValue(module, out var m) ? m : throw new ModelFileException($"ScenicEva02Weights: no scenic name for '{engine}'");
        bool isNorm = module is "norm" or "norm1" or "norm2" or "mlp.norm";
        string scenicLeaf = leaf == "weight" ? (isNorm ? "scale" : "kernel") : leaf;
        return $"{root}/{block}{scenicModule}/{scenicLeaf}";
    }

    private static float[] Transpose(float[] v, int rows, int cols)
    {
        var r = new float[v.Length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) r[j * rows + i] = v[i * cols + j];
        return r;
    }

    // (kh, kw, in, out) → (out, in, kh, kw)
    private static float[] Permute4(float[] v, Shape s)
    {
        int kh = s[0], kw = s[1], ci = s[2], co = s[3];
        var r = new float[v.Length];
        for (int y = 0; y < kh; y++)
            for (int x = 0; x < kw; x++)
                for (int i = 0; i < ci; i++)
                    for (int o = 0; o < co; o++)
                        r[((o * ci + i) * kh + y) * kw + x] = v[((y * kw + x) * ci + i) * co + o];
        return r;
    }
}
