"""Trains the demo PixelLLM on synthetic scenes (CPU, 2 threads) with the paper's loss: label-smoothed CE on the
text + λ·L1 on points (λ = 0.1, canvas pixels) + BCE/dice on the refseg mask logits. Task mix per image: caption+trace
(global box), 2 referring expressions (box read at the EOS-1 position), 2 location-conditioned captions, and the mask
branch on the referring prompts. The learning-rate schedule runs on WALL TIME (--minutes), so a run ends on time.

  /usr/bin/python3 train.py --out out --minutes 45 --seed 0
Writes out/checkpoint.safetensors (scenic names) every --save-every steps and at the end, plus out/train_log.jsonl.
"""
import argparse
import json
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F

import st
import aux
from data import Tokenizer, canvas_batch, collate, loca_prompt, refer_prompt, scene_sample, trace_prompt
from model import PixelLLM
from params import DEMO_CONFIG, init_params
from scenes import make_scene
from eval import evaluate

TRAIN_SEED_BASE = 0  # training scenes use seeds >= 0 in steps of the batch; eval sets use seeds >= 10**6


class Batches(torch.utils.data.IterableDataset):
    def __init__(self, cfg, spiece, batch, seed, shape_mix=(4,), easy_mix=(1, 2), easy_minutes=0.0):
        self.cfg, self.spiece, self.batch, self.seed, self.shape_mix = cfg, spiece, batch, seed, shape_mix
        self.easy_mix, self.easy_seconds = easy_mix, easy_minutes * 60  # curriculum: few shapes first

    def __iter__(self):
        torch.set_num_threads(1)
        tok = Tokenizer(self.spiece)
        canvas = self.cfg["canvas"]
        grid = 4 * canvas // self.cfg["sam"]["patch_size"]
        rng = random.Random(self.seed)
        k = 0
        start = time.time()
        while True:
            samples = []
            mix = self.easy_mix if time.time() - start < self.easy_seconds else self.shape_mix
            for _ in range(self.batch):
                img, ann = make_scene(self.seed * 10_000_000 + k, rng.choice(mix))
                k += 1
                samples.append(scene_sample(img, ann, canvas, grid))
            yield build_batch(tok, samples, canvas, rng, canvas // min(self.cfg["git"]["patch_size"], self.cfg["sam"]["patch_size"]),
                              self.cfg["max_caption_length"])


def build_batch(tok, samples, canvas, rng, dense_grid=8, text_length=None):
    """dense_grid: the fused backbone grid (canvas / patch size) the dense head's targets are pooled to; text_length: pad
    the teacher-forced trace and referring rows to it, as inference does (see data.collate)."""
    trace, refer, loca = [], [], []
    for i, s in enumerate(samples):
        trace.append(trace_prompt(tok, s, i))
        refs = s["ann"]["referring"]
        for ref in rng.sample(refs, min(2, len(refs))):
            refer.append(refer_prompt(tok, s, i, ref))
        objs = list(range(len(s["ann"]["objects"])))
        for o in rng.sample(objs, min(2, len(objs))):
            loca.append(loca_prompt(tok, s, i, o))
    pixels, mask, hw = canvas_batch(samples, canvas)
    r = collate(refer, text_length)
    # mask branch input: the referred object's box, jittered (the engine feeds the predicted box)
    boxes = torch.tensor(np.stack([p["gt_box"] for p in refer]), dtype=torch.float32)
    size = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)
    r["mask_box"] = boxes + size * 0.08 * torch.randn(boxes.shape)
    r["mask_target"] = torch.from_numpy(np.stack([samples[p["img"]]["masks"][p["object"]] for p in refer]))
    return {"pixels": pixels, "mask": mask, "hw": hw, "trace": collate(trace, text_length), "refer": r, "loca": collate(loca),
            "dense": aux.dense_targets(samples, canvas, dense_grid), "global": aux.adapter_targets(samples, canvas),
            "loca_attrs": aux.object_attrs(samples, loca)}


def text_loss(logits, tokens, smoothing=0.1):
    target = torch.cat([tokens[:, 1:], torch.zeros_like(tokens[:, :1])], 1)
    valid = (target > 0).float()
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="none",
                         label_smoothing=smoothing).view_as(valid)
    pred = logits.argmax(-1)
    acc = ((pred == target).float() * valid).sum() / valid.sum()
    return (ce * valid).sum() / valid.sum(), acc


def point_loss(coords, target, valid):
    """L1 between the two predicted corners and the target box corners, canvas pixels, mean over valid positions."""
    pred = coords.reshape(*coords.shape[:2], 4)
    l1 = (pred - target).abs().sum(-1)
    return (l1 * valid).sum() / valid.sum().clamp(min=1)


def mask_loss(logits, target):
    bce = F.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1)
    dice = 1 - (2 * (p * t).sum(1) + 1) / (p.sum(1) + t.sum(1) + 1)
    return bce + dice.mean()


def forward_losses(model, b, point_weight=0.1, tasks=("trace", "refer", "loca"), head=None, aux_weight=1.0, ahead=None,
                   isolate_mask=False):
    feats = model.encode_image(b["pixels"], b["mask"])
    out = {}
    total = 0
    if head is not None and aux_weight > 0:
        dl, parts = aux.dense_loss(head, feats["fused"], b["dense"])
        out.update(parts)
        total = total + aux_weight * dl
    for task in tasks:
        if task == "aux":
            continue
        t = b[task]
        p = model.encode_prompts(feats, t["img"], t["box"], t["ctx"])
        if ahead is not None and aux_weight > 0 and task in ("trace", "loca"):
            if task == "trace":  # one whole-image prompt per image, in image order
                al, parts = ahead.global_loss(p["adapter_out"], {k: v[t["img"]] for k, v in b["global"].items()})
            else:
                al, parts = ahead.box_loss(p["adapter_out"], b["loca_attrs"])
            out.update(parts)
            total = total + aux_weight * al
        text_feats, logits = model.t5_decode(t["tokens"], p["enc"], p["enc_valid"])
        ce, acc = text_loss(logits, t["tokens"])
        out[task + "_ce"], out[task + "_acc"] = ce.item(), acc.item()
        total = total + ce
        if task != "loca":
            coords, _ = model.point_head(text_feats, b["hw"][t["img"]])
            pl = point_loss(coords, t["pt_target"], t["pt_valid"])
            out[task + "_l1"] = pl.item()
            total = total + point_weight * pl
        if task == "refer":
            if isolate_mask:  # the mask branch's gradients (norm ~1e4 from init) stay out of the shared model
                m = model.mask_branch(t["mask_box"], p["visual"].detach(), text_feats.detach(), feats["sam"].detach(), t["img"])
            else:
                m = model.mask_branch(t["mask_box"], p["visual"], text_feats, feats["sam"], t["img"])
            ml = mask_loss(m["masks"], t["mask_target"])
            out["mask"] = ml.item()
            total = total + ml
    out["total"] = total.item()
    return total, out


def save(model, cfg, path, meta):
    st.write(path + ".tmp", model.export(), {"config": json.dumps(cfg), **meta})
    os.replace(path + ".tmp", path)


def save_heads(head, head_path, ahead, ahead_path):
    """The training-only heads (aux.py), kept beside the checkpoint for --resume; never exported."""
    st.write(head_path, {k: v.detach().numpy() for k, v in head.state_dict().items()}, {})
    st.write(ahead_path, {k: v.detach().numpy() for k, v in ahead.state_dict().items()}, {})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="out")
    ap.add_argument("--minutes", type=float, default=45)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--save-every", type=int, default=50)
    ap.add_argument("--resume", default=None)
    ap.add_argument("--shape-mix", default="4", help="max shape counts drawn uniformly per scene, e.g. 1,2,3,4,4")
    ap.add_argument("--tasks", default="trace,refer,loca", help="subset of trace,refer,loca (refer includes the mask branch)")
    ap.add_argument("--world", type=int, default=1, help="data-parallel processes (gloo all-reduce of gradients)")
    ap.add_argument("--rank", type=int, default=0)
    ap.add_argument("--port", type=int, default=29533)
    ap.add_argument("--threads", type=int, default=1)  # 1 beats 2 by 5x on the shared, oversubscribed 2-core box
    ap.add_argument("--easy-mix", default="1,2", help="shape counts during the first --easy-minutes (curriculum)")
    ap.add_argument("--easy-minutes", type=float, default=0.0)
    ap.add_argument("--aux-weight", type=float, default=1.0, help="dense per-patch head loss (training only, not exported)")
    ap.add_argument("--vision-lr-mult", type=float, default=1.0, help="lr multiplier: prompt encoder/adapter, visual projection")
    ap.add_argument("--reinit", default="", help="comma-separated parameter-name prefixes re-initialised after --resume")
    ap.add_argument("--isolate-mask", type=int, default=1, help="mask loss trains only the mask adapter/decoder")
    ap.add_argument("--adapter-aux", type=int, default=1, help="adapter-token head (aux.AdapterHead) on/off")
    ap.add_argument("--freeze-backbone-minutes", type=float, default=0.0, help="backbones get lr 0 at first")
    ap.add_argument("--probe", default=None, help="scenes dir (scenes.py) for the grounding probe on rank 0")
    ap.add_argument("--probe-every", type=int, default=100)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    if a.world > 1:
        torch.distributed.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % a.port, rank=a.rank,
                                             world_size=a.world)
    lead = a.rank == 0
    os.makedirs(a.out, exist_ok=True)
    cfg = DEMO_CONFIG
    spiece = os.path.join(a.out, "spiece.model")
    params = st.read(a.resume)[0] if a.resume else init_params(cfg, a.seed)
    if a.reinit:  # fresh training init for these modules (e.g. a collapsed mask decoder)
        fresh = init_params(cfg, a.seed)
        for name in params:
            if name.startswith(tuple(a.reinit.split(","))):
                params[name] = fresh[name]
    model = PixelLLM(cfg, params)
    head = aux.DenseHead(cfg["git"]["embed_dim"] + cfg["sam"]["out_chans"], a.seed)
    ahead = aux.AdapterHead(cfg["prompt_adapter"]["num_outputs"], cfg["prompt_adapter"]["output_dim"], a.seed)
    head_path = os.path.join(a.out, "dense_head.safetensors")
    ahead_path = os.path.join(a.out, "adapter_head.safetensors")
    if a.resume and os.path.exists(head_path):
        head.load_state_dict({k: torch.from_numpy(v) for k, v in st.read(head_path)[0].items()})
    if a.resume and os.path.exists(ahead_path):
        ahead.load_state_dict({k: torch.from_numpy(v) for k, v in st.read(ahead_path)[0].items()})
    backbones = ("git_backbone", "sam_backbone")
    prompt = ("prompt_encoder", "prompt_adapter", "visual_project_layers")
    groups = []
    for kind in ("text", "prompt", "backbone"):
        named = [(n, p) for n, p in model.P.items()
                 if (n.startswith(backbones) and kind == "backbone") or (n.startswith(prompt) and kind == "prompt")
                 or (not n.startswith(backbones + prompt) and kind == "text")]
        if kind == "prompt":
            named += [("aux/" + n, p) for n, p in list(head.named_parameters()) + list(ahead.named_parameters())]
        mult = a.vision_lr_mult if kind == "prompt" else 1.0
        for decay in (True, False):
            groups.append({"params": [p for n, p in named if n.endswith("kernel") == decay], "weight_decay": 0.01 if decay else 0.0,
                           "mult": mult, "backbone": kind == "backbone"})
    opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.98))
    loader = torch.utils.data.DataLoader(Batches(cfg, spiece, a.batch, a.seed * 100 + a.rank,
                                                 tuple(int(x) for x in a.shape_mix.split(",")),
                                                 tuple(int(x) for x in a.easy_mix.split(",")), a.easy_minutes),
                                         batch_size=None, num_workers=1, prefetch_factor=4)
    tok = Tokenizer(spiece)
    log = open(os.path.join(a.out, "train_log.jsonl" if lead else "train_log.rank%d.jsonl" % a.rank), "a")
    plist = list(model.P.values()) + list(head.parameters()) + list(ahead.parameters())
    mask_params = [p for n, p in model.P.items() if n.startswith(("mask_adapter", "mask_decoder"))]
    shared_params = [p for p in plist if all(p is not q for q in mask_params)]
    start = time.time()
    budget = a.minutes * 60
    ckpt = os.path.join(a.out, "checkpoint.safetensors")
    step = 0
    for batch in loader:
        elapsed = time.time() - start
        frac = min(1.0, elapsed / budget)
        lr = a.lr * min(1.0, (step + 1) / a.warmup) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * frac)))
        frozen = elapsed < a.freeze_backbone_minutes * 60  # pretrained features stay put while the rest catches up
        for g in opt.param_groups:
            g["lr"] = 0.0 if frozen and g["backbone"] else lr * g["mult"]
        loss, info = forward_losses(model, batch, tasks=tuple(a.tasks.split(",")), head=head, aux_weight=a.aux_weight,
                                    ahead=ahead if a.adapter_aux else None, isolate_mask=bool(a.isolate_mask))
        opt.zero_grad()
        loss.backward()
        if a.world > 1:
            flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in plist])
            torch.distributed.all_reduce(flat)
            flat /= a.world
            k = 0
            for p in plist:
                p.grad = flat[k:k + p.numel()].view_as(p).clone()
                k += p.numel()
        if a.isolate_mask:  # clipped on its own, so its gradient spikes do not scale the rest's step away
            torch.nn.utils.clip_grad_norm_(mask_params, 1.0)
            torch.nn.utils.clip_grad_norm_(shared_params, 1.0)
        else:
            torch.nn.utils.clip_grad_norm_(plist, 1.0)
        opt.step()
        step += 1
        info.update(step=step, lr=lr, elapsed=round(time.time() - start, 1))
        log.write(json.dumps(info) + "\n")
        log.flush()
        if lead and step % a.save_every == 0:
            save(model, cfg, ckpt, {"step": step, "seed": a.seed})
            save_heads(head, head_path, ahead, ahead_path)
        if lead and a.probe and step % a.probe_every == 0:
            t0 = time.time()
            with torch.no_grad():
                res = evaluate(model, tok, a.probe, captions=False)
            probe = {k: round(res[k], 3) for k in ("loca_acc", "refer_hit", "trace_box_hit", "trace_hit", "mask_iou")}
            probe.update(probe_step=step, probe_seconds=round(time.time() - t0, 1), elapsed=round(time.time() - start))
            log.write(json.dumps(probe) + "\n")
            print(json.dumps(probe), flush=True)
        if a.world > 1:  # every rank stops at the same step
            stop = torch.tensor([1.0 if elapsed >= budget else 0.0])
            torch.distributed.all_reduce(stop)
            if stop.item() > 0:
                break
        elif elapsed >= budget:
            break
    if not lead:
        return
    save(model, cfg, ckpt, {"step": step, "seed": a.seed, "wall_seconds": round(time.time() - start)})
    save_heads(head, head_path, ahead, ahead_path)
    log.write(json.dumps({"done": True, "step": step, "wall_seconds": round(time.time() - start)}) + "\n")
    log.close()


if __name__ == "__main__":
    main()
