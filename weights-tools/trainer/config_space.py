"""Random tiny PixelLLM configurations within what scenic's modules accept (google-research/scenic 4a38d475:
pixel_llm/modeling, baselines/segment_anything/modeling, t5), in the golden configs' keys.

Constraints and where they come from:
- backbones: depth >= 2 (both ViTs compute drop-path rates as i / (depth - 1): depth 1 divides by zero); EVA02 head
  dim % 4 == 0 (RoPE on head_dim / 2 with interleaved pairs); canvas any size (VALID patch convs floor, grids
  canvas // patch); pos tables resized when pretrain_img_size // patch (EVA02) or img_size // patch (SAM) differs.
- prompt encoder dim even (random-Fourier PE of dim / 2 frequencies); two-way transformers: 8 heads and downsample 2
  hard-coded, so dim % 16 == 0; mask adapter: transformer_dim = output_dim = prompt dim, 2 outputs (added to the two
  box-corner tokens); mask decoder: dim = prompt dim = SAM out_chans (no_mask_embed is added to the SAM map);
  mask adapter without input_projection needs T5 d_model = its dim.
- PromptAdaptor builds its prompt / PE projections only when input_embedding_dim != transformer_dim.
- T5: heads x head_dim need not equal d_model (t5_1_1_small: 6 x 64 vs 512); LoRA on any of q,k,v,o; relative
  buckets 32 / max distance 128 are hard-coded in scenic's T5 stacks (varied only with --beyond-scenic).
- GIT: position table >= max(L, Lc) (positions are sliced from it); FFN 4 x hidden hard-coded.
Leading-underscore keys are generator bookkeeping, stripped before the config is written.
"""

KINDS_OF = {"t5": ("loca", "trace", "refer", "referbeam"), "refseg": ("refseg", "refsegbeam"),
            "git": ("gitloca", "gittrace")}


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def _int(rng, lo, hi):
    return int(rng.integers(lo, hi + 1))


def _heads(rng, heads, head_dims, cap=64):
    h, hd = _pick(rng, heads), _pick(rng, head_dims)
    while h * hd > cap:
        h = max(1, h // 2)
        hd = hd if h * hd <= cap else min(head_dims)
    return h, hd


def draw_config(rng, family, beyond=False, avoid=()):
    """family: 't5', 'refseg' (T5 + mask branch) or 'git'; avoid: options to leave at the golden value
    (no_ln_post, box_points_lt2, dense_fuse) without changing the other draws."""
    pe, ps = _pick(rng, (8, 10, 12, 14, 16)), _pick(rng, (8, 12, 16))
    canvas = _int(rng, max(3 * max(pe, ps), 40), min(10 * min(pe, ps), 160))
    if rng.random() < 0.3 and (canvas // pe) * pe >= 3 * ps:
        canvas = (canvas // pe) * pe
    ge, gs = canvas // pe, canvas // ps
    depth_lo = 1 if beyond else 2
    eh, ehd = _heads(rng, (1, 2, 3, 4), (4, 8, 12, 16))
    t = ge if rng.random() < 0.3 else _int(rng, 2, 12)
    git = {"depth": _int(rng, depth_lo, 3), "embed_dim": eh * ehd, "mlp_ratio": _pick(rng, (8.0 / 3.0, 2.0, 3.0, 4.0)),
           "num_heads": eh, "patch_size": pe, "pretrain_img_size": t * pe + _int(rng, 0, pe - 1),
           "use_ln_post": bool(rng.random() < 0.8) or "no_ln_post" in avoid}
    sh, shd = _heads(rng, (1, 2, 4), (4, 6, 8, 12, 16))
    sdepth = _int(rng, depth_lo, 3)
    T = gs if rng.random() < 0.3 else _int(rng, 2, 14)
    refseg = family == "refseg"
    e = _pick(rng, (16, 32, 48)) if refseg else 2 * _int(rng, 4, 24)
    td = _pick(rng, (16, 32, 48))
    if rng.random() < 0.2:  # prompt dim = adapter dim: no projections (and a valid mask-branch dim: a multiple of 16)
        e = td
    sam = {"depth": sdepth, "embed_dim": sh * shd, "img_size": T * ps + _int(rng, 0, ps - 1),
           "mlp_ratio": _pick(rng, (4.0, 2.0, 3.0)), "num_heads": sh, "out_chans": e if refseg else _int(rng, 4, 40),
           "patch_size": ps, "window_block_indexes": [i for i in range(sdepth) if rng.random() < 0.5],
           "window_size": _int(rng, 2, 8)}
    adapter = {"attention_downsample_rate": 2, "depth": _int(rng, 1, 3), "input_embedding_dim": e,
               "mlp_dim": _int(rng, 16, 96), "num_heads": 8, "num_outputs": _int(rng, 1, 8),
               "output_dim": _int(rng, 8, 64), "transformer_dim": td}
    points = _pick(rng, (2, 2, 2, 1, 3))
    point = {"depth": _int(rng, 1, 4), "hidden_dim": _int(rng, 8, 48),
             "mlp_activation": "gelu" if rng.random() < 0.8 else "relu", "num_classes": 1 if rng.random() < 0.8 else 2,
             "num_output_points": points, "pre_norm": bool(rng.random() < 0.8)}
    length = _int(rng, 6, 16)
    per_side = _pick(rng, (2, 2, 2, 0, 1, 3))
    per_side = 2 if per_side < 2 and "box_points_lt2" in avoid else per_side
    cfg = {"begin_token_id": 0, "box_points_per_side": per_side, "canvas": canvas,
           "end_token_id": 1, "git": git, "max_caption_length": length, "name": "", "point_predictor": point,
           "prompt_adapter": adapter, "prompt_encoder": {"embed_dim": e},
           "prompt_fuse_fn": "dense" if rng.random() < 0.1 and "dense_fuse" not in avoid else "sparse",
           "prompt_use_box_rate": _pick(rng, (1.0, 1.0, 1.0, 1.0, 0.5, 0.0)), "sam": sam,
           "text_decoder_feature_key": "git_visual_features+sam_visual_features",
           "_context_len": _int(rng, 6, 12), "_refer_context_len": _int(rng, 4, 16),
           # beam / per-node of the beam kinds: scenic's (4/2 trace, 3/1 referring) or, in 30 %, drawn
           "_beams": (_int(rng, 1, 5), _int(rng, 1, 3)) if rng.random() < 0.3 else None}
    if family == "git":
        gh, ghd = _heads(rng, (1, 2, 4), (4, 8, 12, 16))
        cfg["git_text"] = {"hidden": gh * ghd, "num_heads": gh, "num_layers": _int(rng, 1, 3),
                           "position_table": max(length, cfg["_context_len"]) + _int(rng, 0, 8),
                           "vocab_size": 111 + _int(rng, 0, 30)}
        cfg.update({"pad_token_id": 0, "text_decoder_name": "git", "visual_project_layers_name": "none",
                    "_move_specials": bool(rng.random() < 0.6)})
        return cfg
    th, thd = _heads(rng, (1, 2, 3, 4, 6), (4, 6, 8, 12, 16))
    no_proj = refseg and rng.random() < 0.2
    rank = _pick(rng, (0, 1, 2, 4, 4, 8))
    cfg["t5"] = {"emb_dim": e if no_proj else _pick(rng, (16, 24, 32, 40, 48)), "head_dim": thd,
                 "lora_modules": _pick(rng, ("q,v", "q,v", "q", "v", "k", "o", "q,k,v,o", "k,v")) if rank else "q,v",
                 "lora_rank": rank, "lora_scale": _pick(rng, (0.5, 1.0, 2.0, 4.0)), "mlp_dim": _int(rng, 16, 96),
                 "num_decoder_layers": _int(rng, 1, 3), "num_encoder_layers": _int(rng, 1, 3), "num_heads": th,
                 "relpos_num_buckets": _pick(rng, (8, 16, 32, 64)) if beyond else 32,
                 "sp_pieces": 96, "vocab_size": 96 + _int(rng, 0, 40)}
    if rng.random() < 0.15:  # a vocabulary smaller than the golden tokenizer's: no padded ids, no tokenizer file
        cfg["t5"]["sp_pieces"] = cfg["t5"]["vocab_size"] = _int(rng, 40, 95)
    # t5x divides by log(max_distance / max_exact), max_exact = buckets / 2 in the causal stack: it must exceed that
    buckets = cfg["t5"]["relpos_num_buckets"]
    distances = [d for d in (16, 32, 64, 128, 256) if d > buckets // 2]
    cfg["t5"]["relpos_max_distance"] = _pick(rng, distances) if beyond else 128
    if refseg:
        cfg["mask_adapter"] = {"attention_downsample_rate": 2, "depth": _int(rng, 1, 3),
                               "gating": bool(rng.random() < 0.85),
                               "input_projection": not no_proj, "mlp_dim": _int(rng, 16, 96), "num_heads": 8,
                               "num_outputs": 2, "output_dim": e, "transformer_dim": e}
        cfg["mask_decoder"] = {"attention_downsample_rate": 2, "iou_head_depth": _int(rng, 1, 4),
                               "iou_head_hidden_dim": _int(rng, 8, 48), "num_heads": 8,
                               "num_multimask_outputs": _int(rng, 1, 4),
                               "transformer_depth": _pick(rng, (1, 2, 3)) if beyond else 2,
                               "transformer_dim": e, "transformer_mlp_dim": _int(rng, 16, 96)}
        cfg.update({"mask_decoder_feature_key": "sam_visual_features", "point_output_ignore": "^end-1",
                    "sam_preprocess_image_size": [canvas, canvas], "use_points_as_det": True})
    return cfg


def features(cfg):
    """What a config varies relative to the golden tiny configs, for the coverage report."""
    g, s, a, pp = cfg["git"], cfg["sam"], cfg["prompt_adapter"], cfg["point_predictor"]
    c = cfg["canvas"]
    ge, gs = c // g["patch_size"], c // s["patch_size"]
    f = ["canvas %d (EVA %d/p%d, SAM %d/p%d)" % (c, ge, g["patch_size"], gs, s["patch_size"]),
         "fuse: EVA grid %s SAM grid" % ("<" if ge < gs else "=" if ge == gs else ">")]
    f += ["canvas % EVA patch != 0"] if c % g["patch_size"] else []
    f += ["canvas % SAM patch != 0"] if c % s["patch_size"] else []
    t, T = g["pretrain_img_size"] // g["patch_size"], s["img_size"] // s["patch_size"]
    f.append("EVA pos %d->%d" % (t, ge) if t != ge else "EVA pos no resize")
    f.append("SAM pos %d->%d" % (T, gs) if T != gs else "SAM pos no resize")
    win = s["window_block_indexes"]
    f.append("SAM windowed blocks: %s" % ("none" if not win else "all" if len(win) == s["depth"] else "some"))
    if win:
        f.append("SAM window %d on grid %d%s" % (s["window_size"], gs, " (padded)" if gs % s["window_size"] else "") +
                 (" (window >= grid)" if s["window_size"] >= gs else ""))
    if len(win) < s["depth"] and T != gs:
        f.append("SAM global rel_pos %d->%d" % (2 * T - 1, 2 * gs - 1))
    f.append("EVA d%d x%d h%d mlp%.2f SAM d%d x%d h%d mlp%.1f neck %d" % (
        g["embed_dim"], g["depth"], g["num_heads"], g["mlp_ratio"], s["embed_dim"], s["depth"], s["num_heads"],
        s["mlp_ratio"], s["out_chans"]))
    f += ["EVA no ln_post"] if not g["use_ln_post"] else []
    f.append("adapter K%d td%d depth %d out %d" % (a["num_outputs"], a["transformer_dim"], a["depth"], a["output_dim"]))
    f += ["adapter without prompt/PE projections"] if a["input_embedding_dim"] == a["transformer_dim"] else []
    f += ["box_points_per_side %d" % cfg["box_points_per_side"]] if cfg["box_points_per_side"] != 2 else []
    f += ["prompt_use_box_rate %s" % cfg["prompt_use_box_rate"]] if cfg["prompt_use_box_rate"] != 1 else []
    f += ["prompt_fuse_fn dense"] if cfg["prompt_fuse_fn"] == "dense" else []
    f.append("point head depth %d hidden %d %s%s P%d C%d" % (pp["depth"], pp["hidden_dim"], pp["mlp_activation"],
                                                           "" if pp["pre_norm"] else " no-prenorm",
                                                           pp["num_output_points"], pp["num_classes"]))
    f.append("L %d" % cfg["max_caption_length"])
    f += ["beam %d / per-node %d" % tuple(cfg["_beams"])] if cfg.get("_beams") else []
    if "t5" in cfg:
        t5 = cfg["t5"]
        f.append("T5 d%d %dx%d ff%d enc%d dec%d vocab %d/%d pieces" % (
            t5["emb_dim"], t5["num_heads"], t5["head_dim"], t5["mlp_dim"], t5["num_encoder_layers"],
            t5["num_decoder_layers"], t5["vocab_size"], t5["sp_pieces"]))
        f += ["T5 heads x head_dim != d_model"] if t5["num_heads"] * t5["head_dim"] != t5["emb_dim"] else []
        lora = "LoRA r%d x%s on %s" % (t5["lora_rank"], t5["lora_scale"], t5["lora_modules"])
        f.append(lora if t5["lora_rank"] else "no LoRA")
        if (t5["relpos_num_buckets"], t5["relpos_max_distance"]) != (32, 128):
            f.append("BEYOND relpos %d/%d" % (t5["relpos_num_buckets"], t5["relpos_max_distance"]))
    if "git_text" in cfg:
        gt = cfg["git_text"]
        f.append("GIT d%d h%d layers %d table %d vocab %d" % (gt["hidden"], gt["num_heads"], gt["num_layers"],
                                                           gt["position_table"], gt["vocab_size"]))
        if cfg.get("_move_specials"):
            f.append("GIT special ids moved")
    if "mask_adapter" in cfg:
        ma, md = cfg["mask_adapter"], cfg["mask_decoder"]
        f.append("mask dim %d adapter depth %d multimask %d iou depth %d hidden %d" % (
            ma["transformer_dim"], ma["depth"], md["num_multimask_outputs"], md["iou_head_depth"],
            md["iou_head_hidden_dim"]))
        f += ["mask adapter no gating"] if not ma["gating"] else []
        f += ["mask adapter no input projection"] if not ma["input_projection"] else []
        f += ["BEYOND mask decoder depth %d" % md["transformer_depth"]] if md["transformer_depth"] != 2 else []
    if min(g["depth"], cfg["sam"]["depth"]) < 2:
        f.append("BEYOND backbone depth 1")
    return f
