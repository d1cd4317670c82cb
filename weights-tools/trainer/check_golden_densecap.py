"""Proves box_decoder.py (+ model.py) equals the dense-captioning golden oracle: loads the golden tiny densecap weights,
runs densecap() on the golden image, compares every mid.* / out.* tensor of densecap.io.safetensors at the golden's
per-tensor tolerances (boxes 2e-3 px, scores 2e-5, log-probs 2e-4, else 1e-4; rtol 1e-4; integers exact), then the
decision margins with the golden JSON's and the float64 rerun with its f32_vs_f64_max_abs.

  /usr/bin/python3 weights-tools/trainer/check_golden_densecap.py [--golden /work/shared/golden/pixelllm_densecap]
Exit status 1 when any tensor is outside tolerance.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from box_decoder import densecap  # noqa: E402
from model import PixelLLM  # noqa: E402


def tolerance(name, tol):
    """(atol, rtol) for a float tensor from a golden "tolerance" object."""
    for key in ("boxes_pixels", "scores"):
        if name in tol[key]["applies_to"]:
            return tol[key]["atol"], tol[key]["rtol"]
    if name == "out.log_probs":
        return tol["log_probs"]["atol"], tol["log_probs"]["rtol"]
    return tol["float_default"]["atol"], tol["float_default"]["rtol"]


def compare(name, got, want, tol):
    """(number of elements outside tolerance, max |d|, worst error / tolerance)."""
    if got.shape != want.shape:
        return -1, float("nan"), float("inf")
    if want.dtype.kind in "iub":
        bad = int((got.astype(np.int64) != want.astype(np.int64)).sum())
        return bad, float(bad), float(bad)
    atol, rtol = tolerance(name, tol)
    d = np.abs(got.astype(np.float64) - want.astype(np.float64))
    ratio = d / (atol + rtol * np.abs(want.astype(np.float64)))
    return int((ratio > 1).sum()), float(d.max()) if d.size else 0.0, float(ratio.max()) if d.size else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--golden", default="/work/shared/golden/pixelllm_densecap")
    a = ap.parse_args()
    torch.set_num_threads(1)
    meta = json.load(open(os.path.join(a.golden, "densecap.json")))
    t, _ = st.read(os.path.join(a.golden, meta["io_file"]))
    w, _ = st.read(os.path.join(a.golden, meta["model_weights"]))
    tol = meta["tolerance"]
    ctx = t["in.context_tokens"][0, 0]
    got = densecap(PixelLLM(meta["config"], w), t["in.image"], ctx)
    failures = count = 0
    for name, want in t.items():
        if not name.startswith(("mid.", "out.")):
            continue
        count += 1
        if name not in got["T"]:
            print("FAIL %-36s missing" % name)
            failures += 1
            continue
        bad, err, ratio = compare(name, got["T"][name], want, tol)
        failures += bad != 0
        print("%s %-36s max|d| %.2e  (%.3f of tolerance)" % ("ok  " if bad == 0 else "FAIL", name, err, ratio))
    print("%d tensors compared, %d outside tolerance" % (count, failures))

    # The margins are diagnostics, not outputs: equal definitions give equal numbers up to float noise.
    print("\nmargins (mine / golden json):")
    for part in ("box_decoder", "captions"):
        mine, theirs = got["margins"][part], meta["margins"][part]
        for k in sorted(set(mine) | set(theirs)):
            print("  %-46s %-24s %s" % (part[:3] + "." + k, mine.get(k, "-"), theirs.get(k, "-")))

    # float64 rerun: the integers must not move, the floats only by float32 noise (the golden's f32_vs_f64_max_abs).
    exact = densecap(PixelLLM(meta["config"], w, torch.float64), t["in.image"], ctx)
    print("\nfloat32 − float64 (mine / golden json), integer outputs equal: ", end="")
    same = all(np.array_equal(got["T"][k], v) for k, v in exact["T"].items() if v.dtype.kind in "iub")
    print(same)
    for k, v in sorted(exact["T"].items()):
        if v.dtype.kind == "f":
            d = float(np.abs(got["T"][k].astype(np.float64) - v).max())
            ref = meta["f32_vs_f64_max_abs"].get(k)
            print("  %-36s %.2e  %s" % (k, d, "%.2e" % ref if ref is not None else "-"))
    sys.exit(1 if failures or not same else 0)


if __name__ == "__main__":
    main()
