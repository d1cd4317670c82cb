"""Scenes drawn DIFFERENTLY from the training scenes (scenes.py), for the robustness evaluation: anti-aliased
shapes (drawn at 4× and downsampled with a Lanczos filter), plain backgrounds of any light or dark colour (not
only grey), wider size ranges (small 13–25 %, large 29–46 % of the short side), other shades of the four colours,
1–3 shapes that never overlap, image sizes 200–480 px. Same annotations.json schema as scenes.py, so eval.py and
the engine's eval command read it unchanged.

  /usr/bin/python3 scenes_alt.py --out DIR --count N --seed S
"""
import argparse
import json
import os
import random

import numpy as np
from PIL import Image, ImageDraw

from scenes import LOCA_PROMPT, REFER_PREFIX, SHAPES, SIZES, TRACE_PROMPT, annotate, box_iou, rle, shape_polygon

# other shades than scenes.COLORS: the words stay the same, the RGB values do not
SHADES = {"red": [(200, 30, 30), (240, 60, 50), (180, 20, 40)], "green": [(30, 150, 50), (70, 190, 80), (20, 120, 40)],
          "blue": [(30, 60, 200), (60, 110, 240), (20, 40, 160)], "yellow": [(250, 220, 30), (230, 200, 60), (255, 235, 80)]}
SUPER = 4


def draw_aa(img_size, objects, background):
    """Draws at SUPER× and downsamples (anti-aliased edges); masks = the downsampled coverage of each visible part > 0.5."""
    w, h = img_size
    big = Image.new("RGB", (w * SUPER, h * SUPER), background)
    draw = ImageDraw.Draw(big)
    ids = Image.new("L", (w * SUPER, h * SUPER), 0)  # which object owns each super-pixel (later ones on top)
    idraw = ImageDraw.Draw(ids)
    for k, o in enumerate(objects):
        box = [c * SUPER for c in o["box"]]
        for d, value in ((draw, o["rgb"]), (idraw, k + 1)):
            if o["shape"] == "circle":
                d.ellipse(box, fill=value)
            elif o["shape"] == "square":
                d.rectangle(box, fill=value)
            else:
                d.polygon(shape_polygon("triangle", box), fill=value)
    img = big.resize((w, h), Image.LANCZOS)
    owner = np.array(ids)
    masks = []
    for k in range(len(objects)):
        cover = (owner == k + 1).reshape(h, SUPER, w, SUPER).mean((1, 3))
        masks.append(cover > 0.5)
    return img, masks


def make_alt_scene(seed, max_shapes=3):
    rng = random.Random(seed)
    w, h = rng.randint(200, 480), rng.randint(200, 480)
    while abs(w - h) < 16:
        h = rng.randint(200, 480)
    light = rng.random() < 0.6
    background = tuple(rng.randint(190, 250) if light else rng.randint(20, 80) for _ in range(3))
    n = rng.randint(1, max_shapes)
    short = min(w, h)
    objects = []
    tries = 0
    while len(objects) < n and tries < 200:
        tries += 1
        size = rng.choice(SIZES)
        side = round(short * (rng.uniform(0.13, 0.25) if size == "small" else rng.uniform(0.29, 0.46)))
        x0, y0 = round(rng.uniform(2, w - side - 2)), round(rng.uniform(2, h - side - 2))
        box = [x0, y0, x0 + side, y0 + side]
        if any(box_iou(box, o["box"]) > 0 for o in objects):
            continue
        kind, color = rng.choice(SHAPES), rng.choice(sorted(SHADES))
        if any(o["shape"] == kind and o["color"] == color and o["size"] == size for o in objects):
            continue
        objects.append({"shape": kind, "color": color, "size": size, "box": box, "rgb": rng.choice(SHADES[color])})
    img, masks = draw_aa((w, h), objects, background)
    for o in objects:
        del o["rgb"]
    return img, annotate(objects, masks, w, h, rng, seed, "plain")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--seed", type=int, default=3000000)
    ap.add_argument("--max-shapes", type=int, default=3)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    scenes = []
    for k in range(a.count):
        seed = a.seed + k
        img, ann = make_alt_scene(seed, a.max_shapes)
        name = "alt_%06d.png" % seed
        img.save(os.path.join(a.out, name))
        for o in ann["objects"]:
            o["mask_rle"] = rle(o.pop("mask"))
        ann["image"] = name
        scenes.append(ann)
    doc = {"format": "pixelllm-synthetic-scenes/1", "seed": a.seed, "count": a.count,
           "prompts": {"trace": TRACE_PROMPT, "loca": LOCA_PROMPT, "refer_prefix": REFER_PREFIX}, "scenes": scenes}
    with open(os.path.join(a.out, "annotations.json"), "w") as f:
        json.dump(doc, f)


if __name__ == "__main__":
    main()
