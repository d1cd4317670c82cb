#!/usr/bin/env python3
"""Ours vs PyTorch on one card, from one device call: reads our `bench --json` file and pytorch_baseline.py's JSON and
prints one table (ms per stage, the floor, our distance to it, and the speed-up over PyTorch eager and compiled).
Usage: compare.py BENCH_JSON PYTORCH_JSON [--markdown] [--compiled-from PYTORCH_JSON]
--compiled-from takes the torch.compile columns from another baseline run (compiling everything takes ~4 minutes of a
device lease); the footer names where each column came from."""
import json
import sys


def main():
    ours_path, torch_path = sys.argv[1], sys.argv[2]
    markdown = "--markdown" in sys.argv
    compiled_path = sys.argv[sys.argv.index("--compiled-from") + 1] if "--compiled-from" in sys.argv else torch_path
    ours = {s["stage"]: s for s in json.load(open(ours_path))["stages"]}
    torch_run = json.load(open(torch_path))
    compiled_run = json.load(open(compiled_path))
    results = {}
    for run, modes in ((torch_run, ("eager",)), (compiled_run, ("compiled",))):
        for r in run.get("results", []):
            if r.get("status") == "ok" and r.get("batch") == 1 and r["mode"] in modes:
                results[(r["key"], r["mode"])] = r

    def our(prefix):
        return next((s["best_ms"] for name, s in ours.items() if name.startswith(prefix)), None)

    def theirs(key, mode, field="median_ms"):
        r = results.get((key, mode))
        return None if r is None else r.get(field)

    def add(a, b):
        return None if a is None or b is None else a + b

    def per_image(total, images):
        return None if total is None else total / images

    def e2e_row(mode):
        run = compiled_run if mode == "compiled" else torch_run
        return next((r for r in run.get("e2e", []) if r["mode"] == mode and r["beams"] == 1 and r.get("complete")), None)

    def e2e(mode):
        row = e2e_row(mode)
        return None if row is None else row["total_ms"]

    floor_e2e = next((r["floor_ms"] for r in torch_run.get("e2e", []) if r["beams"] == 1), None)
    rows = [
        ("SAM ViT-H 384²", our("SAM image encoder"), theirs("sam", "eager"), theirs("sam", "compiled"), theirs("sam", "eager", "floor_ms")),
        ("EVA02-L 384²", our("EVA02 image encoder"), theirs("eva", "eager"), theirs("eva", "compiled"), theirs("eva", "eager", "floor_ms")),
        # The model's vision graph (both encoders and the fusion) against PyTorch's two encoders added up.
        ("SAM + EVA02 (graph)", our("vision graph"), add(theirs("sam", "eager"), theirs("eva", "eager")),
         add(theirs("sam", "compiled"), theirs("eva", "compiled")), add(theirs("sam", "eager", "floor_ms"), theirs("eva", "eager", "floor_ms"))),
        # Four images in one batch, per image (PyTorch's side is timed at batch 1 only): the encoders' GEMMs with 4× the rows.
        ("SAM + EVA02, 4 batched, per image", per_image(our("4-image vision graph"), 4), None, None,
         add(theirs("sam", "eager", "floor_ms"), theirs("eva", "eager", "floor_ms"))),
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
    compiled_row = e2e_row("compiled")
    eager_parts = [k for k, v in (compiled_row or {}).get("sources", {}).items() if v != "compiled"]
    if compiled_row and eager_parts:
        print(f"compiled end to end runs these parts eagerly (not compiled in that run): {', '.join(eager_parts)}")
    if compiled_path != torch_path:
        card = compiled_run.get("env", {}).get("device_name", "?")
        print(f"compiled columns from {compiled_path} ({card}, started {compiled_run.get('started_at', '?')}); the rest from {torch_path}")


if __name__ == "__main__":
    main()
