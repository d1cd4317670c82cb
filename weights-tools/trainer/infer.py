"""Inference helpers on the torch model, with the engine's semantics: greedy decoding (spec §8.1: buffer
[BOS, EOS, …], repeat suppression, forced EOS after EOS), the teacher-forced rerun, points, boxes, masks."""
import torch

import st
from model import PixelLLM


def load(ckpt, cfg=None):
    import json
    weights, meta = st.read(ckpt)
    return PixelLLM(cfg or json.loads(meta["config"]), weights)


@torch.no_grad()
def greedy(model, enc, enc_valid, length):
    """Returns tokens (N, L) as scenic's greedy decoder writes them (EOS fillers after the first EOS)."""
    n = enc.shape[0]
    tokens = torch.ones(n, length, dtype=torch.long)
    tokens[:, 0] = 0
    for t in range(1, length - 1):
        _, logits = model.t5_decode(tokens[:, :t + 1], enc, enc_valid)
        step = logits[:, t - 1].clone()
        prev = tokens[:, t - 1]
        step[torch.arange(n), prev] = torch.minimum(step[torch.arange(n), prev], torch.tensor(-10000.0))
        done = prev == 1
        step[done] = float("-inf")
        step[done, 1] = 0
        tokens[:, t] = torch.log_softmax(step, -1).argmax(-1)
    return tokens


def after_first_eos_to_zero(tokens):
    out = tokens.clone()
    for i in range(out.shape[0]):
        eos = (out[i, 1:] == 1).nonzero()
        if len(eos):
            out[i, int(eos[0]) + 2:] = 0
    return out


@torch.no_grad()
def teacher(model, enc, enc_valid, tokens, image_hw, ignore):
    feats, logits = model.t5_decode(tokens, enc, enc_valid)
    coords, plog = model.point_head(feats, image_hw)
    valid = model.point_valid(tokens, ignore)
    return {"feats": feats, "logits": logits, "coords": coords, "point_logits": plog, "valid": valid,
            "boxes": model.boxes_from_points(coords, valid)}
