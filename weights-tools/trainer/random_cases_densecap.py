"""Dense-captioning cases on NEW images, in the densecap golden's format, for `pixelllm verify`: the golden tiny densecap
checkpoint on seeded random images (random_cases.random_image: long side = canvas, either orientation) and on shape
scenes (scenes.make_scene resized to long side = canvas), with every mid.* / out.* tensor the golden has, computed by
box_decoder.densecap (equal to the oracle: check_golden_densecap.py).

A draw is skipped (the golden's acceptance rule) when a box-decoder decision is within 1e-3 of a tie (top-k boundary
and adjacent scores, NMS IoU − threshold over all pairs, RoI level boundary, score − threshold, adjacent positive
scores, a positive coordinate of a box that NMS may select), when the proposal NMS keeps fewer than post_nms_topk
boxes (errata E3: the golden never pins that gather), when no detection scores > 0, when a greedy step's top1 − top2
log-prob gap is < 0.005 or a caption holds a pad / out-of-tokenizer id, or when the float64 rerun changes an integer
output or moves a float output by more than a quarter of its tolerance. A float32 engine within the tolerance then
reproduces every index, selection and token, and a failure is the engine's.

  /usr/bin/python3 weights-tools/trainer/random_cases_densecap.py --out /tmp/densecap-cases --count 120 --seed 2026
  ./pixelllm verify /tmp/densecap-cases --quiet       # 120/120 (cpu-f64); 116/120 on --backend cpu
"""
import argparse
import collections
import json
import multiprocessing
import os
import shutil
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from box_decoder import densecap  # noqa: E402
from check_golden_densecap import tolerance  # noqa: E402
from data import resize_image  # noqa: E402
from model import PixelLLM  # noqa: E402
from random_cases import random_image  # noqa: E402
from scenes import make_scene  # noqa: E402

GAP_MIN, GREEDY_GAP_MIN = 1e-3, 0.005
GAP_KEYS = ("proposal_topk_boundary_gap", "proposal_topk_min_adjacent_gap", "proposal_nms_min_abs_iou_minus_threshold",
            "proposal_min_of_max_coordinate", "roi_level_min_distance_to_boundary", "roi_score_min_abs_minus_threshold",
            "roi_sorted_positive_min_adjacent_gap", "roi_nms_min_abs_iou_minus_threshold", "roi_min_positive_max_coordinate")


def scene_image(rng, canvas):
    """A shape scene (scenes.py) resized so its long side is the canvas: a fixed point of resize_shorter(canvas)."""
    img = np.array(make_scene(int(rng.integers(0, 2 ** 31)))[0])
    h, w = img.shape[:2]
    short = (min(h, w) * canvas) // max(h, w)
    return resize_image(img, *((canvas, short) if h >= w else (short, canvas)))


def rejections(got, exact, tol, sp_pieces):
    """Reasons to skip a draw (empty: keep it) and the float32 − float64 error per float tensor."""
    why = box_rejections(got["margins"]["box_decoder"])
    cap = got["margins"]["captions"]
    if cap["greedy_min_top1_top2_logprob_gap"] < GREEDY_GAP_MIN:
        why.append("greedy gap < 0.005")
    for row in got["T"]["out.text_tokens"][0]:
        body = row[1:]
        body = body[:int(np.argmax(body == 1))] if (body == 1).any() else body
        if (body == 0).any() or (body >= sp_pieces).any():
            why.append("caption with pad / out-of-tokenizer id")
            break
    noise = {}
    if exact is None:
        return why, noise
    for k, v in exact["T"].items():
        mine = got["T"][k]
        if v.dtype.kind in "iub":
            if not np.array_equal(mine, v):
                why.append("float64 changes " + k)
            continue
        atol, rtol = tolerance(k, tol)
        d = np.abs(mine.astype(np.float64) - v)
        noise[k] = float(d.max()) if d.size else 0.0
        if d.size and (d / (atol + rtol * np.abs(v))).max() > 0.25:
            why.append("f32 noise > 1/4 tol " + k)
    return why, noise


def strict_json(x):
    """Margins with nothing to measure (one positive score, no NMS pair) are inf: JSON has no Infinity, so null."""
    if isinstance(x, dict):
        return {k: strict_json(v) for k, v in x.items()}
    if isinstance(x, list):
        return [strict_json(v) for v in x]
    return None if isinstance(x, float) and not np.isfinite(x) else x


def write_case(out, name, meta, image, context, got, noise, source):
    T = {"in.image": image, "in.context_tokens": np.repeat(context[None, None], got["T"]["out.detection_boxes"].shape[1], 1)}
    T["in.context_tokens"] = T["in.context_tokens"].astype(np.int32)
    for k in meta["tensors"]:  # the golden's order and names
        if k.startswith(("mid.", "out.")):
            T[k] = got["T"][k]
    io = name + ".io.safetensors"
    st.write(os.path.join(out, io), T)
    t = got["T"]
    dets = [{"slot": i, "box_xyxy": [float(x) for x in t["out.detection_boxes"][0, i]],
             "score": float(t["out.detection_scores"][0, i]), "proposal_index": int(t["out.detection_proposal_index"][0, i]),
             "text_tokens": [int(x) for x in t["out.text_tokens"][0, i]], "log_prob": float(t["out.log_probs"][0, i])}
            for i in range(t["out.detection_boxes"].shape[1])]
    case = {k: meta[k] for k in ("component", "task", "canvas", "config", "tolerance", "model_weights", "tokenizer", "prompt")}
    case.update({"case": name, "set": "random", "io_file": io, "image_hw": list(image.shape[:2]), "image_source": source,
                 "context_tokens": T["in.context_tokens"][0].tolist(), "num_detections": int(t["out.num_detections"][0]),
                 "detections": dets, "margins": got["margins"], "f32_vs_f64_max_abs": noise,
                 "description": "random_cases_densecap.py: " + meta["description"],
                 "tensors": {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in T.items()}})
    with open(os.path.join(out, name + ".json"), "w") as fh:
        json.dump(strict_json(case), fh, indent=1, allow_nan=False)


def box_rejections(box):
    why = ["proposal NMS kept < post_nms_topk (E3)"] if box["proposal_nms_short"] > 0 else []
    why += ["det gap " + k for k in GAP_KEYS if box[k] < GAP_MIN]
    return why + (["no detection scores > 0"] if box["num_detections"] < 1 else [])


STATE = {}


def setup(golden):
    torch.set_num_threads(1)
    meta = json.load(open(os.path.join(golden, "densecap.json")))
    weights = st.read(os.path.join(golden, meta["model_weights"]))[0]
    STATE.update(meta=meta, context=st.read(os.path.join(golden, meta["io_file"]))[0]["in.context_tokens"][0, 0],
                 model=PixelLLM(meta["config"], weights), model64=PixelLLM(meta["config"], weights, torch.float64))


def draw(job):
    """Draw `index` of `seed`: its own generator, so the cases do not depend on the worker count."""
    seed, index, scene_rate = job
    meta, context = STATE["meta"], STATE["context"]
    cfg = meta["config"]
    rng = np.random.default_rng([seed, index])
    source = "scene" if rng.random() < scene_rate else "random_image"
    image = scene_image(rng, cfg["canvas"]) if source == "scene" else random_image(rng, cfg["canvas"])
    seen = {}
    # the box decoder's margins first: most draws end there, before the 8 greedy captions and the float64 rerun
    got = densecap(STATE["model"], image, context, gate=lambda box: not seen.setdefault("why", box_rejections(box)))
    if got is None:
        return index, source, seen["why"], None
    why, _ = rejections(got, None, meta["tolerance"], cfg["t5"]["sp_pieces"])
    noise = {}
    if not why:
        why, noise = rejections(got, densecap(STATE["model64"], image, context), meta["tolerance"], cfg["t5"]["sp_pieces"])
    return index, source, why, None if why else (image, got, noise)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=120)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--scene-rate", type=float, default=0.5, help="share of draws that are shape scenes")
    ap.add_argument("--golden", default="/work/shared/golden/pixelllm_densecap")
    ap.add_argument("--max-draws", type=int, default=200000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    setup(a.golden)
    meta = STATE["meta"]
    for f in (meta["model_weights"], meta["tokenizer"]):
        if not os.path.exists(os.path.join(a.out, f)):
            shutil.copy(os.path.join(a.golden, f), os.path.join(a.out, f))
    first, every, made, draws = (collections.Counter() for _ in range(4))
    start = time.time()
    jobs = ((a.seed, i, a.scene_rate) for i in range(a.max_draws))
    pool = multiprocessing.get_context("fork").Pool(a.workers, setup, (a.golden,)) if a.workers > 1 else None
    results = pool.imap(draw, jobs, chunksize=8) if pool else map(draw, jobs)
    n = 0
    for index, source, why, kept in results:  # in draw order, whatever the worker count
        n += 1
        draws[source] += 1
        if why:
            first[why[0]] += 1
            every.update(why)
        else:
            image, got, noise = kept
            write_case(a.out, "densecap_%03d" % sum(made.values()), meta, image, STATE["context"], got, noise,
                       {"source": source, "seed": a.seed, "draw": index})
            made[source] += 1
        if sum(made.values()) >= a.count:
            break
    if pool:
        pool.terminate()
    total = sum(made.values())
    summary = {"seed": a.seed, "scene_rate": a.scene_rate, "cases": total, "draws": n, "acceptance_rate": total / max(n, 1),
               "by_source": {s: {"draws": draws[s], "cases": made[s], "rate": made[s] / max(draws[s], 1)} for s in draws},
               "rejections_first_reason": dict(first.most_common()), "rejections_all_checked_reasons": dict(every.most_common()),
               "seconds": round(time.time() - start, 1)}
    # captions and the float64 rerun are checked only on draws the box decoder keeps; not *.json: verify reads those
    with open(os.path.join(a.out, "generation_summary.txt"), "w") as fh:
        json.dump(summary, fh, indent=1)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
