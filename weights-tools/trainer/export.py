"""Exports a trained checkpoint for the engine:

  out/pixelllm-demo.scenic.safetensors  scenic parameter names, Flax layouts, LoRA unmerged, F32 (+ metadata)
  out/config.json                       model-dir manifest (briefs/modeldir.md), "model" = the scenic-style config
  out/scenic_config.json                {"config": …} for PixelLlm.Load(configPath, weightsPath, backend)
  out/pinned/demo_caption.*             golden-format case: greedy caption + trace points of the trainer's forward
  out/pinned/demo_referring.*           golden-format case: teacher-forced referring boxes (3 expressions)
  samples/*.png (repo root)             a few scenes at their eval size (fit the canvas; usable by the engine as is)

  /usr/bin/python3 export.py [--ckpt out/checkpoint.safetensors]
"""
import argparse
import copy
import json
import os
import shutil
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from data import Tokenizer, canvas_batch, collate, refer_prompt, scene_sample, trace_prompt  # noqa: E402
from infer import after_first_eos_to_zero, greedy, teacher  # noqa: E402
from model import PixelLLM  # noqa: E402
from params import DEMO_CONFIG  # noqa: E402
from scenes import REFER_PREFIX, make_scene  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WEIGHTS = "pixelllm-demo.scenic.safetensors"
SAMPLE_SEEDS = [2_000_001, 2_000_002, 2_000_003, 2_000_005]
TOLERANCE = {"rule": "|a - b| <= atol + rtol * |b| per element",
             "float_default": {"atol": 0.0001, "rtol": 0.0001},
             "point_coords_and_boxes_pixels": {"atol": 0.001, "rtol": 0.0},
             "tf_logits": {"atol": 0.0002, "rtol": 0.0001},
             "integers": "exact (token ids, valid masks)"}


def engine_config():
    cfg = copy.deepcopy(DEMO_CONFIG)
    cfg.pop("point_output_ignore", None)
    return cfg


def f32(t):
    return t.detach().numpy().astype(np.float32)


def common_case(model, sample, boxes, ctx, trace):
    pixels, mask, hw = canvas_batch([sample], model.cfg["canvas"])
    f = model.encode_image(pixels, mask)
    n = boxes.shape[0]
    idx = torch.zeros(n, dtype=torch.long)
    p = model.encode_prompts(f, idx, boxes, ctx)
    io = {"in.image": sample["pixels"].astype(np.uint8), "in.prompt_boxes": f32(boxes)[None],
          "in.context_tokens": ctx.numpy().astype(np.int32)[None],
          "mid.git_tokens": f32(f["git_tokens"]), "mid.sam_visual_features": f32(f["sam"]),
          "mid.fused_features": f32(f["fused"]), "mid.visual_features": f32(p["visual"])[None],
          "mid.encoder_output": f32(p["enc"])}
    return f, p, hw.expand(n, 2), io


def outputs(io, prefix, raw, r):
    io["out.%sraw_text_tokens" % prefix] = raw.numpy().astype(np.int32)[None]
    io["out.%stext_tokens" % prefix] = after_first_eos_to_zero(raw).numpy().astype(np.int32)[None]
    io["mid.%stext_feats" % prefix] = f32(r["feats"])[None]
    io["mid.%stf_logits" % prefix] = f32(r["logits"])[None]
    io["out.%spoint_coords" % prefix] = f32(r["coords"])[None]
    io["out.%spoint_logits" % prefix] = f32(r["point_logits"])[None]
    io["out.%spoint_valid_mask" % prefix] = r["valid"].numpy().astype(np.uint8)[None]
    io["out.%spoint_detection_boxes" % prefix] = f32(r["boxes"])[None]


def greedy_margin(model, enc, valid, tokens):
    """Smallest top1 − top2 log-prob gap over the steps greedy decoding really chose (up to the first EOS)."""
    _, logits = model.t5_decode(tokens, enc, valid)
    worst = float("inf")
    for i in range(tokens.shape[0]):
        for t in range(1, tokens.shape[1] - 1):
            step = logits[i, t - 1].clone()
            step[tokens[i, t - 1]] = min(float(step[tokens[i, t - 1]]), -10000.0)
            top = torch.log_softmax(step, -1).topk(2).values
            worst = min(worst, float(top[0] - top[1]))
            if tokens[i, t] == 1:
                break
    return worst


def write_case(out_dir, name, task, cfg, io, extra):
    st.write(os.path.join(out_dir, name + ".io.safetensors"), io, {"case": name})
    doc = {"component": "pixelllm", "task": task, "case": name, "set": "trainer-pinned", "config": cfg,
           "canvas": cfg["canvas"], "model_weights": "../" + WEIGHTS, "io_file": name + ".io.safetensors",
           "tolerance": TOLERANCE, "tensors": {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in io.items()}}
    doc.update(extra)
    with open(os.path.join(out_dir, name + ".json"), "w") as f:
        json.dump(doc, f, indent=1)


@torch.no_grad()
def pinned_cases(model, tok, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    cfg = model.cfg
    canvas, length = cfg["canvas"], cfg["max_caption_length"]
    grid = 4 * canvas // cfg["sam"]["patch_size"]
    img, ann = make_scene(SAMPLE_SEEDS[0])
    s = scene_sample(img, ann, canvas, grid)
    t = collate([trace_prompt(tok, s, 0)])
    f, p, hw, io = common_case(model, s, t["box"], t["ctx"], True)
    raw = greedy(model, p["enc"], p["enc_valid"], length)
    r = teacher(model, p["enc"], p["enc_valid"], after_first_eos_to_zero(raw), hw, "begin,end,pad")
    outputs(io, "", raw, r)
    margin = greedy_margin(model, p["enc"], p["enc_valid"], raw)
    write_case(out_dir, "demo_caption", "caption_trace", cfg, io, {
        "description": "Trainer-pinned: the demo model's own torch forward on a held-out scene. Prompt = global box of the "
                       "valid image, context 'A long image caption: ' + EOS (Lc 8), greedy decoding (spec 8.1), "
                       "teacher-forced rerun, point head, valid 'begin,end,pad'.",
        "decode_settings": {"main": "greedy"}, "image_seed": SAMPLE_SEEDS[0],
        "outputs_text": {"main": [tok.decode(raw[0, 1:].tolist())]}, "ground_truth_caption": ann["caption"],
        "margins": {"main": {"greedy_min_top1_top2_logprob_gap": margin}}})
    refs = ann["referring"][:3]
    rp = [refer_prompt(tok, s, 0, ref) for ref in refs]
    ctx = [q["ctx"] + [0] * (16 - len(q["ctx"])) for q in rp]
    t = collate(rp)
    gt = torch.zeros(len(rp), length, dtype=torch.long)
    gt[:, :t["tokens"].shape[1]] = t["tokens"]
    f, p, hw, io = common_case(model, s, t["box"], torch.tensor(ctx), False)
    io["in.gt_text_tokens"] = gt.numpy().astype(np.int32)[None]
    r = teacher(model, p["enc"], p["enc_valid"], gt, hw, "^end-1")
    outputs(io, "teacher.", gt, r)
    write_case(out_dir, "demo_referring", "referring", cfg, io, {
        "description": "Trainer-pinned referring localisation: prompt = global box per slot, context 'where is ' + expr + "
                       "EOS (Lc 16), decoder input [BOS, expr, EOS, 0…] (teacher), box = the two points at the position "
                       "whose next token is EOS ('^end-1').",
        "decode_settings": {"teacher": "teacher forced on gt_text_tokens"}, "image_seed": SAMPLE_SEEDS[0],
        "prompts": [REFER_PREFIX + q["text"] for q in refs], "gt_boxes": [list(map(float, q["gt_box"])) for q in rp]})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=os.path.join(HERE, "out", "checkpoint.safetensors"))
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--samples", default=os.path.join(HERE, "..", "..", "samples"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    weights, meta = st.read(a.ckpt)
    cfg = engine_config()
    meta = {k: v for k, v in meta.items() if k != "config"}
    st.write(os.path.join(a.out, WEIGHTS), weights, {"config": json.dumps(cfg), "format": "scenic Flax parameter paths "
             "joined with '/', Flax layouts, LoRA unmerged", **meta})
    manifest = {"format": "pixelllm-native/1", "name": "pixelllm-demo", "model": cfg, "dtype": "f32",
                "weights": [WEIGHTS], "weights_naming": "scenic (convert with ./pixelllm convert --from scenic)",
                "tokenizer": {"kind": "sentencepiece", "file": "spiece.model"}}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    with open(os.path.join(a.out, "scenic_config.json"), "w") as f:
        json.dump({"config": cfg}, f, indent=1)
    model = PixelLLM(cfg, weights)
    tok = Tokenizer(os.path.join(a.out, "spiece.model"))
    pinned_cases(model, tok, os.path.join(a.out, "pinned"))
    os.makedirs(a.samples, exist_ok=True)
    grid = 4 * cfg["canvas"] // cfg["sam"]["patch_size"]
    for seed in SAMPLE_SEEDS:
        img, ann = make_scene(seed, max_shapes=3)
        s = scene_sample(img, ann, cfg["canvas"], grid)
        Image.fromarray(s["pixels"]).save(os.path.join(a.samples, "scene_%d.png" % seed))
    print("exported", a.ckpt, "->", a.out)


if __name__ == "__main__":
    main()
