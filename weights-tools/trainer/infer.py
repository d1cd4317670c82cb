"""Inference helpers on the torch model, with the engine's semantics: greedy decoding (spec §8.1: buffer
[BOS, EOS, …], repeat suppression, forced EOS after EOS), the teacher-forced rerun, points, boxes, masks.
The decoder and the BOS/EOS ids come from the model (text_decoder, special_ids), so the T5 model and git_text's
GitPixelLLM share this code."""
import torch

import st
from model import PixelLLM


def load(ckpt, cfg=None):
    import json
    weights, meta = st.read(ckpt)
    return PixelLLM(cfg or json.loads(meta["config"]), weights)


def text_decoder(model):
    """GitPixelLLM.text_decode for the GIT variant, else T5's encoder-decoder."""
    return getattr(model, "text_decode", model.t5_decode)


def special_ids(model):
    """(BOS, EOS, pad) from the config: T5 0 / 1 / 0, the tiny GIT 2 / 3 / 0, real BERT 101 / 102 / 0."""
    c = model.cfg
    return c.get("begin_token_id", 0), c.get("end_token_id", 1), c.get("pad_token_id", 0)


@torch.no_grad()
def greedy(model, enc, enc_valid, length):
    """Returns tokens (N, L) as scenic's greedy decoder writes them (EOS fillers after the first EOS)."""
    n = enc.shape[0]
    bos, eos, _ = special_ids(model)
    decode = text_decoder(model)
    tokens = torch.full((n, length), eos, dtype=torch.long)
    tokens[:, 0] = bos
    for t in range(1, length - 1):
        _, logits = decode(tokens[:, :t + 1], enc, enc_valid)
        step = logits[:, t - 1].clone()
        prev = tokens[:, t - 1]
        step[torch.arange(n), prev] = torch.minimum(step[torch.arange(n), prev], torch.tensor(-10000.0))
        done = prev == eos
        step[done] = float("-inf")
        step[done, eos] = 0
        tokens[:, t] = torch.log_softmax(step, -1).argmax(-1)
    return tokens


def after_first_eos_to_zero(tokens, eos_id=1, pad_id=0):
    out = tokens.clone()
    for i in range(out.shape[0]):
        eos = (out[i, 1:] == eos_id).nonzero()
        if len(eos):
            out[i, int(eos[0]) + 2:] = pad_id
    return out


@torch.no_grad()
def teacher(model, enc, enc_valid, tokens, image_hw, ignore):
    feats, logits = text_decoder(model)(tokens, enc, enc_valid)
    coords, plog = model.point_head(feats, image_hw)
    valid = model.point_valid(tokens, ignore)
    return {"feats": feats, "logits": logits, "coords": coords, "point_logits": plog, "valid": valid,
            "boxes": model.boxes_from_points(coords, valid)}


NEG = -1.0e7  # scenic's "−∞" in beam bookkeeping


def brevity(t, alpha=0.6):
    return ((5.0 + t) / 6.0) ** alpha


@torch.no_grad()
def beam_search(model, enc, enc_valid, length, beam, per_node):
    """One prompt's beam search (spec §8.2, errata A6/A7/B2/B3): enc (1, S, d). Returns the chosen raw tokens (L,) and
    score, every returned beam ascending (best last) with scores and finished flags, and the smallest gap of any
    decision (top-k boundary, finished/live selection, termination) so callers can skip near-ties."""
    bos, eos, _ = special_ids(model)
    decode = text_decoder(model)
    live = torch.full((beam, length), eos, dtype=torch.long)
    live[:, 0] = bos
    live_lp = torch.full((beam,), NEG)
    live_lp[0] = 0.0
    fin, fin_sc, fin_fl = torch.zeros(beam, length, dtype=torch.long), torch.full((beam,), NEG), torch.zeros(beam, dtype=torch.bool)
    gaps = []

    def top(values, k):  # lax.top_k: descending, ties → lower index
        ranked = torch.sort(values, descending=True, stable=True)
        if len(values) > k and ranked.values[k - 1] > NEG / 2:
            gaps.append(float(ranked.values[k - 1] - ranked.values[k]))
        return ranked.indices[:k]

    for t in range(1, length - 1):
        _, logits = decode(live, enc.expand(beam, -1, -1), enc_valid.expand(beam, -1))
        lp = (torch.log_softmax(logits[:, t - 1], -1) + live_lp[:, None])
        vocab = lp.shape[1]
        order = top(lp.reshape(-1), per_node * beam)
        cand_lp = lp.reshape(-1)[order]
        cand = live[order // vocab].clone()
        cand[:, t] = order % vocab
        is_eos = cand[:, t] == eos
        scores = torch.cat([fin_sc, cand_lp / brevity(t) + torch.where(is_eos, 0.0, NEG)])
        keep = top(scores, beam)
        fin, fin_sc, fin_fl = torch.cat([fin, cand])[keep], scores[keep], torch.cat([fin_fl, is_eos])[keep]
        live_scores = cand_lp + torch.where(is_eos, NEG, 0.0)
        keep = top(live_scores, beam)
        live, live_lp = cand[keep], live_scores[keep]
        bound = live_lp.max() / brevity(length)
        if fin_sc.min() > NEG / 2:
            gaps.append(abs(float(fin_sc.min() - bound)))
        if fin_sc.min() > bound:
            break
    seqs, scores, flags = (fin, fin_sc, fin_fl) if fin_fl.any() else (live, live_lp, torch.zeros(beam, dtype=torch.bool))
    seqs, scores, flags = seqs.flip(0), scores.flip(0), flags.flip(0)
    return {"raw": seqs[-1], "log_prob": scores[-1], "beams": seqs, "scores": scores, "flags": flags,
            "min_gap": min(gaps) if gaps else float("inf")}
