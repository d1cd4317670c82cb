"""Deterministic synthetic scenes for the demo PixelLLM: 1–4 shapes {circle, square, triangle} × {red, green, blue,
yellow} × {small, large} on a plain or noisy background, non-square images (160–384 px), occasional overlap.

Per scene: caption in a fixed grammar, per-word trace boxes, referring expressions with boxes, per-shape masks,
region captions. `python3 scenes.py --out DIR --count N --seed S` writes PNGs + annotations.json (schema: README.md).
"""
import argparse
import json
import os
import random

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ["circle", "square", "triangle"]
COLORS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (235, 210, 40)}
SIZES = ["small", "large"]
TRACE_PROMPT = "A long image caption: "
LOCA_PROMPT = "an object of "
REFER_PREFIX = "where is "


def location_phrase(cx, cy, w, h):
    """3×3 grid of the object's centre → 'at the top left', 'on the left', 'at the top', 'in the center', …"""
    col = 0 if cx < w / 3 else (2 if cx > 2 * w / 3 else 1)
    row = 0 if cy < h / 3 else (2 if cy > 2 * h / 3 else 1)
    v = ["top", None, "bottom"][row]
    hz = ["left", None, "right"][col]
    if v and hz:
        return "at the %s %s" % (v, hz)
    if v:
        return "at the %s" % v
    if hz:
        return "on the %s" % hz
    return "in the center"


def shape_polygon(kind, box):
    x0, y0, x1, y1 = box
    if kind == "triangle":
        return [((x0 + x1) / 2, y0), (x1, y1), (x0, y1)]
    return None


def draw_shape(draw, kind, box, fill):
    if kind == "circle":
        draw.ellipse(box, fill=fill)
    elif kind == "square":
        draw.rectangle(box, fill=fill)
    else:
        draw.polygon(shape_polygon(kind, box), fill=fill)


def box_iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / ua if ua > 0 else 0.0


def make_scene(seed, max_shapes=4):
    """Returns (PIL image, annotation dict with per-shape 'mask' numpy arrays)."""
    rng = random.Random(seed)
    w, h = rng.randint(160, 384), rng.randint(160, 384)
    while abs(w - h) < 16:
        h = rng.randint(160, 384)
    noisy = rng.random() < 0.5
    base = rng.randint(90, 200)
    tint = [base + rng.randint(-20, 20) for _ in range(3)]
    if noisy:
        nrng = np.random.default_rng(seed)
        arr = np.clip(np.array(tint, np.float32) + nrng.normal(0, rng.uniform(10, 30), (h, w, 3)), 0, 255).astype(np.uint8)
        img = Image.fromarray(arr, "RGB")
    else:
        img = Image.new("RGB", (w, h), tuple(tint))
    n = rng.randint(1, max_shapes)
    short = min(w, h)
    objects = []
    tries = 0
    while len(objects) < n and tries < 200:
        tries += 1
        size = rng.choice(SIZES)
        side = short * (rng.uniform(0.16, 0.22) if size == "small" else rng.uniform(0.32, 0.42))
        side = round(side)
        x0 = rng.uniform(2, w - side - 2)
        y0 = rng.uniform(2, h - side - 2)
        box = [round(x0), round(y0), round(x0) + side, round(y0) + side]
        overlap_ok = rng.random() < 0.15
        if any(box_iou(box, o["box"]) > (0.25 if overlap_ok else 0.0) for o in objects):
            continue
        kind, color = rng.choice(SHAPES), rng.choice(list(COLORS))
        if any(o["shape"] == kind and o["color"] == color and o["size"] == size for o in objects) and rng.random() < 0.7:
            continue
        objects.append({"shape": kind, "color": color, "size": size, "box": box})
    draw = ImageDraw.Draw(img)
    for o in objects:
        jitter = tuple(int(np.clip(c + rng.randint(-15, 15), 0, 255)) for c in COLORS[o["color"]])
        draw_shape(draw, o["shape"], o["box"], jitter)
    # masks after drawing everything: later shapes occlude earlier ones
    masks = []
    for i, o in enumerate(objects):
        m = Image.new("L", (w, h), 0)
        draw_shape(ImageDraw.Draw(m), o["shape"], o["box"], 255)
        mask = np.array(m) > 0
        for later in objects[i + 1:]:
            lm = Image.new("L", (w, h), 0)
            draw_shape(ImageDraw.Draw(lm), later["shape"], later["box"], 255)
            mask &= ~(np.array(lm) > 0)
        masks.append(mask)
    ann = annotate(objects, masks, w, h, rng, seed, "noisy" if noisy else "plain")
    return img, ann


def annotate(objects, masks, w, h, rng, seed, background):
    """Objects (shape, color, size, drawn box) + their VISIBLE masks → the scene annotation (boxes tightened to the
    masks, locations, caption, per-word trace boxes, referring expressions); the masks ride along as o["mask"]."""
    for o, mask in zip(objects, masks):
        ys, xs = np.nonzero(mask)
        o["box"] = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1] if len(xs) else o["box"]
        cx, cy = (o["box"][0] + o["box"][2]) / 2, (o["box"][1] + o["box"][3]) / 2
        o["location"] = location_phrase(cx, cy, w, h)
        o["region_caption"] = "a %s %s %s" % (o["size"], o["color"], o["shape"])
    order = sorted(range(len(objects)), key=lambda i: ((objects[i]["box"][0] + objects[i]["box"][2]) / 2, objects[i]["box"][1]))
    caption_words, trace = [], []
    for rank, i in enumerate(order):
        o = objects[i]
        if rank > 0:
            caption_words.append("and")
            p, q = objects[order[rank - 1]]["box"], o["box"]
            trace.append([min(p[0], q[0]), min(p[1], q[1]), max(p[2], q[2]), max(p[3], q[3])])  # moving between
        phrase = ("%s %s" % (o["region_caption"], o["location"])).split()
        caption_words += phrase
        trace += [list(o["box"])] * len(phrase)
    word_object = []
    k = 0
    for rank, i in enumerate(order):
        if rank > 0:
            word_object.append(-1)
        n_words = len(("%s %s" % (objects[i]["region_caption"], objects[i]["location"])).split())
        word_object += [i] * n_words
        k += n_words
    refs = referring_expressions(objects, rng)
    ann = {"seed": seed, "width": w, "height": h, "background": background,
           "objects": objects, "caption": " ".join(caption_words), "caption_words": caption_words,
           "trace_boxes": trace, "trace_object": word_object, "referring": refs}
    for o, m in zip(objects, masks):
        o["mask"] = m
    return ann


def referring_expressions(objects, rng):
    """Every object gets the expressions (from short to long) that single it out among the scene's objects."""
    out = []
    for i, o in enumerate(objects):
        candidates = [("shape",), ("color", "shape"), ("size", "shape"), ("size", "color", "shape"),
                      ("shape", "location"), ("color", "shape", "location"), ("size", "color", "shape", "location")]
        found = []
        for keys in candidates:
            if not any(all(p[k] == o[k] for k in keys) for j, p in enumerate(objects) if j != i):
                words = ["the"] + [o[k] for k in keys if k != "location"]
                text = " ".join(words) + (" " + o["location"] if "location" in keys else "")
                found.append(text)
        for text in found[:3]:
            out.append({"object": i, "text": text, "box": list(o["box"])})
    return out


def rle(mask):
    """Row-major run lengths starting with a 0-run."""
    flat = mask.reshape(-1).astype(np.uint8)
    change = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    return np.diff(np.concatenate([[0], change])).tolist()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1000000)
    ap.add_argument("--max-shapes", type=int, default=4)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    scenes = []
    for k in range(a.count):
        seed = a.seed + k
        img, ann = make_scene(seed, a.max_shapes)
        name = "scene_%06d.png" % seed
        img.save(os.path.join(a.out, name))
        for o in ann["objects"]:
            o["mask_rle"] = rle(o.pop("mask"))
        ann["image"] = name
        scenes.append(ann)
    doc = {"format": "pixelllm-synthetic-scenes/1", "seed": a.seed, "count": a.count,
           "prompts": {"trace": TRACE_PROMPT, "loca": LOCA_PROMPT, "refer_prefix": REFER_PREFIX},
           "scenes": scenes}
    with open(os.path.join(a.out, "annotations.json"), "w") as f:
        json.dump(doc, f)


if __name__ == "__main__":
    main()
