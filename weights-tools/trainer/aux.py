"""Training-only helpers, never exported: the dense per-patch head that stands in for the paper's pretrained
SAM/EVA02 encoders, and the quick grounding probe printed during training.

The dense head is one linear layer on the fused 8×8 backbone grid (EVA02 ‖ SAM channels). Per patch it predicts
the colour / shape / size mix under the patch (soft targets from the object masks, background as class 0), the
canvas box of the object covering it, and the patch's own position. A LINEAR read-out is the point: what it can
read, the prompt adapter's attention can route to the visual tokens (values carry the box, keys the colour/shape).
"""
import numpy as np
import torch
import torch.nn.functional as F

COLOURS = ["red", "green", "blue", "yellow"]
SHAPES = ["circle", "square", "triangle"]
SIZES = ["small", "large"]
# output channels: 5 colour logits, 4 shape logits, 3 size logits, 4 box (x0 y0 x1 y1 / canvas), 2 position (x, y)
SPLITS = [1 + len(COLOURS), 1 + len(SHAPES), 1 + len(SIZES), 4, 2]


class DenseHead(torch.nn.Module):
    def __init__(self, in_dim, seed=0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed + 777)
        self.weight = torch.nn.Parameter(torch.randn(in_dim, sum(SPLITS), generator=gen) / in_dim ** 0.5)
        self.bias = torch.nn.Parameter(torch.zeros(sum(SPLITS)))

    def forward(self, fused):
        return torch.split(fused @ self.weight + self.bias, SPLITS, -1)


def dense_targets(samples, canvas, grid):
    """samples (data.scene_sample dicts, masks on the 4×patch grid) → dict of (B, grid, grid, ·) targets."""
    b = len(samples)
    out = {k: np.zeros((b, grid, grid, n), np.float32) for k, n in zip(("colour", "shape", "size", "box"), SPLITS)}
    out["box_valid"] = np.zeros((b, grid, grid), np.float32)
    for i, s in enumerate(samples):
        if not s["masks"]:
            continue
        m = np.stack(s["masks"])  # (objects, G4, G4) coverage over the canvas
        f = m.shape[-1] // grid
        cover = m.reshape(len(m), grid, f, grid, f).mean((2, 4))  # (objects, grid, grid)
        bg = np.clip(1 - cover.sum(0), 0, 1)
        for key, names, attr in (("colour", COLOURS, "color"), ("shape", SHAPES, "shape"), ("size", SIZES, "size")):
            out[key][i, :, :, 0] = bg
            for o, obj in enumerate(s["ann"]["objects"]):
                out[key][i, :, :, 1 + names.index(obj[attr])] += cover[o]
        top = cover.argmax(0)
        boxes = np.stack(s["boxes"]) / canvas
        out["box"][i] = boxes[top]
        out["box_valid"][i] = cover.max(0) > 0.25
    t = {k: torch.from_numpy(v) for k, v in out.items()}
    ys, xs = torch.meshgrid((torch.arange(grid) + 0.5) / grid, (torch.arange(grid) + 0.5) / grid, indexing="ij")
    t["pos"] = torch.stack([xs, ys], -1)
    return t


def soft_ce(logits, target):
    target = target / target.sum(-1, keepdim=True).clamp(min=1e-6)
    return -(target * F.log_softmax(logits, -1)).sum(-1).mean()


def dense_loss(head, fused, t):
    colour, shape, size, box, pos = head(fused)
    bv = t["box_valid"]
    box_l1 = ((box.sigmoid() - t["box"]).abs().sum(-1) * bv).sum() / bv.sum().clamp(min=1)
    pos_l1 = (pos.sigmoid() - t["pos"][None]).abs().sum(-1).mean()
    parts = {"colour": soft_ce(colour, t["colour"]), "shape": soft_ce(shape, t["shape"]), "size": soft_ce(size, t["size"]),
             "box": 5 * box_l1, "pos": 5 * pos_l1}
    return sum(parts.values()), {"aux_" + k: round(v.item(), 4) for k, v in parts.items()}


# ---------------------------------------------------------------------------------------------- adapter head
# Each adapter output token gets a ROLE for the whole-image prompt: tokens 0–3 = the four colours, 4–6 = the three
# shapes, 7 = every object. Per token: presence logit + the union box (/ canvas) of the objects with that attribute.
# For a box prompt (loca), the mean token predicts the boxed object's colour, shape and size.
ROLES = [("color", c) for c in COLOURS] + [("shape", s) for s in SHAPES] + [(None, None)]


class AdapterHead(torch.nn.Module):
    def __init__(self, tokens, dim, seed=0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed + 991)
        self.roles = min(tokens, len(ROLES))
        self.weight = torch.nn.Parameter(torch.randn(self.roles, dim, 5, generator=gen) / dim ** 0.5)
        self.bias = torch.nn.Parameter(torch.zeros(self.roles, 5))
        self.attr = torch.nn.Linear(dim, len(COLOURS) + len(SHAPES) + len(SIZES))

    def global_loss(self, adapter_out, t):
        """adapter_out (N, K, D) for whole-image prompts; t = adapter_targets(...)[per image] indexed to the prompts."""
        out = torch.einsum("nkd,kdo->nko", adapter_out[:, :self.roles], self.weight) + self.bias
        present, boxes = t["present"][:, :self.roles], t["boxes"][:, :self.roles]
        bce = F.binary_cross_entropy_with_logits(out[..., 0], present)
        l1 = ((out[..., 1:].sigmoid() - boxes).abs().sum(-1) * present).sum() / present.sum().clamp(min=1)
        return bce + 5 * l1, {"aux_gbce": round(bce.item(), 4), "aux_gbox": round(5 * l1.item(), 4)}

    def box_loss(self, adapter_out, attrs):
        """adapter_out (N, K, D) for box prompts, attrs (N, 3) = colour, shape, size index of the boxed object."""
        c, s, z = torch.split(self.attr(adapter_out.mean(1)), [len(COLOURS), len(SHAPES), len(SIZES)], -1)
        loss = F.cross_entropy(c, attrs[:, 0]) + F.cross_entropy(s, attrs[:, 1]) + F.cross_entropy(z, attrs[:, 2])
        return loss, {"aux_attr": round(loss.item(), 4)}


def adapter_targets(samples, canvas):
    """Per image: presence (B, R) and union box / canvas (B, R, 4) of the objects each role names."""
    present = torch.zeros(len(samples), len(ROLES))
    boxes = torch.zeros(len(samples), len(ROLES), 4)
    for i, s in enumerate(samples):
        for r, (key, value) in enumerate(ROLES):
            hits = [b for o, b in zip(s["ann"]["objects"], s["boxes"]) if key is None or o[key] == value]
            if hits:
                h = np.stack(hits)
                present[i, r] = 1
                boxes[i, r] = torch.from_numpy(np.concatenate([h[:, :2].min(0), h[:, 2:].max(0)]) / canvas)
    return {"present": present, "boxes": boxes}


def object_attrs(samples, prompts):
    obj = [samples[p["img"]]["ann"]["objects"][p["object"]] for p in prompts]
    return torch.tensor([[COLOURS.index(o["color"]), SHAPES.index(o["shape"]), SIZES.index(o["size"])] for o in obj])
