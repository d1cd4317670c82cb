"""Models for configurations other than the goldens': the golden weight-init rule (`golden_init`, bit-exact on all
three golden checkpoints: `python3 config_model.py`) and model.py / git_text.py generalised to every option scenic's
modules take that the tiny goldens keep fixed (box_points_per_side, adapter without the prompt projections when
input_embedding_dim == transformer_dim, EVA02 without ln_post, LoRA on any of q,k,v,o, IoU head depth, mask adapter
without gating / input projection). model.py and git_text.py are untouched: they stay the proven golden oracle, and
these subclasses only replace the methods whose golden config hides an option (also prompt_use_box_rate 0 and
prompt_fuse_fn 'dense').
"""
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from git_text import GitPixelLLM  # noqa: E402
from model import PixelLLM  # noqa: E402
from params import param_shapes  # noqa: E402

GOLDEN_INIT = ("per parameter, in param_shapes order, torch.Generator(seed) float64 normals r (then float32; the mask "
               "branch from torch.Generator(seed + 100000)): the rule of "
               "shared/golden/pixelllm*/README 'init' (kernels r/sqrt(fan_in), biases 0.1r, norm scales 1+0.1r, tables r, "
               "position tables 0.2r, T5 rel 0.5r, LoRA left r/sqrt(in) right 0.5r/sqrt(rank), logits 5r/sqrt(d) with "
               "padded ids 0.05r/sqrt(d) and the EOS column x eos_logit_multiplier, point head last 2r/sqrt(fan_in), GIT "
               "q/k x2 and never-generated special ids 0.01x / bias -3, mask gate 0.8r, IoU last 2r/sqrt(fan_in), "
               "hypernetwork last 16r/sqrt(fan_in))")


def golden_init(cfg, seed, eos_mult):
    """The goldens' init rule; the special cases are what keeps random weights' decoding non-degenerate (EOS reachable,
    padded / special ids never produced, mask logits of a few units)."""
    gen = torch.Generator().manual_seed(seed)
    git = cfg.get("text_decoder_name") == "git"
    eos = cfg.get("end_token_id", 1)
    pp = cfg.get("point_predictor") or {}
    md = cfg.get("mask_decoder") or {}
    out = {}
    for name, shape in param_shapes(cfg).items():
        if name.startswith("mask_adapter/") and gen.initial_seed() == seed:
            gen = torch.Generator().manual_seed(seed + 100000)  # the mask branch has its own stream in the goldens
        r = torch.randn(shape, generator=gen, dtype=torch.float64)
        leaf = name.split("/")[-1]
        fan = float(np.prod(shape[:-1])) if len(shape) > 1 else 1.0
        if name in ("textual/t5_module/decoder/logits_dense/kernel", "textual/output/kernel"):
            v = r * 5 / math.sqrt(shape[0])
            if not git:
                quiet = list(range(cfg["t5"]["sp_pieces"], shape[1]))
                v[:, quiet] = r[:, quiet] * 0.05 / math.sqrt(shape[0])
            v[:, eos] *= eos_mult
            if git:  # scaled after the float32 cast, as the goldens (bit-exact)
                v = v.float()
                v[:, cfg["special_non_eos_ids"]] *= 0.05 / 5
        elif name == "textual/output/bias":
            v = 0.1 * r
            v[cfg["special_non_eos_ids"]] -= 3
        elif leaf == "kernel_left_lora":
            v = r / math.sqrt(shape[0])
        elif leaf == "kernel_right_lora":
            v = 0.5 * r / math.sqrt(shape[0])
        elif leaf == "kernel":
            v = r / math.sqrt(fan)
            if name.startswith("point_predictor/mlp/layers.%d/" % (pp.get("depth", 0) - 1)):
                v = v * 2
            elif name.startswith("mask_decoder/iou_prediction_head/layers.%d/" % (md.get("iou_head_depth", 0) - 1)):
                v = v * 2
            elif name.startswith("mask_decoder/output_hypernetworks_mlps.") and "/layers.2/" in name:
                v = v * 16
            elif git and name.startswith("textual/transformer/") and ("/self/query/" in name or "/self/key/" in name):
                v = v * 2
        elif leaf in ("bias", "q_bias", "v_bias"):
            v = 0.1 * r
        elif leaf == "scale":
            v = 1 + 0.1 * r
        elif leaf in ("pos_embed", "cls_token", "rel_pos_h", "rel_pos_w") or name.endswith("/positions/embedding"):
            v = 0.2 * r
        elif leaf == "rel_embedding":
            v = 0.5 * r
        elif leaf == "alpha_output.weight":
            v = 0.8 * r
        else:  # token / word embeddings, prompt-encoder tables, learned output / IoU / mask tokens
            v = r
        out[name] = v.float().numpy()
    return out


def write_weights(path, cfg, seed, eos_mult, weights):
    """Scenic-named float32 safetensors with the golden files' metadata keys."""
    st.write(path, weights, {"set": "random-config", "config": json.dumps(cfg, sort_keys=True), "seed": seed,
                             "eos_logit_multiplier": eos_mult, "init": GOLDEN_INIT,
                             "format": "scenic Flax parameter paths joined with '/', Flax layouts" +
                                       (", LoRA unmerged" if cfg.get("t5", {}).get("lora_rank") else "")})


class ConfigMixin:
    """The options scenic has and the golden configs fix (see the module docstring)."""

    # Modules scenic does not build for an option: model.py's call passes the tensor through unchanged.
    OPTIONAL = ("git_backbone/ln_post", "prompt_adapter/prompt_embedding_projection_mlp/layers.0",
                "prompt_adapter/image_pe_projection_mlp/layers.0", "mask_adapter/visual_projection_mlp/LayerNorm_0",
                "mask_adapter/visual_projection_mlp/layers.0", "mask_adapter/textual_projection_mlp/LayerNorm_0",
                "mask_adapter/textual_projection_mlp/layers.0")

    def absent(self, prefix):
        return prefix in self.OPTIONAL and prefix + "/kernel" not in self.P and prefix + "/scale" not in self.P

    def ln(self, x, prefix, eps):
        return x if self.absent(prefix) else super().ln(x, prefix, eps)

    def dense(self, x, prefix, bias=True):
        return x if self.absent(prefix) else super().dense(x, prefix, bias)

    def adapter(self, fused, img_idx, sparse):
        if self.cfg.get("prompt_fuse_fn", "sparse") != "dense":
            return super().adapter(fused, img_idx, sparse)
        # prompt_fuse_fn 'dense': the visual tokens are dense_output_mlp of the transformer's updated image keys
        pre = "prompt_adapter"
        b, g, _, _ = fused.shape
        proj = pre + "/prompt_embedding_projection_mlp/layers.0"
        nm = self.dense(self.P["prompt_encoder/no_mask_embed.weight"], proj)
        pe = self.dense(self.dense_pe(g, g).to(fused).reshape(g * g, -1), pre + "/image_pe_projection_mlp/layers.0")
        out_tok = self.P[pre + "/output_tokens.weight"]
        queries = torch.cat([out_tok.expand(sparse.shape[0], *out_tok.shape), self.dense(sparse, proj)], 1)
        keys = (self.dense(fused.reshape(b, g * g, -1), pre + "/image_projection_mlp/layers.0") + nm)[img_idx]
        _, keys = self.two_way(pre + "/transformer", keys, pe[None], queries)
        return self.dense(keys, pre + "/dense_output_mlp/layers.0")

    def sparse_prompts(self, boxes):
        """scenic: box_points_per_side² grid points (2 corners when < 1) + a padding point; box prompts keep the two
        corner tokens and fill the rest of that count with no_mask."""
        n_side = self.cfg.get("box_points_per_side", 2)
        if n_side == 2 and self.cfg.get("prompt_use_box_rate", 1.0) > 0:
            return super().sparse_prompts(boxes)
        pre = "prompt_encoder"
        n = boxes.shape[0]
        if n_side < 1:
            grid = boxes.new_tensor([[0.0, 0.0], [1.0, 1.0]])
        else:
            side = torch.linspace(0, 1, n_side, dtype=torch.float32).to(boxes.dtype)
            grid = torch.stack([side[None, :].expand(n_side, n_side), side[:, None].expand(n_side, n_side)], -1)
            grid = grid.reshape(-1, 2)  # x fastest, as build_solid_grid
        no_mask = self.P[pre + "/no_mask_embed.weight"]
        e = no_mask.shape[-1]
        count = grid.shape[0] + 1
        box_tokens = torch.cat([self.box_embed(boxes), no_mask.expand(n, count - 2, e)], 1)
        x0y0, wh = boxes[:, None, :2], boxes[:, None, 2:] - boxes[:, None, :2]
        pts = x0y0 + grid[None] * wh + 0.5
        pt = self.pe(pts / self.cfg["canvas"]) + self.P[pre + "/point_embeddings.1.weight"][0]
        point_tokens = torch.cat([pt, self.P[pre + "/not_a_point_embed.weight"].expand(n, 1, e)], 1)
        # prompt_use_box_rate 0 (scenic's default): no box path at all; any rate > 0 is 1 at inference (no dropout)
        valid = (boxes.max(-1).values > 0) & (self.cfg.get("prompt_use_box_rate", 1.0) > 0)
        return torch.where(valid[:, None, None], box_tokens, point_tokens), valid

    def mlp3(self, x, prefix, layers):
        if prefix.endswith("iou_prediction_head"):
            layers = self.cfg["mask_decoder"].get("iou_head_depth", 3)
        return super().mlp3(x, prefix, layers)

    def mask_branch(self, boxes, visual, text_feats, sam_feats, img_idx):
        gate = "mask_adapter/alpha_output.weight"
        if gate in self.P:
            return super().mask_branch(boxes, visual, text_feats, sam_feats, img_idx)
        # gating=False: no gate at all; tanh(1e4) is exactly 1 in float32 and float64, so model.py's product is exact
        self.P[gate] = torch.full_like(self.P["mask_adapter/output_tokens.weight"], 1e4)
        try:
            return super().mask_branch(boxes, visual, text_feats, sam_feats, img_idx)
        finally:
            del self.P[gate]


class ConfigPixelLLM(ConfigMixin, PixelLLM):
    pass


class ConfigGitPixelLLM(ConfigMixin, GitPixelLLM):
    pass


def main():
    """Proof that golden_init + param_shapes are the goldens' rule: every golden weight file regenerated bit for bit."""
    ok = True
    for f in ("pixelllm/tiny_t5", "pixelllm_refseg/tiny_t5_refseg", "pixelllm_git/tiny_git"):
        w, meta = st.read("/work/shared/golden/%s.weights.safetensors" % f)
        mine = golden_init(json.loads(meta["config"]), int(meta["seed"]), float(meta["eos_logit_multiplier"]))
        bad = [k for k in w if k not in mine or mine[k].shape != w[k].shape or not np.array_equal(mine[k], w[k])]
        print("%-32s %d tensors, %d differ %s" % (f, len(w), len(bad), bad[:5]))
        ok &= not bad and list(mine) == list(w)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
