"""Held-out evaluation of a trained checkpoint on a scenes directory (scenes.py --out DIR --seed S, its own seed).

  /usr/bin/python3 eval.py --ckpt out/checkpoint.safetensors --data /tmp/heldout [--make --count 200 --seed 1000000]

Metrics (boxes/points in canvas pixels of the eval-size image, spec §3.1):
- caption exact match (greedy decode of the trace prompt vs the grammar caption) and teacher-forced token accuracy;
- trace hit rate: teacher-forced on the GT caption, for every word that names an object, the centre of its two
  predicted corners lies inside that object's mask (also reported: inside its box);
- referring P@0.5: teacher-forced on the GT expression, the box at the EOS-1 position has IoU > 0.5 with the object box;
- mask IoU: mask branch on that predicted box, logits upsampled bilinearly to the canvas, cropped to the valid image,
  > 0, vs the object's mask (mean per expression, and cumulative cIoU);
- location-conditioned caption accuracy: greedy caption for each object box == its region caption.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import Tokenizer, canvas_batch, collate, loca_prompt, refer_prompt, scene_sample, trace_prompt  # noqa: E402
from infer import after_first_eos_to_zero, greedy, load, teacher  # noqa: E402


def unrle(runs, h, w):
    flat = np.zeros(h * w, bool)
    pos, val = 0, False
    for r in runs:
        if val:
            flat[pos:pos + r] = True
        pos += r
        val = not val
    return flat.reshape(h, w)


def load_scenes(data):
    doc = json.load(open(os.path.join(data, "annotations.json")))
    for ann in doc["scenes"]:
        img = Image.open(os.path.join(data, ann["image"])).convert("RGB")
        for o in ann["objects"]:
            o["mask"] = unrle(o["mask_rle"], ann["height"], ann["width"])
        yield img, ann


def box_iou(a, b):
    ix = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    iy = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp(min=0)
    inter = ix * iy
    area = lambda x: (x[:, 2] - x[:, 0]).clamp(min=0) * (x[:, 3] - x[:, 1]).clamp(min=0)  # noqa: E731
    return inter / (area(a) + area(b) - inter).clamp(min=1e-6)


def evaluate(model, tok, data, chunk=16, limit=None, captions=True):
    """captions=False skips the greedy caption (the training probe's fast path)."""
    cfg = model.cfg
    canvas, length = cfg["canvas"], cfg["max_caption_length"]
    grid = 4 * canvas // cfg["sam"]["patch_size"]
    m = {k: [] for k in ("cap_exact", "tok_acc", "trace_hit", "trace_box_hit", "refer_hit", "mask_iou", "loca_acc")}
    inter_sum = union_sum = 0.0
    samples = []
    scenes = list(load_scenes(data))[:limit]
    for start in range(0, len(scenes), chunk):
        samples = [scene_sample(img, ann, canvas, grid) for img, ann in scenes[start:start + chunk]]
        pixels, mask, hw = canvas_batch(samples, canvas)
        with torch.no_grad():
            feats = model.encode_image(pixels, mask)
            # caption + trace
            tp = [trace_prompt(tok, s, i) for i, s in enumerate(samples)]
            t = collate(tp, length)
            p = model.encode_prompts(feats, t["img"], t["box"], t["ctx"])
            if captions:
                dec = greedy(model, p["enc"], p["enc_valid"], length)
                for i, s in enumerate(samples):
                    m["cap_exact"].append(tok.decode(dec[i, 1:].tolist()) == s["ann"]["caption"])
            r = teacher(model, p["enc"], p["enc_valid"], t["tokens"], hw[t["img"]], "begin,end,pad")
            target = torch.cat([t["tokens"][:, 1:], torch.zeros_like(t["tokens"][:, :1])], 1)
            ok = target > 0
            m["tok_acc"] += ((r["logits"].argmax(-1) == target)[ok]).tolist()
            centre = r["coords"].mean(2)  # (N, L, 2)
            for i, s in enumerate(samples):
                ann = s["ann"]
                sx, sy = s["w"] / ann["width"], s["h"] / ann["height"]
                for wi, obj in enumerate(ann["trace_object"]):
                    if obj < 0:
                        continue
                    x, y = centre[i, wi + 1].tolist()
                    bx = s["boxes"][obj]
                    m["trace_box_hit"].append(bool(bx[0] <= x <= bx[2] and bx[1] <= y <= bx[3]))
                    ox, oy = int(np.floor(x / sx)), int(np.floor(y / sy))
                    mk = ann["objects"][obj]["mask"]
                    m["trace_hit"].append(bool(0 <= oy < mk.shape[0] and 0 <= ox < mk.shape[1] and mk[oy, ox]))
            # referring + masks
            rp = [refer_prompt(tok, s, i, ref) for i, s in enumerate(samples) for ref in s["ann"]["referring"]]
            t = collate(rp, length)
            p = model.encode_prompts(feats, t["img"], t["box"], t["ctx"])
            r = teacher(model, p["enc"], p["enc_valid"], t["tokens"], hw[t["img"]], "^end-1")
            gt = torch.tensor(np.stack([q["gt_box"] for q in rp]))
            m["refer_hit"] += (box_iou(r["boxes"], gt) > 0.5).tolist()
            mb = model.mask_branch(r["boxes"], p["visual"], r["feats"], feats["sam"], t["img"])
            logits = F.interpolate(mb["masks"][:, None], size=(canvas, canvas), mode="bilinear", align_corners=False)[:, 0]
            for k, q in enumerate(rp):
                s = samples[q["img"]]
                pred = (logits[k, :s["h"], :s["w"]] > 0).numpy()
                full = torch.from_numpy(s["ann"]["objects"][q["object"]]["mask"].astype(np.float32))[None, None]
                gtm = (F.interpolate(full, size=(s["h"], s["w"]), mode="bilinear", align_corners=False)[0, 0] > 0.5).numpy()
                inter, union = float((pred & gtm).sum()), float((pred | gtm).sum())
                inter_sum += inter
                union_sum += union
                m["mask_iou"].append(inter / union if union else 1.0)
            # location-conditioned captions
            lp = [loca_prompt(tok, s, i, o) for i, s in enumerate(samples) for o in range(len(s["ann"]["objects"]))]
            t = collate(lp)
            p = model.encode_prompts(feats, t["img"], t["box"], t["ctx"])
            dec = greedy(model, p["enc"], p["enc_valid"], 8)
            for k, q in enumerate(lp):
                want = samples[q["img"]]["ann"]["objects"][q["object"]]["region_caption"]
                m["loca_acc"].append(tok.decode(dec[k, 1:].tolist()) == want)
    out = {k: float(np.mean(v)) if v else None for k, v in m.items()}
    out["mask_ciou"] = inter_sum / max(union_sum, 1e-6)
    out["counts"] = {"scenes": len(scenes), **{k: len(v) for k, v in m.items()}}
    return out


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--ckpt", default=os.path.join(here, "out", "checkpoint.safetensors"))
    ap.add_argument("--spiece", default=os.path.join(here, "out", "spiece.model"))
    ap.add_argument("--data", default="/tmp/pixelllm_heldout")
    ap.add_argument("--make", action="store_true", help="write the held-out set first (scenes.py)")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1_000_000)
    ap.add_argument("--max-shapes", type=int, default=4)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.make:
        subprocess.check_call([sys.executable, os.path.join(here, "scenes.py"), "--out", a.data, "--count", str(a.count),
                               "--seed", str(a.seed), "--max-shapes", str(a.max_shapes)])
    model = load(a.ckpt)
    res = evaluate(model, Tokenizer(a.spiece), a.data, limit=a.limit)
    rows = [("caption exact match", "cap_exact"), ("caption token accuracy (teacher-forced)", "tok_acc"),
            ("trace hit rate (point in object mask)", "trace_hit"), ("trace hit rate (point in object box)", "trace_box_hit"),
            ("referring P@0.5 (teacher-forced)", "refer_hit"), ("mask IoU (mean)", "mask_iou"), ("mask cIoU", "mask_ciou"),
            ("location-conditioned caption accuracy", "loca_acc")]
    for label, key in rows:
        print("%-42s %.3f" % (label, res[key]))
    print("counts", res["counts"])
    if a.json:
        json.dump(res, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
