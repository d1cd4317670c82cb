"""The GIT (BERT-style) text decoder variant of the miniature PixelLLM: scenic's TransformerDecoderTextualHead as the
pixelllm_git golden README and the spec (§2.4, §5.2, errata D7–D10) describe it, on top of model.py's shared image and
prompt path (EVA02 + SAM, fusion, prompt encoder + adapter, point head), which this subclass inherits unchanged.

  model = GitPixelLLM(cfg, weights[, torch.float64]); p = model.encode_prompts(f, img_idx, boxes, context)
  feats, logits = model.text_decode(tokens, p["enc"], p["enc_valid"])     # p["enc"] is the memory [visual; context]

infer.greedy / infer.beam_search pick text_decode and the config's begin/end ids up by themselves (infer.text_decoder).
"""
import torch

from model import PixelLLM, gelu, layer_norm

TX = "textual"


class GitPixelLLM(PixelLLM):
    @property
    def pad(self):
        return self.cfg.get("pad_token_id", 0)

    def embed(self, tokens):
        """Words + positions from 0 for ANY token row (caption and context alike), then LN eps 1e-8."""
        pos = self.P[TX + "/embedding/positions/embedding"][: tokens.shape[1]]
        x = self.P[TX + "/embedding/words/embedding"][tokens] + pos[None]
        return self.ln(x, TX + "/embedding/layer_norm", 1e-8)

    def visual_projection(self, adapter_out):
        # GIT has no visual_project_layers: the projection lives inside `textual/`.
        x = self.dense(adapter_out, TX + "/visual_projection.0")
        return self.ln(x, TX + "/visual_projection.1", 1e-5)

    def encode_prompts(self, feats, img_idx, boxes, context):
        """As model.py's, with the memory [projected visual; embedded context] in place of the T5 encoder output.
        "visual" stays the adapter output: that is what the goldens store as mid.visual_features for GIT."""
        sparse, box_valid = self.sparse_prompts(boxes)
        adapter_out = self.adapter(feats["fused"], img_idx, sparse)
        visual = self.visual_projection(adapter_out)
        memory = torch.cat([visual, self.embed(context)], 1)
        # scenic's context validity is `id > 0`, i.e. not [PAD]
        valid = torch.cat([torch.ones(visual.shape[:2], dtype=torch.bool), context != self.pad], 1)
        return {"sparse": sparse, "box_valid": box_valid, "adapter_out": adapter_out, "visual": adapter_out,
                "enc": memory, "enc_valid": valid}

    def git_attention(self, x, lp, blocked):
        """BertSelfAttention + output dense; `blocked` (N, S, S) True where the additive mask is −inf."""
        heads = self.cfg["git_text"]["num_heads"]
        n, s, d = x.shape
        hd = d // heads
        q, k, v = (self.dense(x, "%s/attention/self/%s" % (lp, w)).view(n, s, heads, hd).transpose(1, 2)
                   for w in ("query", "key", "value"))
        # the scale multiplies q before q·kᵀ (errata D8): same maths, its own rounding
        scores = (q * hd ** -0.5) @ k.transpose(-1, -2)
        scores = scores.masked_fill(blocked[:, None], float("-inf"))
        a = torch.softmax(scores, -1) @ v
        return self.dense(a.transpose(1, 2).reshape(n, s, d), lp + "/attention/output/dense")

    def text_decode(self, tokens, memory, memory_valid):
        """One post-LN stack over [memory; text] → (text_feats (N, L, d), logits (N, L, V)). No text padding mask:
        pads after [SEP] are ordinary tokens for the rows after them (errata D7), so the result is causal in tokens."""
        n, m, _ = memory.shape
        length = tokens.shape[1]
        x = torch.cat([memory, self.embed(tokens)], 1)
        s = m + length
        col_text = torch.arange(s) >= m
        causal = torch.arange(s)[None, :] <= torch.arange(s)[:, None]
        # memory rows: valid memory columns only; text rows: valid memory columns + text j <= i
        text_ok = col_text[None, :] & col_text[:, None] & causal
        mem_ok = torch.cat([memory_valid, torch.zeros(n, length, dtype=torch.bool)], 1)
        blocked = ~(mem_ok[:, None, :] | text_ok[None])
        i = 0
        while self.has("%s/transformer/encoder/layer.%d/attention/self/query/kernel" % (TX, i)):
            lp = "%s/transformer/encoder/layer.%d" % (TX, i)
            a = self.ln(x + self.git_attention(x, lp, blocked), lp + "/attention/output/LayerNorm", 1e-5)
            h = self.dense(gelu(self.dense(a, lp + "/intermediate/dense")), lp + "/output/dense")
            x = self.ln(a + h, lp + "/output/LayerNorm", 1e-12)
            i += 1
        feats = x[:, m:]
        return feats, self.dense(feats, TX + "/output")

    def point_valid(self, tokens, ignore):
        """'begin,end,pad' with [CLS] ≠ [PAD]: the begin test is what drops the [CLS] slot (errata D10)."""
        bos, eos = self.cfg["begin_token_id"], self.cfg["end_token_id"]
        if ignore == "^end-1":
            nxt = torch.cat([tokens[:, 1:], torch.full_like(tokens[:, :1], -1)], 1)
            return nxt == eos
        return (tokens != bos) & (tokens != eos) & (tokens != self.pad)


def greedy_stats(logits, raw, eos):
    """From a rerun's logits (N, L, V) on the decoded tokens raw (N, L): per step t = 1…L−2 the top1 − top2 log-prob
    after repeat suppression (−1 on forced steps after EOS: the goldens' out.greedy_margin) and scenic's score
    sum / max(1, #non-EOS tokens − 1) (out.log_probs). Exact for GIT: nothing in a row depends on later tokens."""
    n, length = raw.shape
    margin = torch.full((n, length - 2), -1.0, dtype=logits.dtype)
    total = torch.zeros(n, dtype=logits.dtype)
    for i in range(n):
        for t in range(1, length - 1):
            prev = int(raw[i, t - 1])
            if prev == eos:
                continue
            step = logits[i, t - 1].clone()
            step[prev] = torch.clamp(step[prev], max=-10000.0)
            lsm = torch.log_softmax(step, -1)
            top = torch.topk(lsm, 2).values
            margin[i, t - 1] = top[0] - top[1]
            total[i] += lsm[int(raw[i, t])]
    words = (raw != eos).sum(1).to(logits.dtype)
    return total / torch.clamp(words - 1, min=1), margin
