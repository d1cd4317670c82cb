"""The demo model's scenic-style config and its parameter list (scenic names, Flax shapes), with the training init.
`param_shapes(golden refseg config)` reproduces the golden tiny_t5_refseg name/shape list exactly (checked by
check_golden.py --shapes); it also covers the GIT head and the modules scenic builds only for some options (ln_post,
adapter projections, LoRA on k/o, point-head pre-norm, mask gate / input projection), equal to all three golden lists."""
import math

import numpy as np
import torch

DEMO_CONFIG = {
    "name": "pixelllm-demo",
    "canvas": 128,
    "begin_token_id": 0,
    "end_token_id": 1,
    "box_points_per_side": 2,
    "max_caption_length": 40,
    "git": {"depth": 2, "embed_dim": 64, "mlp_ratio": 8.0 / 3.0, "num_heads": 2, "patch_size": 16,
            "pretrain_img_size": 128, "use_ln_post": True},
    "sam": {"depth": 2, "embed_dim": 64, "img_size": 128, "mlp_ratio": 4.0, "num_heads": 2, "out_chans": 32,
            "patch_size": 16, "window_block_indexes": [0], "window_size": 4},
    "prompt_encoder": {"embed_dim": 32},
    "prompt_adapter": {"attention_downsample_rate": 2, "depth": 2, "input_embedding_dim": 32, "mlp_dim": 128,
                       "num_heads": 8, "num_outputs": 8, "output_dim": 64, "transformer_dim": 64},
    "prompt_fuse_fn": "sparse",
    "prompt_use_box_rate": 1.0,
    "t5": {"emb_dim": 64, "head_dim": 16, "lora_modules": "q,v", "lora_rank": 4, "lora_scale": 2.0, "mlp_dim": 128,
           "num_decoder_layers": 2, "num_encoder_layers": 2, "num_heads": 4, "relpos_max_distance": 128,
           "relpos_num_buckets": 32, "sp_pieces": 57, "vocab_size": 64},
    "point_predictor": {"depth": 4, "hidden_dim": 64, "mlp_activation": "gelu", "num_classes": 1,
                        "num_output_points": 2, "pre_norm": True},
    "mask_adapter": {"attention_downsample_rate": 2, "depth": 2, "gating": True, "input_projection": True,
                     "mlp_dim": 64, "num_heads": 8, "num_outputs": 2, "output_dim": 32, "transformer_dim": 32},
    "mask_decoder": {"attention_downsample_rate": 2, "iou_head_depth": 3, "iou_head_hidden_dim": 32, "num_heads": 8,
                     "num_multimask_outputs": 3, "transformer_depth": 2, "transformer_dim": 32,
                     "transformer_mlp_dim": 64},
    "mask_decoder_feature_key": "sam_visual_features",
    "sam_preprocess_image_size": [128, 128],
    "text_decoder_feature_key": "git_visual_features+sam_visual_features",
    "use_points_as_det": True,
}


def _two_way(out, prefix, dim, depth, mlp, rate=2):
    inner = dim // rate

    def attn(name, internal):
        for p in ("q_proj", "k_proj", "v_proj"):
            out["%s/%s/kernel" % (name, p)] = (dim, internal)
            out["%s/%s/bias" % (name, p)] = (internal,)
        out["%s/out_proj/kernel" % name] = (internal, dim)
        out["%s/out_proj/bias" % name] = (dim,)

    def norm(name):
        out[name + "/scale"] = (dim,)
        out[name + "/bias"] = (dim,)

    for i in range(depth):
        lp = "%s/layers.%d" % (prefix, i)
        attn(lp + "/self_attn", dim)
        norm(lp + "/norm1")
        attn(lp + "/cross_attn_token_to_image", inner)
        norm(lp + "/norm2")
        out[lp + "/mlp/lin1/kernel"] = (dim, mlp)
        out[lp + "/mlp/lin1/bias"] = (mlp,)
        out[lp + "/mlp/lin2/kernel"] = (mlp, dim)
        out[lp + "/mlp/lin2/bias"] = (dim,)
        norm(lp + "/norm3")
        norm(lp + "/norm4")
        attn(lp + "/cross_attn_image_to_token", inner)
    attn(prefix + "/final_attn_token_to_image", inner)
    norm(prefix + "/norm_final_attn")


def param_shapes(cfg):
    """Ordered dict name -> shape, in the golden files' order."""
    out = {}
    g, s, a, t5 = cfg["git"], cfg["sam"], cfg["prompt_adapter"], cfg.get("t5")
    d, p = g["embed_dim"], g["patch_size"]
    hidden = int(d * g["mlp_ratio"])
    grid = g["pretrain_img_size"] // p
    out["git_backbone/patch_embed.proj/kernel"] = (p, p, 3, d)
    out["git_backbone/patch_embed.proj/bias"] = (d,)
    out["git_backbone/cls_token"] = (1, 1, d)
    out["git_backbone/pos_embed"] = (1, grid * grid + 1, d)
    for i in range(g["depth"]):
        bp = "git_backbone/blocks.%d" % i
        out[bp + "/norm1/scale"] = (d,)
        out[bp + "/norm1/bias"] = (d,)
        for n in ("q_proj", "k_proj", "v_proj"):
            out[bp + "/attn/%s/kernel" % n] = (d, d)
        out[bp + "/attn/q_bias"] = (d,)
        out[bp + "/attn/v_bias"] = (d,)
        out[bp + "/attn/proj/kernel"] = (d, d)
        out[bp + "/attn/proj/bias"] = (d,)
        out[bp + "/norm2/scale"] = (d,)
        out[bp + "/norm2/bias"] = (d,)
        out[bp + "/mlp/w1/kernel"] = (d, hidden)
        out[bp + "/mlp/w1/bias"] = (hidden,)
        out[bp + "/mlp/w2/kernel"] = (d, hidden)
        out[bp + "/mlp/w2/bias"] = (hidden,)
        out[bp + "/mlp/ffn_ln/scale"] = (hidden,)
        out[bp + "/mlp/ffn_ln/bias"] = (hidden,)
        out[bp + "/mlp/w3/kernel"] = (hidden, d)
        out[bp + "/mlp/w3/bias"] = (d,)
    if g.get("use_ln_post", True):
        out["git_backbone/ln_post/scale"] = (d,)
        out["git_backbone/ln_post/bias"] = (d,)
    d, p = s["embed_dim"], s["patch_size"]
    grid = s["img_size"] // p
    heads = s["num_heads"]
    mlp = int(d * s["mlp_ratio"])
    out["sam_backbone/patch_embed.proj/kernel"] = (p, p, 3, d)
    out["sam_backbone/patch_embed.proj/bias"] = (d,)
    out["sam_backbone/pos_embed"] = (1, grid, grid, d)
    for i in range(s["depth"]):
        bp = "sam_backbone/blocks.%d" % i
        rel = 2 * s["window_size"] - 1 if i in s["window_block_indexes"] else 2 * grid - 1
        out[bp + "/norm1/scale"] = (d,)
        out[bp + "/norm1/bias"] = (d,)
        out[bp + "/attn/qkv/kernel"] = (d, 3 * d)
        out[bp + "/attn/qkv/bias"] = (3 * d,)
        out[bp + "/attn/rel_pos_h"] = (rel, d // heads)
        out[bp + "/attn/rel_pos_w"] = (rel, d // heads)
        out[bp + "/attn/proj/kernel"] = (d, d)
        out[bp + "/attn/proj/bias"] = (d,)
        out[bp + "/norm2/scale"] = (d,)
        out[bp + "/norm2/bias"] = (d,)
        out[bp + "/mlp/lin1/kernel"] = (d, mlp)
        out[bp + "/mlp/lin1/bias"] = (mlp,)
        out[bp + "/mlp/lin2/kernel"] = (mlp, d)
        out[bp + "/mlp/lin2/bias"] = (d,)
    o = s["out_chans"]
    out["sam_backbone/neck/0/kernel"] = (1, 1, d, o)
    out["sam_backbone/neck/1/scale"] = (o,)
    out["sam_backbone/neck/1/bias"] = (o,)
    out["sam_backbone/neck/2/kernel"] = (3, 3, o, o)
    out["sam_backbone/neck/3/scale"] = (o,)
    out["sam_backbone/neck/3/bias"] = (o,)
    e = cfg["prompt_encoder"]["embed_dim"]
    out["prompt_encoder/pe_layer/positional_encoding_gaussian_matrix"] = (2, e // 2)
    for i in range(4):
        out["prompt_encoder/point_embeddings.%d.weight" % i] = (1, e)
    out["prompt_encoder/not_a_point_embed.weight"] = (1, e)
    out["prompt_encoder/no_mask_embed.weight"] = (1, e)
    td, k, od = a["transformer_dim"], a["num_outputs"], a["output_dim"]
    fused = cfg["git"]["embed_dim"] + cfg["sam"]["out_chans"]
    out["prompt_adapter/output_tokens.weight"] = (k, td)
    for i in range(k):
        out["prompt_adapter/output_hypernetworks_mlps.%d/layers.0/kernel" % i] = (td, od)
        out["prompt_adapter/output_hypernetworks_mlps.%d/layers.0/bias" % i] = (od,)
    out["prompt_adapter/image_projection_mlp/layers.0/kernel"] = (fused, td)
    out["prompt_adapter/image_projection_mlp/layers.0/bias"] = (td,)
    if e != td:  # scenic's PromptAdaptor builds the two projections only when the widths differ
        out["prompt_adapter/prompt_embedding_projection_mlp/layers.0/kernel"] = (e, td)
        out["prompt_adapter/prompt_embedding_projection_mlp/layers.0/bias"] = (td,)
        out["prompt_adapter/image_pe_projection_mlp/layers.0/kernel"] = (e, td)
        out["prompt_adapter/image_pe_projection_mlp/layers.0/bias"] = (td,)
    _two_way(out, "prompt_adapter/transformer", td, a["depth"], a["mlp_dim"], a.get("attention_downsample_rate", 2))
    out["prompt_adapter/dense_output_mlp/layers.0/kernel"] = (td, od)
    out["prompt_adapter/dense_output_mlp/layers.0/bias"] = (od,)
    if cfg.get("text_decoder_name") == "git":
        git_text_shapes(out, cfg["git_text"], od)
        dm = cfg["git_text"]["hidden"]
        return _heads_shapes(out, cfg, dm)
    dm = t5["emb_dim"]
    inner = t5["num_heads"] * t5["head_dim"]
    r = t5.get("lora_rank", 0)
    lora = t5.get("lora_modules", "q,v").split(",")
    out["visual_project_layers/visual_projection.0/kernel"] = (od, dm)
    out["visual_project_layers/visual_projection.0/bias"] = (dm,)
    out["visual_project_layers/visual_projection.1/scale"] = (dm,)
    out["visual_project_layers/visual_projection.1/bias"] = (dm,)
    T5 = "textual/t5_module"
    out[T5 + "/token_embedder/embedding"] = (t5["vocab_size"], dm)

    def t5_attn(prefix):
        for n in ("query", "key", "value"):
            out["%s/%s/kernel" % (prefix, n)] = (dm, inner)
            if r and n[0] in lora:
                out["%s/%s/kernel_left_lora" % (prefix, n)] = (dm, r)
                out["%s/%s/kernel_right_lora" % (prefix, n)] = (r, inner)
        out[prefix + "/out/kernel"] = (inner, dm)
        if r and "o" in lora:  # scenic: LoRADenseGeneral on `out` too when 'o' is listed
            out[prefix + "/out/kernel_left_lora"] = (inner, r)
            out[prefix + "/out/kernel_right_lora"] = (r, dm)

    def t5_mlp(prefix):
        out[prefix + "/wi_0/kernel"] = (dm, t5["mlp_dim"])
        out[prefix + "/wi_1/kernel"] = (dm, t5["mlp_dim"])
        out[prefix + "/wo/kernel"] = (t5["mlp_dim"], dm)

    out[T5 + "/encoder/relpos_bias/rel_embedding"] = (t5["num_heads"], t5.get("relpos_num_buckets", 32))
    for i in range(t5["num_encoder_layers"]):
        lp = "%s/encoder/layers_%d" % (T5, i)
        out[lp + "/pre_attention_layer_norm/scale"] = (dm,)
        t5_attn(lp + "/attention")
        out[lp + "/pre_mlp_layer_norm/scale"] = (dm,)
        t5_mlp(lp + "/mlp")
    out[T5 + "/encoder/encoder_norm/scale"] = (dm,)
    out[T5 + "/decoder/relpos_bias/rel_embedding"] = (t5["num_heads"], t5.get("relpos_num_buckets", 32))
    for i in range(t5["num_decoder_layers"]):
        lp = "%s/decoder/layers_%d" % (T5, i)
        out[lp + "/pre_self_attention_layer_norm/scale"] = (dm,)
        t5_attn(lp + "/self_attention")
        out[lp + "/pre_cross_attention_layer_norm/scale"] = (dm,)
        t5_attn(lp + "/encoder_decoder_attention")
        out[lp + "/pre_mlp_layer_norm/scale"] = (dm,)
        t5_mlp(lp + "/mlp")
    out[T5 + "/decoder/decoder_norm/scale"] = (dm,)
    out[T5 + "/decoder/logits_dense/kernel"] = (dm, t5["vocab_size"])
    return _heads_shapes(out, cfg, dm)


def git_text_shapes(out, c, visual_dim):
    """The GIT `textual/` head (pixelllm_git golden order): projection, embeddings, post-LN layers, untied output."""
    h, tx = c["hidden"], "textual"
    out[tx + "/visual_projection.0/kernel"] = (visual_dim, h)
    out[tx + "/visual_projection.0/bias"] = (h,)
    out[tx + "/visual_projection.1/scale"] = (h,)
    out[tx + "/visual_projection.1/bias"] = (h,)
    out[tx + "/embedding/words/embedding"] = (c["vocab_size"], h)
    out[tx + "/embedding/positions/embedding"] = (c["position_table"], h)
    out[tx + "/embedding/layer_norm/scale"] = (h,)
    out[tx + "/embedding/layer_norm/bias"] = (h,)
    for i in range(c["num_layers"]):
        lp = "%s/transformer/encoder/layer.%d" % (tx, i)
        for n in ("query", "key", "value"):
            out["%s/attention/self/%s/kernel" % (lp, n)] = (h, h)
            out["%s/attention/self/%s/bias" % (lp, n)] = (h,)
        for n, a, b in (("attention/output/dense", h, h), ("attention/output/LayerNorm", 0, h),
                        ("intermediate/dense", h, 4 * h), ("output/dense", 4 * h, h), ("output/LayerNorm", 0, h)):
            if a:
                out["%s/%s/kernel" % (lp, n)] = (a, b)
            else:
                out["%s/%s/scale" % (lp, n)] = (b,)
            out["%s/%s/bias" % (lp, n)] = (b,)
    out[tx + "/output/kernel"] = (h, c["vocab_size"])
    out[tx + "/output/bias"] = (c["vocab_size"],)


def _heads_shapes(out, cfg, dm):
    """Point head and mask branch, after either text decoder (dm = its width)."""
    pp = cfg.get("point_predictor")
    if pp:
        if pp.get("pre_norm", True):
            out["point_predictor/LayerNorm_0/scale"] = (dm,)
            out["point_predictor/LayerNorm_0/bias"] = (dm,)
        width = dm
        for i in range(pp["depth"]):
            nxt = pp["hidden_dim"] if i < pp["depth"] - 1 else pp["num_output_points"] * (3 + pp.get("num_classes", 1))
            out["point_predictor/mlp/layers.%d/kernel" % i] = (width, nxt)
            out["point_predictor/mlp/layers.%d/bias" % i] = (nxt,)
            width = nxt
    ma, md = cfg.get("mask_adapter"), cfg.get("mask_decoder")
    if ma:
        mt = ma["transformer_dim"]
        out["mask_adapter/output_tokens.weight"] = (ma["num_outputs"], mt)
        for n in ("visual_projection_mlp", "textual_projection_mlp") if ma.get("input_projection", True) else ():
            out["mask_adapter/%s/LayerNorm_0/scale" % n] = (dm,)
            out["mask_adapter/%s/LayerNorm_0/bias" % n] = (dm,)
            out["mask_adapter/%s/layers.0/kernel" % n] = (dm, mt)
            out["mask_adapter/%s/layers.0/bias" % n] = (mt,)
        if ma.get("gating", True):
            out["mask_adapter/alpha_output.weight"] = (ma["num_outputs"], mt)
        _two_way(out, "mask_adapter/transformer", mt, ma["depth"], ma["mlp_dim"], ma.get("attention_downsample_rate", 2))
    if md:
        dd = md["transformer_dim"]
        nm = md["num_multimask_outputs"] + 1
        hid = md["iou_head_hidden_dim"]
        out["mask_decoder/iou_token.weight"] = (1, dd)
        out["mask_decoder/mask_tokens.weight"] = (nm, dd)
        out["mask_decoder/output_upscaling/0/kernel"] = (2, 2, dd // 4, dd)
        out["mask_decoder/output_upscaling/0/bias"] = (dd // 4,)
        out["mask_decoder/output_upscaling/1/scale"] = (dd // 4,)
        out["mask_decoder/output_upscaling/1/bias"] = (dd // 4,)
        out["mask_decoder/output_upscaling/3/kernel"] = (2, 2, dd // 8, dd // 4)
        out["mask_decoder/output_upscaling/3/bias"] = (dd // 8,)
        for i in range(nm):
            widths = [dd, hid, hid, dd // 8]
            for j in range(3):
                out["mask_decoder/output_hypernetworks_mlps.%d/layers.%d/kernel" % (i, j)] = (widths[j], widths[j + 1])
                out["mask_decoder/output_hypernetworks_mlps.%d/layers.%d/bias" % (i, j)] = (widths[j + 1],)
        widths = [dd] + [hid] * (md["iou_head_depth"] - 1) + [nm]
        for j in range(md["iou_head_depth"]):
            out["mask_decoder/iou_prediction_head/layers.%d/kernel" % j] = (widths[j], widths[j + 1])
            out["mask_decoder/iou_prediction_head/layers.%d/bias" % j] = (widths[j + 1],)
        _two_way(out, "mask_decoder/transformer", dd, md["transformer_depth"], md["transformer_mlp_dim"],
                 md.get("attention_downsample_rate", 2))
    return out


def init_params(cfg, seed):
    """Training init (not the golden one): kernels N(0,1)/sqrt(fan_in), biases 0, norm scales 1, embeddings /
    learned tokens N(0,1), position tables 0.02·N, LoRA right factor 0, point-head last layer small."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in param_shapes(cfg).items():
        r = torch.randn(shape, generator=gen)
        leaf = name.split("/")[-1]
        if name == "mask_decoder/output_upscaling/3/bias":
            v = torch.full(shape, 0.5)  # the 4 upscaled mask channels start on GELU's linear side (they died at 0)
        elif leaf == "bias" or leaf in ("q_bias", "v_bias"):
            v = torch.zeros(shape)
        elif leaf == "scale":
            v = torch.ones(shape)
        elif leaf == "kernel_right_lora":
            v = torch.zeros(shape)
        elif leaf in ("kernel", "kernel_left_lora"):
            v = r / math.sqrt(float(np.prod(shape[:-1])))
            if name.startswith("point_predictor/mlp/layers.%d" % (cfg["point_predictor"]["depth"] - 1)):
                v = v * 0.1
        elif leaf in ("pos_embed", "cls_token", "rel_pos_h", "rel_pos_w"):
            v = 0.02 * r
        elif leaf == "rel_embedding":
            v = 0.1 * r
        elif leaf == "alpha_output.weight":
            v = 0.1 * r
        elif leaf == "embedding":
            v = r
        else:  # prompt-encoder tables (incl. the gaussian PE matrix), output/iou/mask tokens
            v = r
        out[name] = v.float()
    return out
