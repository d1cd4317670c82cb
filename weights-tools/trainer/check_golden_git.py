"""Proves git_text.py (GIT text decoder on model.py's image/prompt path) equals the golden oracle on
shared/golden/pixelllm_git: runs both cases' inputs, decodes them again (beam search for caption_trace, greedy for
loca_caption) and compares EVERY mid.* / out.* tensor the case stores, at the goldens' tolerances (README "Tolerance").

  /usr/bin/python3 weights-tools/trainer/check_golden_git.py [--golden /work/shared/golden] [--float64]
--float64 runs the same checks on GitPixelLLM(cfg, w, torch.float64): its distance to the float32 goldens should be
the goldens' own f32_vs_f64_max_abs (the oracle's float64 rerun), which random_cases.py's noise check relies on.
Exit status 1 when any tensor is outside tolerance, or when a stored mid.*/out.* tensor was not compared.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import infer  # noqa: E402
import st  # noqa: E402
from check_golden import Checker, canvas_inputs  # noqa: E402
from git_text import GitPixelLLM, greedy_stats  # noqa: E402
from random_cases import tolerance  # noqa: E402


def beam_tensors(model, p, length, beam, per_node):
    """infer.beam_search one prompt at a time (errata B2: same finished sets as the batched search)."""
    found = [infer.beam_search(model, p["enc"][i:i + 1], p["enc_valid"][i:i + 1], length, beam, per_node)
             for i in range(p["enc"].shape[0])]
    out = {"out.raw_text_tokens": torch.stack([r["raw"] for r in found])[None],
           "out.log_probs": torch.stack([r["log_prob"] for r in found])[None],
           "out.beam_text_tokens": torch.stack([r["beams"] for r in found])[None],
           "out.beam_log_probs": torch.stack([r["scores"] for r in found])[None],
           "out.beam_finished_flags": torch.stack([r["flags"] for r in found])[None]}
    return out, min(r["min_gap"] for r in found)


def run_case(chk, golden_dir, case, beam=None, dtype=torch.float32):
    meta = json.load(open(os.path.join(golden_dir, case + ".json")))
    cfg = meta["config"]
    t, _ = st.read(os.path.join(golden_dir, meta["io_file"]))
    model = GitPixelLLM(cfg, st.read(os.path.join(golden_dir, meta["model_weights"]))[0], dtype)
    _, eos, pad = infer.special_ids(model)
    length = cfg["max_caption_length"]
    pixels, mask, hw = (x.to(dtype) for x in canvas_inputs(t["in.image"], cfg["canvas"]))
    got = {}
    with torch.no_grad():
        f = model.encode_image(pixels, mask)
        g = f["fused"].shape[1]
        boxes = torch.from_numpy(t["in.prompt_boxes"][0]).to(dtype)
        ctx = torch.from_numpy(t["in.context_tokens"][0].astype(np.int64))
        n = boxes.shape[0]
        p = model.encode_prompts(f, torch.zeros(n, dtype=torch.long), boxes, ctx)
        got.update({"mid.git_tokens": f["git_tokens"], "mid.git_visual_features": f["git"],
                    "mid.sam_visual_features": f["sam"], "mid.fused_features": f["fused"],
                    "mid.dense_pe": model.dense_pe(g, g),
                    "mid.sparse_prompt_embeddings": p["sparse"][None], "mid.box_valid_mask": p["box_valid"][None],
                    "mid.adapter_out": p["adapter_out"][None], "mid.visual_features": p["visual"][None],
                    "mid.image_shape": hw, "mid.memory": p["enc"], "mid.memory_valid_mask": p["enc_valid"]})
        if beam:
            found, gap = beam_tensors(model, p, length, *beam)
            got.update(found)
            print("     beam search: smallest decision gap %.4f" % gap)
        else:
            got["out.raw_text_tokens"] = infer.greedy(model, p["enc"], p["enc_valid"], length)[None]
        raw = got["out.raw_text_tokens"][0]
        tokens = infer.after_first_eos_to_zero(raw, eos, pad)
        feats, logits = model.text_decode(tokens, p["enc"], p["enc_valid"])
        coords, plog = model.point_head(feats, hw.expand(n, 2))
        valid = model.point_valid(tokens, "begin,end,pad")
        got.update({"out.text_tokens": tokens[None], "mid.text_feats": feats[None], "mid.tf_logits": logits[None],
                    "out.point_coords": coords[None], "out.point_logits": plog[None], "out.point_valid_mask": valid[None],
                    "out.point_detection_boxes": model.boxes_from_points(coords, valid)[None]})
        if not beam:
            # greedy is stored as a 1-beam result too; score and margins from the rerun (GIT rows are causal in tokens)
            score, margin = greedy_stats(logits, raw, eos)
            got.update({"out.log_probs": score[None], "out.greedy_margin": margin,
                        "out.beam_text_tokens": raw[None, :, None], "out.beam_log_probs": score[None, :, None]})
            print("     greedy: smallest decision gap %.4f" % float(margin[margin >= 0].min()))
    for name in sorted(k for k in t if k.startswith(("mid.", "out."))):
        if name not in got:
            print("FAIL %-45s not produced" % (case + " " + name))
            chk.count += 1
            chk.failures += 1
            continue
        want = t[name]
        value = got[name].detach().numpy()
        if dtype == torch.float64 and name in meta.get("f32_vs_f64_max_abs", {}) and value.dtype.kind == "f":
            print("     %-40s float64 vs golden %.2e, golden's own f32_vs_f64 %.2e" % (
                name, float(np.abs(value - t[name]).max()), meta["f32_vs_f64_max_abs"][name]))
        if name == "out.beam_text_tokens":
            # flagged slots and the best (last): unflagged ones are filler states (errata A7)
            compared = t.get("out.beam_finished_flags", np.zeros(want.shape[:-1], np.uint8)).astype(bool)
            compared[..., -1] = True
            value, want = value[compared], want[compared]
        elif name == "out.beam_log_probs" and "out.beam_finished_flags" in t:
            compared = t["out.beam_finished_flags"].astype(bool)
            compared[..., -1] = True
            value, want = value[compared], want[compared]
        if want.dtype.kind in "iub":
            value = value.astype(want.dtype)
        chk.close("%s %s" % (case, name), value, want, *tolerance(name))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--golden", default="/work/shared/golden")
    ap.add_argument("--float64", action="store_true")
    a = ap.parse_args()
    dtype = torch.float64 if a.float64 else torch.float32
    torch.set_num_threads(1)
    chk = Checker()
    gp = os.path.join(a.golden, "pixelllm_git")
    run_case(chk, gp, "caption_trace", beam=(4, 2), dtype=dtype)
    run_case(chk, gp, "loca_caption", dtype=dtype)
    print("%d tensors compared, %d outside tolerance" % (chk.count, chk.failures))
    sys.exit(1 if chk.failures else 0)


if __name__ == "__main__":
    main()
