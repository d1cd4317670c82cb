"""Whole-model cases on NEW inputs, in the golden format, for `pixelllm verify`: the golden tiny checkpoints (T5,
T5 + mask branch, GIT) run on seeded random images (long side = canvas, either orientation, any aspect), prompt boxes
(inside, touching the edges, the whole image, the all-zero padding slot) and referring texts, with outputs from model.py
and git_text.py — which equal the golden oracle (check_golden.py, check_golden_git.py) — decoded greedily (spec §8.1)
or by beam search (§8.2, infer.beam_search).
Draws whose decoding has a decision gap under 0.005 (the goldens' own rule), or whose float32 outputs differ from the
same forward in float64 by more than a quarter of a tolerance, are skipped: a float32 engine within the tolerance then
reproduces every token, and a failure is the engine's.

  /usr/bin/python3 weights-tools/trainer/random_cases.py --out /tmp/random-cases --count 120 --seed 11
  ./pixelllm verify /tmp/random-cases --quiet        # "verify: 120/120 cases pass"
  /usr/bin/python3 weights-tools/trainer/random_cases.py --out /tmp/git-cases --count 120 --seed 11 \
      --kinds gitloca,gittrace                        # the GIT decoder (default --kinds: the six T5 kinds)
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import infer  # noqa: E402
import st  # noqa: E402
from git_text import GitPixelLLM, greedy_stats  # noqa: E402
from model import PixelLLM  # noqa: E402

# kind → (golden folder, case whose model/config/context it borrows, decoding, beam, per-node, point rule, masks)
KINDS = {
    "loca": ("pixelllm", "loca_caption", "greedy", 0, 0, "begin,end,pad", False),
    "trace": ("pixelllm", "caption_trace", "beam", 4, 2, "begin,end,pad", False),
    "refer": ("pixelllm", "referring", "teacher", 0, 0, "^end-1", False),
    "referbeam": ("pixelllm", "referring", "beam", 3, 1, "^end-1", False),
    "refseg": ("pixelllm_refseg", "referring_segmentation", "teacher", 0, 0, "^end-1", True),
    "refsegbeam": ("pixelllm_refseg", "referring_segmentation", "beam", 3, 1, "^end-1", True),
    "gitloca": ("pixelllm_git", "loca_caption", "greedy", 0, 0, "begin,end,pad", False),
    "gittrace": ("pixelllm_git", "caption_trace", "beam", 4, 2, "begin,end,pad", False),
}
# the kinds drawn without --kinds: the T5 six, so a seed still gives the cases it gave before the GIT kinds existed
DEFAULT_KINDS = "loca,trace,refer,referbeam,refseg,refsegbeam"


def random_image(rng, canvas):
    """A fixed point of the eval resize: long side = canvas; smooth colour fields plus noise."""
    short = int(rng.integers(20, canvas + 1))
    h, w = (canvas, short) if rng.random() < 0.5 else (short, canvas)
    gh, gw = int(rng.integers(2, 9)), int(rng.integers(2, 9))
    low = rng.uniform(0, 255, (gh, gw, 3))
    ys, xs = np.linspace(0, gh - 1, h), np.linspace(0, gw - 1, w)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, gh - 1), np.minimum(x0 + 1, gw - 1)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    img = (low[y0][:, x0] * (1 - fy) * (1 - fx) + low[y1][:, x0] * fy * (1 - fx)
           + low[y0][:, x1] * (1 - fy) * fx + low[y1][:, x1] * fy * fx)
    img += rng.normal(0, rng.uniform(0, 40), img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def random_boxes(rng, h, w, n):
    out = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.1:
            out.append([0, 0, 0, 0])  # the padding slot
        elif kind < 0.2:
            out.append([0, 0, w, h])
        else:
            x0, x1 = sorted(rng.uniform(0, w, 2))
            y0, y1 = sorted(rng.uniform(0, h, 2))
            if kind < 0.3:
                x0, y0 = 0.0, 0.0
            out.append([round(x0, 2), round(y0, 2), round(max(x1, x0 + 1), 2), round(max(y1, y0 + 1), 2)])
    return np.array(out, np.float32)


def greedy_gap(model, enc, enc_valid, tokens):
    """Smallest top1 − top2 log-prob gap over the decoded steps (repeat suppression applied, forced steps skipped)."""
    _, logits = infer.text_decoder(model)(tokens, enc, enc_valid)
    eos = infer.special_ids(model)[1]
    gaps = []
    for i in range(tokens.shape[0]):
        for t in range(1, tokens.shape[1] - 1):
            prev = int(tokens[i, t - 1])
            if prev == eos:
                continue
            step = logits[i, t - 1].clone()
            step[prev] = min(float(step[prev]), -10000.0)
            top = torch.topk(torch.log_softmax(step, -1), 2).values
            gaps.append(float(top[0] - top[1]))
    return min(gaps) if gaps else float("inf")


def encode(model, pixels, valid, boxes, context):
    """Image features and the encoded prompts (float32 or float64 model)."""
    f = model.encode_image(pixels, valid)
    return f, model.encode_prompts(f, torch.zeros(boxes.shape[0], dtype=torch.long), boxes, context)


def outputs(model, f, p, tokens, hw, ignore, masks, pre, raw=None):
    """The case's float and mask outputs for given decoded tokens, from encode()'s features and prompts; with the raw
    greedy tokens (GIT) also the greedy score and margins the GIT golden stores, so they pass the float64 check too."""
    n = tokens.shape[0]
    image_of = torch.zeros(n, dtype=torch.long)
    feats, logits = infer.text_decoder(model)(tokens, p["enc"], p["enc_valid"])
    coords, point_logits = model.point_head(feats, hw.expand(n, 2))
    point_valid = model.point_valid(tokens, ignore)
    det = model.boxes_from_points(coords, point_valid)
    memory = "mid.memory" if isinstance(model, GitPixelLLM) else "mid.encoder_output"
    T = {"mid.fused_features": f["fused"], "mid.adapter_out": p["adapter_out"][None], memory: p["enc"],
         "mid.%stext_feats" % pre: feats[None], "mid.%stf_logits" % pre: logits[None],
         "out.%spoint_coords" % pre: coords[None], "out.%spoint_logits" % pre: point_logits[None],
         "out.%spoint_detection_boxes" % pre: det[None], "valid": point_valid, "encoder_valid": p["enc_valid"]}
    if masks:
        m = model.mask_branch(det, p["visual"], feats, f["sam"], image_of)
        T["out.%sdetection_masks" % pre] = m["masks"][None]
        T["out.%siou_predictions" % pre] = m["iou"][None]
    if raw is not None:
        score, margin = greedy_stats(logits, raw, infer.special_ids(model)[1])
        T.update({"out.log_probs": score[None], "out.beam_log_probs": score[None, :, None], "out.greedy_margin": margin})
    return T


def tolerance(name):
    """The goldens' per-tensor rule (their "tolerance" object)."""
    if name.endswith(("point_coords", "point_detection_boxes")):
        return 2e-3, 1e-4
    return (2e-4, 1e-4) if name.endswith(("tf_logits", "log_probs")) else (1e-4, 1e-4)


def golden_source(kind, golden):
    """What a case borrows from its golden folder: config, weights, model class, context row, case-JSON fields.
    random_configs.py passes its own (random config, seeded weights) with the optional hooks `check` (decoded tokens →
    skip reason), `extra` (more mid.* tensors, noise-checked like the rest), `case_extra` (more JSON fields) and `kind`
    (a KINDS row with other beam sizes)."""
    folder, source = KINDS[kind][:2]
    meta = json.load(open(os.path.join(golden, folder, source + ".json")))
    git = folder == "pixelllm_git"
    path = os.path.join(golden, folder, meta["model_weights"])
    return {"cfg": meta["config"], "weights": st.read(path)[0], "weights_path": path, "weights_name": meta["model_weights"],
            "Model": GitPixelLLM if git else PixelLLM, "git": git, "pieces": 96, "task": meta["task"],
            "context_row": st.read(os.path.join(golden, folder, meta["io_file"]))[0]["in.context_tokens"][0, 0],
            "json": {k: meta[k] for k in ("component", "canvas", "config", "tolerance") if k in meta}}


def make_case(out, name, kind, rng, golden, src=None):
    """Writes one case; returns None, or why the draw was skipped ("gap", "noise" or src's check)."""
    src = src or golden_source(kind, golden)
    _, _, decoding, beam, per_node, ignore, masks = src.get("kind", KINDS[kind])
    cfg = src["cfg"]
    canvas, length = cfg["canvas"], cfg["max_caption_length"]
    git = src["git"]
    base = kind[3:] if git else kind  # the GIT kinds draw their inputs as the T5 kinds of the same name
    model, model64 = src["Model"](cfg, src["weights"]), src["Model"](cfg, src["weights"], torch.float64)
    _, eos, pad = infer.special_ids(model)
    context_row = src["context_row"]
    img = random_image(rng, canvas)
    h, w = img.shape[:2]
    n = 1 if base == "trace" else int(rng.integers(1, 6))
    boxes = random_boxes(rng, h, w, n) if base == "loca" else np.array([[0, 0, w, h]] * n, np.float32)
    context = np.zeros((n, context_row.shape[0]), np.int64)
    text = np.zeros((n, length), np.int64)
    for i in range(n):
        if base in ("loca", "trace"):
            context[i] = context_row
            continue
        words = [int(t) for t in context_row if t > 0][:2]  # "where is"
        row = words + [int(t) for t in rng.integers(3, src["pieces"], int(rng.integers(0, len(context_row) - len(words))))] + [1]
        context[i, :min(len(row), len(context_row))] = row[:len(context_row)]
        expression = [0] + [int(t) for t in rng.integers(3, src["pieces"], int(rng.integers(0, length - 2)))] + [1]
        text[i, :len(expression)] = expression
    pixels = np.zeros((1, canvas, canvas, 3), np.float32)
    pixels[0, :h, :w] = img
    valid = np.zeros((1, canvas, canvas, 1), np.float32)
    valid[0, :h, :w] = 1
    T = {"in.image": img, "in.prompt_boxes": boxes[None], "in.context_tokens": context[None].astype(np.int32)}
    if decoding == "teacher":
        T["in.gt_text_tokens"] = text[None].astype(np.int32)
    pre = "teacher." if decoding == "teacher" else ""
    pixels_t, valid_t, boxes_t, context_t = (torch.from_numpy(a) for a in (pixels, valid, boxes, context))
    hw = torch.tensor([[h, w]], dtype=torch.float32)
    with torch.no_grad():
        f, p = encode(model, pixels_t, valid_t, boxes_t, context_t)
        if decoding == "greedy":
            raw = infer.greedy(model, p["enc"], p["enc_valid"], length)
            if greedy_gap(model, p["enc"], p["enc_valid"], raw) < 0.005:
                return "gap"
        elif decoding == "beam":
            found = [infer.beam_search(model, p["enc"][i:i + 1], p["enc_valid"][i:i + 1], length, beam, per_node) for i in range(n)]
            if min(r["min_gap"] for r in found) < 0.005:
                return "gap"
            raw = torch.stack([r["raw"] for r in found])
            T["out.log_probs"] = torch.stack([r["log_prob"] for r in found])[None].numpy()
            T["out.beam_text_tokens"] = torch.stack([r["beams"] for r in found])[None].numpy().astype(np.int32)
            T["out.beam_log_probs"] = torch.stack([r["scores"] for r in found])[None].numpy()
            T["out.beam_finished_flags"] = torch.stack([r["flags"] for r in found])[None].numpy().astype(np.uint8)
        else:
            raw = torch.from_numpy(text)
        why = src["check"](model, raw) if "check" in src else None
        if why:
            return why
        tokens = infer.after_first_eos_to_zero(raw, eos, pad)
        stats = raw if git and decoding == "greedy" else None
        got = outputs(model, f, p, tokens, hw, ignore, masks, pre, stats)
        # The same forward in float64: a case whose float32 outputs sit near its tolerance would test the generator's
        # rounding, not the engine; keep only those within a quarter of it (the goldens: f32_vs_f64_max_abs).
        f64, p64 = encode(model64, pixels_t.double(), valid_t.double(), boxes_t.double(), context_t)
        exact = outputs(model64, f64, p64, tokens, hw.double(), ignore, masks, pre, stats)
        if "extra" in src:
            got.update(src["extra"](model, f, p, got, pre))
            exact.update(src["extra"](model64, f64, p64, exact, pre))
        noise = {}
        for k, v in got.items():
            if k.startswith(("mid.", "out.")):
                atol, rtol = tolerance(k)
                noise[k] = float((v.double() - exact[k]).abs().max())
                if ((v.double() - exact[k]).abs() / (atol + rtol * exact[k].abs())).max() > 0.25:
                    return "noise"
    T.update({k: v.numpy() for k, v in got.items() if k.startswith(("mid.", "out."))})
    T["mid.memory_valid_mask" if git else "mid.encoder_valid_mask"] = got["encoder_valid"].numpy().astype(np.uint8)
    if stats is not None:  # the GIT golden stores greedy as a one-beam result too
        T["out.beam_text_tokens"] = raw[None, :, None].numpy().astype(np.int32)
    T["out.%spoint_valid_mask" % pre] = got["valid"][None].numpy().astype(np.uint8)
    T["out.%sraw_text_tokens" % pre] = raw[None].numpy().astype(np.int32)
    T["out.%stext_tokens" % pre] = tokens[None].numpy().astype(np.int32)
    io = name + ".io.safetensors"
    st.write(os.path.join(out, io), T)
    if not os.path.exists(os.path.join(out, src["weights_name"])):
        shutil.copy(src["weights_path"], os.path.join(out, src["weights_name"]))
    setting = {"greedy": "greedy, repeat suppression -10000", "teacher": "teacher forced on gt_text_tokens",
               "beam": "beam %d / per-node %d / alpha 0.6" % (beam, per_node)}[decoding]
    case = dict(src["json"])
    case.update({"task": src["task"], "case": name, "set": "random", "io_file": io, "model_weights": src["weights_name"],
                 "point_output_ignore": ignore, "f32_vs_f64_max_abs": noise, "decode_settings": {"teacher" if decoding == "teacher" else "main": setting},
                 "tensors": {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in T.items()}})
    case.update(src.get("case_extra", {}))
    with open(os.path.join(out, name + ".json"), "w") as fh:
        json.dump(case, fh, indent=1)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--golden", default="/work/shared/golden")
    ap.add_argument("--kinds", default=DEFAULT_KINDS, help="comma list, drawn in turn; GIT: gitloca,gittrace")
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    kinds = a.kinds.split(",")
    unknown = set(kinds) - set(KINDS)
    if unknown:
        ap.error("unknown kinds %s (known: %s)" % (sorted(unknown), ", ".join(KINDS)))
    made, skipped = 0, {"gap": 0, "noise": 0}
    while made < a.count:
        kind = kinds[made % len(kinds)]
        why = make_case(a.out, "%s_%03d" % (kind, made), kind, rng, a.golden)
        if why is None:
            made += 1
        else:
            skipped[why] += 1
    print("%d cases in %s (%d draws skipped: %d with a decision gap under 0.005, %d with float32 noise over a quarter of a "
          "tolerance)" % (made, a.out, sum(skipped.values()), skipped["gap"], skipped["noise"]))


if __name__ == "__main__":
    main()
