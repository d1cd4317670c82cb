#!/usr/bin/env python3
"""Generates the small torch.save fixtures read by TorchCheckpointTests, and expected.json.

Run from this directory with PyTorch installed (they were made with Debian's python3-torch 1.13):
    /usr/bin/python3 generate_torch_fixtures.py
The tests never run Python; they read the committed .pth files and expected.json. Expected values are the raw
little-endian bytes of each tensor made contiguous (hex), so they do not depend on any float formatting.
"""
import collections
import io
import json
import os
import zipfile

import torch

torch.manual_seed(1234)
EXPECTED = {}


def raw_hex(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    if t.dtype == torch.float64:
        t = t.to(torch.float32)  # the reader converts float64 storages to float32
    return t.numpy().tobytes().hex()


DTYPE_NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64",
               torch.int32: "I32", torch.uint8: "U8", torch.bool: "U8", torch.float64: "F32"}


def record(file, flat):
    """flat: name -> tensor, the state dict as the reader should flatten it."""
    EXPECTED[file] = {name: {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape), "hex": raw_hex(t)}
                      for name, t in flat.items()}


def save(file, obj, flat, **kwargs):
    torch.save(obj, file, **kwargs)
    record(file, flat)


# Every supported dtype, a scalar, an empty tensor, and extreme integers.
dtypes = collections.OrderedDict([
    ("f32", torch.randn(3, 5)),
    ("f16", torch.randn(2, 3).to(torch.float16)),
    ("bf16", torch.randn(7).to(torch.bfloat16)),
    ("i64", torch.tensor([0, -1, 2**62 + 3, -(2**63), 2**63 - 1], dtype=torch.int64)),
    ("i32", torch.tensor([[1, -2], [2**31 - 1, -(2**31)]], dtype=torch.int32)),
    ("u8", torch.arange(0, 250, 37, dtype=torch.uint8)),
    ("bool", torch.tensor([True, False, True, True])),
    ("f64", torch.tensor([1.5, -2.25, 1e-3], dtype=torch.float64)),
    ("scalar", torch.tensor(3.25)),
    ("empty", torch.zeros(0, 3)),
])
save("dtypes.pth", dtypes, dtypes)

# Views: transposed, strided slice, storage offset, broadcast (stride 0), and two views sharing one storage.
base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
views = collections.OrderedDict([
    ("transposed", base.t()),
    ("every_other_column", base[:, ::2]),
    ("row2", base[2]),
    ("tail", base.view(-1)[5:17]),
    ("broadcast", torch.tensor([1.0, 2.0, 3.0]).expand(4, 3)),
    ("permuted", torch.randn(2, 3, 4).permute(2, 0, 1)),
    ("tied_a", base),
    ("tied_b", base),
])
save("views.pth", views, views)

# A training checkpoint: module state dicts (with _metadata), a Parameter, non-tensor values, lists and nesting.
net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
param = torch.nn.Parameter(torch.randn(2, 2))
nested = {
    "model": net.state_dict(),
    "ema": {"decay": 0.999, "shadow": {"w": torch.ones(3, dtype=torch.float16)}},
    "epoch": 7,
    "name": "run-1",
    "flags": [True, None, 2.5],
    "param": param,
    "history": [torch.tensor([1, 2], dtype=torch.int32), torch.tensor([3.0])],
}
flat = {f"model.{k}": v for k, v in net.state_dict().items()}
flat.update({"ema.shadow.w": nested["ema"]["shadow"]["w"], "param": param,
             "history.0": nested["history"][0], "history.1": nested["history"][1]})
save("nested.pth", nested, flat)

# Pickle protocol 4: FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL.
proto4 = collections.OrderedDict([("w", torch.randn(3, 2)), ("b", torch.randn(2).t()), ("idx", torch.arange(5))])
save("protocol4.pth", proto4, proto4, pickle_protocol=4)

# The same state dict with every zip entry deflated (torch never does this; other zip tools may).
with zipfile.ZipFile("dtypes.pth") as src, zipfile.ZipFile("deflated.pth", "w", zipfile.ZIP_DEFLATED) as dst:
    for info in src.infolist():
        # A fixed timestamp keeps the file reproducible byte for byte.
        dst.writestr(zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0)), src.read(info.filename),
                     compress_type=zipfile.ZIP_DEFLATED)
record("deflated.pth", dtypes)

# Pre-1.6 format: a bare pickle stream, not a zip. The reader must refuse it clearly.
torch.save(collections.OrderedDict([("w", torch.ones(2))]), "legacy.pth", _use_new_zipfile_serialization=False)


class Exploit:
    """Pickles as a call to os.system; only written here, never loaded."""

    def __reduce__(self):
        return (os.system, ("echo pixelllm-should-never-run-this",))


torch.save({"w": torch.ones(2), "payload": Exploit()}, "malicious.pth")

with open("expected.json", "w") as f:
    json.dump(EXPECTED, f, indent=1, sort_keys=True)
    f.write("\n")
print("wrote", ", ".join(sorted(EXPECTED)), "+ legacy.pth, malicious.pth")
