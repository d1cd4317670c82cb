"""A miniature PixelLLM (T5 variant + point head + refseg mask branch) in PyTorch, with scenic's parameter names and
Flax layouts (Dense kernel (in, out), Conv (kh, kw, in, out), ConvTranspose transpose_kernel (kh, kw, out, in)).

Parameters live in one flat dict keyed by the scenic path ('textual/t5_module/encoder/layers_0/attention/query/kernel'),
so loading the golden tiny weights and exporting a checkpoint are plain dict copies. The maths follows
shared/spec/pixelllm-reference.md + errata (and the engine's C# reading of it); check_golden.py proves it on the goldens.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

EVA_MEAN = [0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255]
EVA_STD = [0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255]
SAM_MEAN = [123.675, 116.28, 103.53]
SAM_STD = [58.395, 57.12, 57.375]
T5 = "textual/t5_module"


# ----------------------------------------------------------------------------------------------- primitives
# LayerNorm and exact GELU written out: this machine's torch 1.13 (Debian) gave NON-DETERMINISTIC, sometimes
# 1e4–1e14× too large gradients through F.layer_norm → F.gelu (same inputs, different grads run to run; seen in the
# mask decoder's upscaling). The formulas are the same maths; check_golden.py re-proves them on the goldens.
def layer_norm(x, scale, bias, eps):
    mu = x.mean(-1, keepdim=True)
    var = (x - mu).pow(2).mean(-1, keepdim=True)
    return (x - mu) * torch.rsqrt(var + eps) * scale + bias


def gelu(x):
    return 0.5 * x * (1 + torch.erf(x * 0.7071067811865476))


# ----------------------------------------------------------------------------------------------- small tables
def jax_resize_weights(n_in, n_out, method):
    """jax.image.resize weights (antialias=True, float32 as errata B6): out[j] = sum_i in[i] * W[i, j]."""
    f32 = np.float32
    inv = f32(1.0 / (n_out / n_in))
    ks = max(inv, f32(1.0))
    sample = (np.arange(n_out, dtype=f32) + f32(0.5)) * inv - f32(0.5)
    x = np.abs(sample[None, :] - np.arange(n_in, dtype=f32)[:, None]) / ks
    if method == "linear":
        w = np.maximum(f32(0), f32(1) - x)
    else:
        w = np.where(x < 1, ((f32(1.5) * x - f32(2.5)) * x) * x + f32(1),
                     np.where(x < 2, ((f32(-0.5) * x + f32(2.5)) * x - f32(4)) * x + f32(2), f32(0)))
    w = w.astype(f32)
    total = w.sum(0, keepdims=True)
    w = np.where(np.abs(total) > 1000 * np.finfo(f32).eps, w / np.where(total != 0, total, 1), 0).astype(f32)
    ok = (sample >= -0.5) & (sample <= n_in - 0.5)
    return np.where(ok[None, :], w, 0).astype(f32)


def resize_map(x, out_h, out_w, method="cubic"):
    """x (..., H, W, C) → (..., out_h, out_w, C) with the JAX separable kernels."""
    h, w = x.shape[-3], x.shape[-2]
    if (h, w) == (out_h, out_w):
        return x
    wh = torch.from_numpy(jax_resize_weights(h, out_h, method)).to(x)
    ww = torch.from_numpy(jax_resize_weights(w, out_w, method)).to(x)
    return torch.einsum("...hwc,hH,wW->...HWc", x, wh, ww)


def t5_buckets(lq, lk, bidirectional, num_buckets=32, max_distance=128):
    """t5x relative-position buckets (key - query), float32 as t5x."""
    ctx = np.arange(lq)[:, None]
    mem = np.arange(lk)[None, :]
    n = -(mem - ctx)
    ret = np.zeros_like(n)
    if bidirectional:
        num_buckets //= 2
        ret += (n < 0).astype(n.dtype) * num_buckets
        n = np.abs(n)
    else:
        n = np.maximum(n, 0)
    max_exact = num_buckets // 2
    small = n < max_exact
    f32 = np.float32
    large = max_exact + (np.log(n.astype(f32) / f32(max_exact) + np.finfo(f32).eps) / f32(np.log(max_distance / max_exact))
                         * f32(num_buckets - max_exact)).astype(np.int64)
    large = np.minimum(large, num_buckets - 1)
    return ret + np.where(small, n, large)


def rope_tables(grid, head_dim):
    """EVA02 2-D RoPE cos/sin (grid², head_dim): first half of each head = row angles, second half = column angles,
    interleaved pairs sharing a frequency 10000^(-2j/half)."""
    f32 = np.float32
    half = head_dim // 2
    freqs = (1.0 / (10000 ** (np.arange(0, half, 2, dtype=f32) / f32(half)))).astype(f32)
    t = (np.arange(grid, dtype=f32) / f32(grid)) * f32(grid)
    ang = np.repeat((t[:, None] * freqs[None, :]).astype(f32), 2, axis=1)  # (grid, half)
    rows = np.repeat(ang, grid, axis=0)   # token r*grid+c → row r
    cols = np.tile(ang, (grid, 1))        # → column c
    full = np.concatenate([rows, cols], axis=1)
    return torch.from_numpy(np.cos(full).astype(f32)), torch.from_numpy(np.sin(full).astype(f32))


# ----------------------------------------------------------------------------------------------- model
class PixelLLM(torch.nn.Module):
    def __init__(self, config, params=None, dtype=torch.float32):
        super().__init__()
        self.cfg = config
        self.dtype = dtype  # float64: the same maths as a float64 rerun (random_cases.py's noise check)
        self.P = {}
        if params is not None:
            self.load(params)

    # -- parameters
    def load(self, params):
        for name, value in params.items():
            t = value if isinstance(value, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(value))
            p = torch.nn.Parameter(t.to(self.dtype).clone())
            self.P[name] = p
            self.register_parameter("p%d" % (len(self.P) - 1), p)

    def export(self):
        return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in self.P.items()}

    def has(self, name):
        return name in self.P

    # -- primitives
    def dense(self, x, prefix, bias=True):
        y = x @ self.P[prefix + "/kernel"]
        return y + self.P[prefix + "/bias"] if bias and (prefix + "/bias") in self.P else y

    def ln(self, x, prefix, eps):
        return layer_norm(x, self.P[prefix + "/scale"], self.P[prefix + "/bias"], eps)

    def rms(self, x, prefix):
        var = x.pow(2).mean(-1, keepdim=True)
        return x * torch.rsqrt(var + 1e-6) * self.P[prefix + "/scale"]

    def conv(self, x, prefix, stride=1, padding=0, bias=True):
        """x NHWC, kernel (kh, kw, in, out)."""
        w = self.P[prefix + "/kernel"].permute(3, 2, 0, 1)
        b = self.P.get(prefix + "/bias") if bias else None
        y = F.conv2d(x.permute(0, 3, 1, 2), w, b, stride=stride, padding=padding)
        return y.permute(0, 2, 3, 1)

    # -- image encoders
    def normalise(self, pixels, mask, mean, std):
        return (pixels - pixels.new_tensor(mean)) / pixels.new_tensor(std) * mask

    def eva(self, x):
        c = self.cfg["git"]
        pre = "git_backbone"
        p = self.conv(x, pre + "/patch_embed.proj", stride=c["patch_size"])  # B,G,G,D
        b, g, _, d = p.shape
        tokens = torch.cat([self.P[pre + "/cls_token"].expand(b, 1, d), p.reshape(b, g * g, d)], 1)
        pos = self.P[pre + "/pos_embed"]
        t = int(round(math.sqrt(pos.shape[1] - 1)))
        patch_pos = resize_map(pos[0, 1:].reshape(t, t, d), g, g, "cubic").reshape(1, g * g, d)
        tokens = tokens + torch.cat([pos[:, :1], patch_pos], 1)
        heads = c["num_heads"]
        hd = d // heads
        cos, sin = rope_tables(g, hd)
        cos, sin = cos.to(x), sin.to(x)

        def rope(q):
            rot = torch.stack([-q[..., 1::2], q[..., 0::2]], -1).reshape(q.shape)
            return torch.cat([q[:, :, :1], q[:, :, 1:] * cos + rot[:, :, 1:] * sin], 2)

        for i in range(c["depth"]):
            bp = "%s/blocks.%d" % (pre, i)
            h = self.ln(tokens, bp + "/norm1", 1e-6)
            q = h @ self.P[bp + "/attn/q_proj/kernel"] + self.P[bp + "/attn/q_bias"]
            k = h @ self.P[bp + "/attn/k_proj/kernel"]
            v = h @ self.P[bp + "/attn/v_proj/kernel"] + self.P[bp + "/attn/v_bias"]
            q, k, v = (z.reshape(b, -1, heads, hd).transpose(1, 2) for z in (q, k, v))
            q, k = rope(q), rope(k)
            a = torch.softmax((q * hd ** -0.5) @ k.transpose(-1, -2), -1) @ v
            tokens = tokens + self.dense(a.transpose(1, 2).reshape(b, -1, d), bp + "/attn/proj")
            h = self.ln(tokens, bp + "/norm2", 1e-6)
            h = F.silu(self.dense(h, bp + "/mlp/w1")) * self.dense(h, bp + "/mlp/w2")
            h = self.ln(h, bp + "/mlp/ffn_ln", 1e-5)
            tokens = tokens + self.dense(h, bp + "/mlp/w3")
        return self.ln(tokens, pre + "/ln_post", 1e-6)

    def sam_attention(self, x, bp, heads, rel_h, rel_w):
        b, h, w, d = x.shape
        hd = d // heads
        qkv = self.dense(x, bp + "/attn/qkv").reshape(b, h * w, 3, heads, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * hd ** -0.5) @ k.transpose(-1, -2)
        idx_h = torch.arange(h)[:, None] - torch.arange(h)[None, :] + (h - 1)
        idx_w = torch.arange(w)[:, None] - torch.arange(w)[None, :] + (w - 1)
        rh, rw = rel_h[idx_h], rel_w[idx_w]  # (h, h, hd), (w, w, hd)
        rq = q.reshape(b, heads, h, w, hd)
        term_h = torch.einsum("bnhwc,hkc->bnhwk", rq, rh)
        term_w = torch.einsum("bnhwc,wkc->bnhwk", rq, rw)
        attn = (attn.view(b, heads, h, w, h, w) + term_h[..., :, None] + term_w[..., None, :]).view(b, heads, h * w, h * w)
        out = (torch.softmax(attn, -1) @ v).view(b, heads, h, w, hd).permute(0, 2, 3, 1, 4).reshape(b, h, w, d)
        return self.dense(out, bp + "/attn/proj")

    def sam(self, x):
        c = self.cfg["sam"]
        pre = "sam_backbone"
        x = self.conv(x, pre + "/patch_embed.proj", stride=c["patch_size"])
        b, s, _, d = x.shape
        x = x + resize_map(self.P[pre + "/pos_embed"], s, s, "cubic")
        ws = c["window_size"]
        windowed = set(c["window_block_indexes"])
        for i in range(c["depth"]):
            bp = "%s/blocks.%d" % (pre, i)
            rel_h, rel_w = self.P[bp + "/attn/rel_pos_h"], self.P[bp + "/attn/rel_pos_w"]
            h = self.ln(x, bp + "/norm1", 1e-6)
            if i in windowed:
                pad = (ws - s % ws) % ws
                hp = F.pad(h, (0, 0, 0, pad, 0, pad))
                n = (s + pad) // ws
                win = hp.view(b, n, ws, n, ws, d).permute(0, 1, 3, 2, 4, 5).reshape(b * n * n, ws, ws, d)
                win = self.sam_attention(win, bp, c["num_heads"], rel_h, rel_w)
                h = win.view(b, n, n, ws, ws, d).permute(0, 1, 3, 2, 4, 5).reshape(b, n * ws, n * ws, d)[:, :s, :s]
            else:
                if rel_h.shape[0] != 2 * s - 1:
                    rel_h = resize_map(rel_h[:, None, :], 2 * s - 1, 1, "linear")[:, 0]
                    rel_w = resize_map(rel_w[:, None, :], 2 * s - 1, 1, "linear")[:, 0]
                h = self.sam_attention(h, bp, c["num_heads"], rel_h, rel_w)
            x = x + h
            h = self.ln(x, bp + "/norm2", 1e-6)
            x = x + self.dense(gelu(self.dense(h, bp + "/mlp/lin1")), bp + "/mlp/lin2")
        x = self.conv(x, pre + "/neck/0", bias=False)
        x = self.ln(x, pre + "/neck/1", 1e-6)
        x = self.conv(x, pre + "/neck/2", padding=1, bias=False)
        return self.ln(x, pre + "/neck/3", 1e-6)

    def encode_image(self, pixels, mask):
        """pixels (B, C, C, 3) 0..255 float, mask (B, C, C, 1) → dict of features."""
        git_tokens = self.eva(self.normalise(pixels, mask, EVA_MEAN, EVA_STD))
        sam = self.sam(self.normalise(pixels, mask, SAM_MEAN, SAM_STD))
        b = pixels.shape[0]
        g = int(round(math.sqrt(git_tokens.shape[1] - 1)))
        git = git_tokens[:, 1:].reshape(b, g, g, -1)
        target = max((g, g), (sam.shape[1], sam.shape[2]))
        fused = torch.cat([resize_map(git, *target), resize_map(sam, *target)], -1)
        return {"git_tokens": git_tokens, "git": git, "sam": sam, "fused": fused}

    # -- prompts
    def pe(self, coords01):
        g = self.P["prompt_encoder/pe_layer/positional_encoding_gaussian_matrix"]
        c = (2 * coords01 - 1) @ g
        c = 2 * np.pi * c
        return torch.cat([torch.sin(c), torch.cos(c)], -1)

    def dense_pe(self, h, w):
        ys = (torch.arange(h, dtype=self.dtype) + 0.5) / h
        xs = (torch.arange(w, dtype=self.dtype) + 0.5) / w
        grid = torch.stack([xs[None, :].expand(h, w), ys[:, None].expand(h, w)], -1)
        return self.pe(grid)

    def box_embed(self, boxes):
        canvas = self.cfg["canvas"]
        corners = (boxes + 0.5).reshape(-1, 2, 2) / canvas
        e = self.pe(corners)
        return torch.stack([e[:, 0] + self.P["prompt_encoder/point_embeddings.2.weight"][0],
                            e[:, 1] + self.P["prompt_encoder/point_embeddings.3.weight"][0]], 1)

    def sparse_prompts(self, boxes):
        """boxes (N, 4) → (N, 5, E) and box-valid (N,)."""
        pre = "prompt_encoder"
        n = boxes.shape[0]
        no_mask = self.P[pre + "/no_mask_embed.weight"]
        e = no_mask.shape[-1]
        box_tokens = torch.cat([self.box_embed(boxes), no_mask.expand(n, 3, e)], 1)
        grid = boxes.new_tensor([[0, 0], [1, 0], [0, 1], [1, 1]])
        x0y0, x1y1 = boxes[:, None, :2], boxes[:, None, 2:]
        pts = x0y0 + grid[None] * (x1y1 - x0y0) + 0.5
        pt = self.pe(pts / self.cfg["canvas"]) + self.P[pre + "/point_embeddings.1.weight"][0]
        point_tokens = torch.cat([pt, self.P[pre + "/not_a_point_embed.weight"].expand(n, 1, e)], 1)
        valid = boxes.max(-1).values > 0
        return torch.where(valid[:, None, None], box_tokens, point_tokens), valid

    # -- SAM two-way transformer (adapter, mask adapter, mask decoder): 8 heads, downsample 2, ReLU MLP, LN 1e-5
    def attention(self, q, k, v, prefix, heads=8):
        q = self.dense(q, prefix + "/q_proj")
        k = self.dense(k, prefix + "/k_proj")
        v = self.dense(v, prefix + "/v_proj")
        n, lq, c = q.shape
        hd = c // heads
        q = q.view(n, lq, heads, hd).transpose(1, 2)
        k = k.view(n, -1, heads, hd).transpose(1, 2)
        v = v.view(n, -1, heads, hd).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), -1) @ v
        return self.dense(a.transpose(1, 2).reshape(n, lq, c), prefix + "/out_proj")

    def two_way(self, prefix, keys, key_pe, queries):
        qpe = queries
        i = 0
        while self.has("%s/layers.%d/norm1/scale" % (prefix, i)):
            lp = "%s/layers.%d" % (prefix, i)
            if i == 0:
                queries = self.attention(queries, queries, queries, lp + "/self_attn")
            else:
                q = queries + qpe
                queries = queries + self.attention(q, q, queries, lp + "/self_attn")
            queries = layer_norm(queries, self.P[lp + "/norm1/scale"], self.P[lp + "/norm1/bias"], 1e-5)
            q, k = queries + qpe, keys + key_pe
            queries = queries + self.attention(q, k, keys, lp + "/cross_attn_token_to_image")
            queries = self.ln(queries, lp + "/norm2", 1e-5)
            queries = queries + self.dense(F.relu(self.dense(queries, lp + "/mlp/lin1")), lp + "/mlp/lin2")
            queries = self.ln(queries, lp + "/norm3", 1e-5)
            q, k = queries + qpe, keys + key_pe
            keys = keys + self.attention(k, q, queries, lp + "/cross_attn_image_to_token")
            keys = self.ln(keys, lp + "/norm4", 1e-5)
            i += 1
        q, k = queries + qpe, keys + key_pe
        queries = queries + self.attention(q, k, keys, prefix + "/final_attn_token_to_image")
        return self.ln(queries, prefix + "/norm_final_attn", 1e-5), keys

    def adapter(self, fused, img_idx, sparse):
        """fused (B, G, G, C), img_idx (N,), sparse (N, 5, E) → adapter tokens (N, K, out)."""
        pre = "prompt_adapter"
        b, g, _, _ = fused.shape
        proj = pre + "/prompt_embedding_projection_mlp/layers.0"
        sp = self.dense(sparse, proj)
        nm = self.dense(self.P["prompt_encoder/no_mask_embed.weight"], proj)
        pe = self.dense(self.dense_pe(g, g).to(fused).reshape(g * g, -1), pre + "/image_pe_projection_mlp/layers.0")
        out_tok = self.P[pre + "/output_tokens.weight"]
        kq = out_tok.shape[0]
        n = sparse.shape[0]
        queries = torch.cat([out_tok.expand(n, kq, out_tok.shape[1]), sp], 1)
        keys = (self.dense(fused.reshape(b, g * g, -1), pre + "/image_projection_mlp/layers.0") + nm)[img_idx]
        q, _ = self.two_way(pre + "/transformer", keys, pe[None], queries)
        return torch.stack([self.dense(q[:, i], "%s/output_hypernetworks_mlps.%d/layers.0" % (pre, i)) for i in range(kq)], 1)

    def visual_projection(self, adapter_out):
        x = self.dense(adapter_out, "visual_project_layers/visual_projection.0")
        return self.ln(x, "visual_project_layers/visual_projection.1", 1e-5)

    # -- T5
    def t5_kernel(self, prefix):
        w = self.P[prefix + "/kernel"]
        left = prefix + "/kernel_left_lora"
        if left in self.P:
            w = w + self.cfg["t5"].get("lora_scale", 1.0) * (self.P[left] @ self.P[prefix + "/kernel_right_lora"])
        return w

    def t5_attention(self, xq, xkv, prefix, bias):
        c = self.cfg["t5"]
        h, hd = c["num_heads"], c["head_dim"]
        n, lq, _ = xq.shape
        q = (xq @ self.t5_kernel(prefix + "/query")).view(n, lq, h, hd).transpose(1, 2)
        k = (xkv @ self.t5_kernel(prefix + "/key")).view(n, -1, h, hd).transpose(1, 2)
        v = (xkv @ self.t5_kernel(prefix + "/value")).view(n, -1, h, hd).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) + bias
        # float32 absorbs everything added to the −1e10 mask (a fully masked row averages uniformly); float64 must too
        scores = torch.where(bias <= -1e9, torch.full_like(scores, -1e10), scores)
        a = torch.softmax(scores, -1) @ v
        return a.transpose(1, 2).reshape(n, lq, h * hd) @ self.t5_kernel(prefix + "/out")

    def t5_mlp(self, x, prefix):
        g = F.gelu(x @ self.P[prefix + "/wi_0/kernel"], approximate="tanh")
        return (g * (x @ self.P[prefix + "/wi_1/kernel"])) @ self.P[prefix + "/wo/kernel"]

    def relpos(self, stack, lq, lk, bidirectional):
        c = self.cfg["t5"]
        buckets = torch.from_numpy(t5_buckets(lq, lk, bidirectional, c.get("relpos_num_buckets", 32), c.get("relpos_max_distance", 128)))
        return self.P["%s/%s/relpos_bias/rel_embedding" % (T5, stack)][:, buckets]

    def t5_encode(self, visual, context):
        """visual (N, K, d), context int (N, Lc) → encoder output (N, K+Lc, d), valid (N, K+Lc) bool."""
        emb = self.P[T5 + "/token_embedder/embedding"]
        x = torch.cat([visual, emb[context]], 1)
        n, lt, _ = x.shape
        valid = torch.cat([torch.ones(n, visual.shape[1], dtype=torch.bool), context > 0], 1)
        pos = self.relpos("encoder", lt, lt, True)[None]
        mask = valid[:, None, :, None] & valid[:, None, None, :]
        bias = torch.where(mask, 0.0, -1e10) + pos
        i = 0
        while self.has("%s/encoder/layers_%d/pre_attention_layer_norm/scale" % (T5, i)):
            lp = "%s/encoder/layers_%d" % (T5, i)
            h = self.rms(x, lp + "/pre_attention_layer_norm")
            x = x + self.t5_attention(h, h, lp + "/attention", bias)
            x = x + self.t5_mlp(self.rms(x, lp + "/pre_mlp_layer_norm"), lp + "/mlp")
            i += 1
        return self.rms(x, T5 + "/encoder/encoder_norm"), valid

    def t5_decode(self, tokens, enc, enc_valid):
        """Teacher-forced decoder with t5x masks from the shifted target → (text_feats, logits)."""
        emb = self.P[T5 + "/token_embedder/embedding"]
        n, length = tokens.shape
        target = torch.cat([tokens[:, 1:], torch.zeros_like(tokens[:, :1])], 1)
        tv = target > 0
        causal = torch.tril(torch.ones(length, length, dtype=torch.bool))
        self_mask = causal[None] & tv[:, :, None] & tv[:, None, :]
        self_bias = torch.where(self_mask[:, None], 0.0, -1e10) + self.relpos("decoder", length, length, False)[None]
        cross_bias = torch.where((tv[:, :, None] & enc_valid[:, None, :])[:, None], 0.0, -1e10)
        x = emb[tokens]
        i = 0
        while self.has("%s/decoder/layers_%d/pre_self_attention_layer_norm/scale" % (T5, i)):
            lp = "%s/decoder/layers_%d" % (T5, i)
            h = self.rms(x, lp + "/pre_self_attention_layer_norm")
            x = x + self.t5_attention(h, h, lp + "/self_attention", self_bias)
            h = self.rms(x, lp + "/pre_cross_attention_layer_norm")
            x = x + self.t5_attention(h, enc, lp + "/encoder_decoder_attention", cross_bias)
            x = x + self.t5_mlp(self.rms(x, lp + "/pre_mlp_layer_norm"), lp + "/mlp")
            i += 1
        feats = self.rms(x, T5 + "/decoder/decoder_norm")
        return feats, feats @ self.P[T5 + "/decoder/logits_dense/kernel"]

    # -- point head
    def point_head(self, feats, image_hw):
        """feats (N, L, d), image_hw (N, 2) valid (h, w) → coords (N, L, P, 2) pixels, logits (N, L, P, 2)."""
        c = self.cfg["point_predictor"]
        x = self.ln(feats, "point_predictor/LayerNorm_0", 1e-6) if c.get("pre_norm", True) else feats
        for i in range(c["depth"]):
            x = self.dense(x, "point_predictor/mlp/layers.%d" % i)
            if i < c["depth"] - 1:
                x = gelu(x) if c.get("mlp_activation", "relu") == "gelu" else F.relu(x)
        n, length, _ = x.shape
        x = x.view(n, length, c["num_output_points"], -1)
        wh = torch.stack([image_hw[:, 1], image_hw[:, 0]], -1).to(x)[:, None, None, :]
        return (x[..., :2] + 1) / 2 * wh, x[..., 2:]

    def point_valid(self, tokens, ignore):
        bos, eos = self.cfg.get("begin_token_id", 0), self.cfg.get("end_token_id", 1)
        if ignore == "^end-1":
            nxt = torch.cat([tokens[:, 1:], torch.full_like(tokens[:, :1], -1)], 1)
            return nxt == eos
        return (tokens != bos) & (tokens != eos) & (tokens != 0)

    @staticmethod
    def boxes_from_points(coords, valid):
        """coords (N, L, P, 2), valid (N, L) → (N, 4) min/max over valid points (inverted box when none)."""
        n = coords.shape[0]
        pts = coords.reshape(n, -1, 2)
        v = valid[:, :, None].expand(-1, -1, coords.shape[2]).reshape(n, -1)
        # scenic pushes invalid points one pixel past the extremes, so no valid point gives (max+1, min-1)
        top = pts.amax(1, keepdim=True) + 1
        bottom = pts.amin(1, keepdim=True) - 1
        lo = torch.where(v[..., None], pts, top).amin(1)
        hi = torch.where(v[..., None], pts, bottom).amax(1)
        return torch.cat([lo, hi], -1)

    # -- mask branch
    def mlp3(self, x, prefix, layers):
        for i in range(layers):
            x = self.dense(x, "%s/layers.%d" % (prefix, i))
            if i < layers - 1:
                x = F.relu(x)
        return x

    def conv_transpose(self, x, prefix):
        """transpose_kernel=True, 2×2 stride 2: kernel (kh, kw, out, in) = torch weight (in, out, kh, kw)."""
        w = self.P[prefix + "/kernel"].permute(3, 2, 0, 1)
        return F.conv_transpose2d(x.permute(0, 3, 1, 2), w, self.P[prefix + "/bias"], stride=2).permute(0, 2, 3, 1)

    def mask_branch(self, boxes, visual, text_feats, sam_feats, img_idx):
        """boxes (N, 4) canvas pixels, visual (N, K, d), text_feats (N, L, d), sam (B, S, S, E) → dict."""
        ma, md = "mask_adapter", "mask_decoder"
        box = self.box_embed(boxes)
        v = self.dense(self.ln(visual, ma + "/visual_projection_mlp/LayerNorm_0", 1e-6), ma + "/visual_projection_mlp/layers.0")
        t = self.dense(self.ln(text_feats, ma + "/textual_projection_mlp/LayerNorm_0", 1e-6), ma + "/textual_projection_mlp/layers.0")
        img = torch.cat([v, t], 1)
        out_tok = self.P[ma + "/output_tokens.weight"]
        n = boxes.shape[0]
        q, _ = self.two_way(ma + "/transformer", img, torch.zeros_like(img), out_tok.expand(n, *out_tok.shape))
        adapted = q * torch.tanh(self.P[ma + "/alpha_output.weight"]) + box
        src = sam_feats[img_idx]
        _, s, _, e = src.shape
        src = src + self.P["prompt_encoder/no_mask_embed.weight"][0]
        pos = self.dense_pe(s, s).to(src).reshape(1, s * s, e)
        mask_tokens = self.P[md + "/mask_tokens.weight"]
        nm = mask_tokens.shape[0]
        tokens = torch.cat([self.P[md + "/iou_token.weight"].expand(n, 1, e), mask_tokens.expand(n, nm, e), adapted], 1)
        hs, keys = self.two_way(md + "/transformer", src.reshape(n, s * s, e), pos, tokens)
        up = self.conv_transpose(keys.reshape(n, s, s, e), md + "/output_upscaling/0")
        up = gelu(self.ln(up, md + "/output_upscaling/1", 1e-6))
        up = gelu(self.conv_transpose(up, md + "/output_upscaling/3"))
        hyper = torch.stack([self.mlp3(hs[:, 1 + i], "%s/output_hypernetworks_mlps.%d" % (md, i), 3) for i in range(nm)], 1)
        masks = torch.einsum("nkc,nhwc->nkhw", hyper, up)
        iou = self.mlp3(hs[:, 0], md + "/iou_prediction_head", 3)
        return {"sparse_box": box, "adapter_tokens": q, "sparse_adapted": adapted, "upscaled": up,
                "masks": masks[:, 0], "iou": iou[:, 0]}

    # -- whole prompt path
    def encode_prompts(self, feats, img_idx, boxes, context):
        sparse, box_valid = self.sparse_prompts(boxes)
        adapter_out = self.adapter(feats["fused"], img_idx, sparse)
        visual = self.visual_projection(adapter_out)
        enc, enc_valid = self.t5_encode(visual, context)
        return {"sparse": sparse, "box_valid": box_valid, "adapter_out": adapter_out, "visual": visual,
                "enc": enc, "enc_valid": enc_valid}
