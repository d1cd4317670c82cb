"""Writes cases in the golden format of ../shared/golden/README.md: <case>.json, <case>.weights.safetensors and
<case>.io.safetensors, with the goldens' weight-initialisation rule, so `./pixelllm verify DIR/<case>` can read them.
Needs only torch and numpy (safetensors through the trainer's minimal writer)."""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "trainer"))
import st  # noqa: E402  (weights-tools/trainer/st.py)

_DTYPES = {np.float32: "F32", np.int64: "I64", np.uint8: "U8"}


def init_like_goldens(model: torch.nn.Module, seed: int) -> None:
    """The goldens' rule: Embedding ~ N(0,1); *bias ~ 0.1·N(0,1); 1-D weight ~ 1 + 0.1·N(0,1); ≥2-D weight ~ N(0,1)/√fan_in;
    any other parameter ~ 0.2·N(0,1); modules visited in named_modules() order with one seeded generator."""
    gen = torch.Generator().manual_seed(seed)
    for _, module in model.named_modules():
        for name, p in module.named_parameters(recurse=False):
            with torch.no_grad():
                if isinstance(module, torch.nn.Embedding) and name == "weight":
                    p.copy_(torch.randn(p.shape, generator=gen))
                elif name.endswith("bias"):
                    p.copy_(0.1 * torch.randn(p.shape, generator=gen))
                elif name == "weight" and p.dim() == 1:
                    p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
                elif name == "weight":
                    fan_in = p.shape[1] * (p[0][0].numel() if p.dim() > 2 else 1)
                    p.copy_(torch.randn(p.shape, generator=gen) / fan_in ** 0.5)
                else:
                    p.copy_(0.2 * torch.randn(p.shape, generator=gen))


def save_safetensors(path: str, tensors: dict) -> None:
    st.write(path, {name: t.detach().contiguous().cpu().numpy() for name, t in tensors.items()})


def write_case(out_dir: str, component: str, name: str, config: dict, seed: int, weights: dict, io: dict, reference: str) -> str:
    os.makedirs(out_dir, exist_ok=True)
    save_safetensors(os.path.join(out_dir, f"{name}.weights.safetensors"), weights)
    save_safetensors(os.path.join(out_dir, f"{name}.io.safetensors"), io)

    def describe(tensors):
        return {k: {"dtype": _DTYPES[v.detach().cpu().numpy().dtype.type], "shape": list(v.shape)} for k, v in tensors.items()}

    case = {"case": name, "component": component, "config": config, "seed": seed, "set": "generated", "reference": reference,
            "io": describe(io), "io_file": f"{name}.io.safetensors", "weights": describe(weights),
            "weights_file": f"{name}.weights.safetensors"}
    with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
        json.dump(case, f, indent=1)
    return os.path.join(out_dir, name)
