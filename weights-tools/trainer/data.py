"""Scenes → model inputs: the eval-size image on the canvas (spec §3.1 resize_shorter, bilinear without antialias,
half-pixel centres), token ids, prompt boxes, point targets and mask targets, for the four tasks."""
import math

import numpy as np
import torch
import torch.nn.functional as F

from scenes import LOCA_PROMPT, REFER_PREFIX, TRACE_PROMPT

TRACE_CONTEXT_LEN = 8


def eval_size(h, w, canvas):
    """scenic resize_shorter(canvas, max_size=canvas) (2024 rounding, errata A1/A2): (new_h, new_w)."""
    short, long = min(h, w), max(h, w)
    s = math.floor(canvas * short / long)
    if short == s:
        return h, w
    new_long = int(s * long / short)
    return (s, new_long) if h <= w else (new_long, s)


def resize_image(image, h, w):
    """uint8 (H, W, 3) → uint8 (h, w, 3), bilinear, no antialias, half-pixel (= tf.image.resize bilinear)."""
    if image.shape[:2] == (h, w):
        return image
    t = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    out = F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)
    return out[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


class Tokenizer:
    def __init__(self, path):
        # imported here, so the image helpers above work on a python without sentencepiece (Debian's torch)
        import sentencepiece as spm
        self.sp = spm.SentencePieceProcessor(model_file=path)

    def ids(self, text):
        return self.sp.encode(text)

    def context(self, text, length):
        ids = (self.ids(text) + [1])[:length]
        return ids + [0] * (length - len(ids))

    def words(self, words):
        """One piece per grammar word (the tokenizer is built that way); asserts it."""
        ids = self.ids(" ".join(words))
        assert len(ids) == len(words), (words, ids)
        return ids

    def decode(self, ids):
        out = []
        for i in ids:
            if i == 1:
                break
            if i > 2 and i < self.sp.get_piece_size():
                out.append(int(i))
        return self.sp.decode(out)


def scene_sample(img, ann, canvas, mask_grid):
    """PIL image + scene annotation → dict of canvas-space arrays (boxes in canvas pixels)."""
    arr = np.asarray(img, dtype=np.uint8)
    h0, w0 = arr.shape[:2]
    h, w = eval_size(h0, w0, canvas)
    pixels = resize_image(arr, h, w)
    sx, sy = w / w0, h / h0
    scale = np.array([sx, sy, sx, sy], np.float32)
    masks = []
    for o in ann["objects"]:
        m = torch.from_numpy(o["mask"].astype(np.float32))[None, None]
        m = F.interpolate(m, size=(h, w), mode="bilinear", align_corners=False)[0, 0]
        full = torch.zeros(canvas, canvas)
        full[:h, :w] = m
        masks.append(F.adaptive_avg_pool2d(full[None, None], mask_grid)[0, 0].numpy())
    return {"pixels": pixels, "h": h, "w": w,
            "boxes": [np.array(o["box"], np.float32) * scale for o in ann["objects"]],
            "trace": [np.array(b, np.float32) * scale for b in ann["trace_boxes"]],
            "masks": masks, "ann": ann}


def canvas_batch(samples, canvas):
    b = len(samples)
    pixels = np.zeros((b, canvas, canvas, 3), np.float32)
    mask = np.zeros((b, canvas, canvas, 1), np.float32)
    hw = np.zeros((b, 2), np.float32)
    for i, s in enumerate(samples):
        pixels[i, :s["h"], :s["w"]] = s["pixels"]
        mask[i, :s["h"], :s["w"]] = 1
        hw[i] = (s["h"], s["w"])
    return torch.from_numpy(pixels), torch.from_numpy(mask), torch.from_numpy(hw)


def pad_rows(rows, value=0, width=0):
    n = max([len(r) for r in rows] + [width])
    return torch.tensor([r + [value] * (n - len(r)) for r in rows], dtype=torch.long)


def trace_prompt(tok, s, img_index):
    words = s["ann"]["caption_words"]
    ids = tok.words(words)
    targets = [np.zeros(4, np.float32)] + [b for b in s["trace"]] + [np.zeros(4, np.float32)]
    valid = [0] + [1] * len(ids) + [0]
    return {"img": img_index, "box": [0, 0, s["w"], s["h"]], "ctx": tok.context(TRACE_PROMPT, TRACE_CONTEXT_LEN),
            "tokens": [0] + ids + [1], "pt_target": targets, "pt_valid": valid}


def refer_prompt(tok, s, img_index, ref):
    ids = tok.words(ref["text"].split())
    n = len(ids)
    box = s["boxes"][ref["object"]]
    targets = [np.zeros(4, np.float32)] * (n + 2)
    targets[n] = box
    valid = [0] * (n + 2)
    valid[n] = 1
    ctx_ids = tok.ids(REFER_PREFIX + ref["text"]) + [1]
    return {"img": img_index, "box": [0, 0, s["w"], s["h"]], "ctx": ctx_ids, "tokens": [0] + ids + [1],
            "pt_target": targets, "pt_valid": valid, "object": ref["object"], "gt_box": box}


def loca_prompt(tok, s, img_index, obj):
    o = s["ann"]["objects"][obj]
    ids = tok.words(o["region_caption"].split())
    return {"img": img_index, "box": list(map(float, s["boxes"][obj])), "ctx": tok.context(LOCA_PROMPT, 8),
            "tokens": [0] + ids + [1], "pt_target": [np.zeros(4, np.float32)] * (len(ids) + 2),
            "pt_valid": [0] * (len(ids) + 2), "object": obj}


def collate(prompts, length=None):
    """List of prompt dicts → tensors (tokens padded with 0 to the longest row, or to `length` as the engine and scenic
    pad them: with t5x masks the padding decides whether a row's EOS key is visible, so training must pad as inference
    does; contexts padded with 0)."""
    length = max([len(p["tokens"]) for p in prompts] + [length or 0])
    out = {"img": torch.tensor([p["img"] for p in prompts], dtype=torch.long),
           "box": torch.tensor([p["box"] for p in prompts], dtype=torch.float32),
           "ctx": pad_rows([p["ctx"] for p in prompts]),
           "tokens": pad_rows([p["tokens"] for p in prompts], width=length)}
    tgt = np.zeros((len(prompts), length, 4), np.float32)
    val = np.zeros((len(prompts), length), np.float32)
    for i, p in enumerate(prompts):
        tgt[i, :len(p["pt_target"])] = np.stack(p["pt_target"])
        val[i, :len(p["pt_valid"])] = p["pt_valid"]
    out["pt_target"] = torch.from_numpy(tgt)
    out["pt_valid"] = torch.from_numpy(val)
    return out
