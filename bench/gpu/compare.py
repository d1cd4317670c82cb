#!/usr/bin/env python3
"""Ours vs PyTorch on one card, from one device call: reads our `bench --json` file and pytorch_baseline.py's JSON and
prints one table (ms per stage, the floor, our distance to it, and the speed-up over PyTorch eager and compiled).
Usage: compare.py BENCH_JSON PYTORCH_JSON [--markdown]"""
import json
import sys


def main():
    ours_path, torch_path = sys.argv[1], sys.argv[2]
    markdown = "--markdown" in sys.argv
    ours = {s["stage"]: s for s in json.load(open(ours_path))["stages"]}
    torch_run = json.load(open(torch_path))
    results = {}
    for r in torch_run.get("results", []):
        if r.get("status") == "ok" and r.get("batch") == 1:
            results[(r["key"], r["mode"])] = r

    def our(prefix):
        return next((s["best_ms"] for name, s in ours.items() if name.startswith(prefix)), None)

    def theirs(key, mode, field="median_ms"):
        r = results.get((key, mode))
        return None if r is None else r.get(field)

    def e2e(mode):
        row = next((r for r in torch_run.get("e2e", []) if r["mode"] == mode and r["beams"] == 1 and r.get("complete")), None)
        return None if row is None else row["total_ms"]

    floor_e2e = next((r["floor_ms"] for r in torch_run.get("e2e", []) if r["beams"] == 1), None)
    rows = [
        ("SAM ViT-H 384²", our("SAM image encoder"), theirs("sam", "eager"), theirs("sam", "compiled"), theirs("sam", "eager", "floor_ms")),
        ("EVA02-L 384²", our("EVA02 image encoder"), theirs("eva", "eager"), theirs("eva", "compiled"), theirs("eva", "eager", "floor_ms")),
        ("T5 encoder (40)", our("T5 encoder"), theirs("t5_enc", "eager"), theirs("t5_enc", "compiled"), theirs("t5_enc", "eager", "floor_ms")),
        ("decode step beam 1", our("decode step, beam 1"), theirs("t5_gen_b1", "eager", "decode_ms_per_token"),
         theirs("t5_gen_b1", "compiled", "decode_ms_per_token"), theirs("t5_gen_b1", "eager", "decode_floor_ms_per_token")),
        ("decode step beam 4", our("decode step, beam 4"), theirs("t5_gen_b4", "eager", "decode_ms_per_token"),
         theirs("t5_gen_b4", "compiled", "decode_ms_per_token"), theirs("t5_gen_b4", "eager", "decode_floor_ms_per_token")),
        ("point rerun (T5 dec)", our("point rerun"), theirs("t5_rerun", "eager"), theirs("t5_rerun", "compiled"), theirs("t5_rerun", "eager", "floor_ms")),
        ("end to end caption", our("end to end caption"), e2e("eager"), e2e("compiled"), floor_e2e),
    ]

    def f(v, fmt="{:.2f}"):
        return "—" if v is None else fmt.format(v)

    header = ["stage", "ours ms", "eager ms", "compiled ms", "floor ms", "ours/floor", "eager/ours", "compiled/ours"]
    lines = []
    for name, o, e, c, fl in rows:
        lines.append([name, f(o), f(e), f(c), f(fl, "{:.3f}"), f(o / fl if o and fl else None, "{:.1f}×"),
                      f(e / o if o and e else None, "{:.1f}×"), f(c / o if o and c else None, "{:.1f}×")])
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for l in lines:
            print("| " + " | ".join(l) + " |")
    else:
        widths = [max(len(r[i]) for r in [header] + lines) for i in range(len(header))]
        for l in [header] + lines:
            print("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(l)))
    peak = torch_run.get("peak", {})
    print(f"card peaks (PyTorch): bf16 GEMM {peak.get('gemm_tflops_for_floor', 0):.0f} TFLOP/s, copy {peak.get('copy_GBps_for_floor', 0):.0f} GB/s")


if __name__ == "__main__":
    main()
