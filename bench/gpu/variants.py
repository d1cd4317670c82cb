#!/usr/bin/env python3
"""A/B table of one device run: each bench-t5xl-<variant>.json against the default bench-t5xl.json, stage by stage.

Usage: variants.py OUT_DIR. Every variant is the default build with one environment switch (see run.sh); a variant
that is faster on the stages it targets is a candidate default. Best-of-N milliseconds; the same card and lease.
"""
import json
import os
import sys

# Variant → (what it switches, the stages that decide it).
VARIANTS = {
    "prefetch-16": ("PIXELLLM_PREFETCH_L2=16: decode weights prefetched into L2, 16 MB ahead", ["decode step, beam 1", "decode step, beam 4", "end to end caption"]),
    "prefetch-32": ("PIXELLLM_PREFETCH_L2=32: decode weights prefetched into L2, 32 MB ahead", ["decode step, beam 1", "decode step, beam 4", "end to end caption"]),
    "staged": ("PIXELLLM_STAGED_ATTENTION=1: decode attention stages K/V in shared memory", ["decode step, beam 1"]),
    "staged-prefetch": ("PIXELLLM_STAGED_ATTENTION=1 PIXELLLM_PREFETCH_L2=16: both", ["decode step, beam 1", "decode step, beam 4", "end to end caption"]),
    "gemv-attention": ("PIXELLLM_GEMV_ATTENTION=1: one-row decode attentions in the projections' launches", ["decode step, beam 1", "end to end caption"]),
    "gemv-attention-prefetch": ("PIXELLLM_GEMV_ATTENTION=1 PIXELLLM_PREFETCH_L2=16: with the prefetch", ["decode step, beam 1", "end to end caption"]),
    "warp-softmax": ("PIXELLLM_WARP_SOFTMAX=1: the GEMM path's softmax a warp per row", ["SAM", "EVA02"]),
    "staged-relpos": ("PIXELLLM_STAGED_REL_POS=1: SAM's rel-pos terms a lane per term", ["SAM"]),
    "vision-both": ("PIXELLLM_STAGED_REL_POS=1 PIXELLLM_WARP_SOFTMAX=1: both vision changes", ["SAM", "EVA02", "end to end caption"]),
    "mma": ("PIXELLLM_MMA_ATTENTION=1: tensor-core flash attention (session 19's rewrite)", ["SAM", "EVA02", "vision graph"]),
    "mma-relpos": ("PIXELLLM_MMA_ATTENTION=1 PIXELLLM_STAGED_REL_POS=1: with SAM's staged rel-pos terms", ["SAM", "vision graph", "end to end caption"]),
    "grid": ("PIXELLLM_GRID_ATTENTION=1: SAM's attention blocks as grid_attention.cu's one launch", ["SAM", "vision graph"]),
    "grid-mma": ("PIXELLLM_GRID_ATTENTION=1 PIXELLLM_MMA_ATTENTION=1: with EVA02's attention on attention_mma.cu", ["SAM", "EVA02", "vision graph", "end to end caption"]),
    "mlp": ("PIXELLLM_FUSED_MLP=1: the point head as mlp.cu's one launch", ["point rerun", "end to end caption"]),
    "swiglu-norm": ("PIXELLLM_FUSED_SWIGLU_NORM=1: EVA02's gate and sub-LN in one launch", ["EVA02", "vision graph"]),
    "vision-all": ("PIXELLLM_GRID_ATTENTION=1 PIXELLLM_MMA_ATTENTION=1 PIXELLLM_FUSED_SWIGLU_NORM=1: every vision switch of session 20", ["SAM", "EVA02", "vision graph", "end to end caption"]),
    "fused-prefetch": ("PIXELLLM_FUSED_LAYER=1 PIXELLLM_PREFETCH_L2=16: one launch per layer, phases prefetching", ["decode step, beam 1"]),
    "stream-132": ("PIXELLLM_FUSED_LAYER=stream, 132 blocks: the streamed stack, one block per SM", ["decode step, beam 1", "decode step, beam 4"]),
    "stream": ("PIXELLLM_FUSED_LAYER=stream: the decoder stack in one launch", ["decode step, beam 1", "decode step, beam 4"]),
    "fused": ("PIXELLLM_FUSED_LAYER=1: one launch per layer, one row too", ["decode step, beam 1"]),
    "async": ("PIXELLLM_FUSED_LAYER=async: cp.async layer kernel", ["decode step, beam 1"]),
    "unfused": ("PIXELLLM_FUSED_LAYER=0: eight ops per layer", ["decode step, beam 1", "decode step, beam 4"]),
    "fused-attention": ("PIXELLLM_FUSED_ATTENTION_FLOPS=16777216: short attention as attention.cu's one launch", ["T5 encoder", "point rerun"]),
    "tune": ("PIXELLLM_GEMM_TUNE=1: cuBLASLt candidates timed per shape", ["SAM", "EVA02", "T5 encoder", "point rerun"]),
    "skinny": ("PIXELLLM_SKINNY_GEMM=1: 9-64-row Linears on gemm_skinny.cu", ["T5 encoder", "point rerun"]),
    "lanes": ("PIXELLLM_CONCURRENT_LANES=1: SAM on a second stream beside EVA02", ["vision graph", "end to end caption"]),
    "noresidual": ("PIXELLLM_RESIDUAL_EPILOGUE=0: residual added after the GEMM", ["SAM", "EVA02", "prompt adapter"]),
}


def stages(path):
    with open(path) as f:
        return {s["stage"]: s["best_ms"] for s in json.load(f)["stages"]}


def main():
    out = sys.argv[1]
    default_path = os.path.join(out, "bench-t5xl.json")
    if not os.path.exists(default_path):
        print("variants: no bench-t5xl.json (the default bench did not run)")
        return
    default = stages(default_path)
    print(f"{'variant':<16} {'stage':<42} {'default ms':>10} {'variant ms':>10} {'change':>8}")
    for name, (what, deciding) in VARIANTS.items():
        path = os.path.join(out, f"bench-t5xl-{name}.json")
        if not os.path.exists(path):
            print(f"{name:<16} (not run)")
            continue
        variant = stages(path)
        verdict = []
        for stage, ms in variant.items():
            if stage not in default:
                continue
            change = (ms - default[stage]) / default[stage] * 100
            print(f"{name:<16} {stage[:42]:<42} {default[stage]:>10.2f} {ms:>10.2f} {change:>+7.1f}%")
            if any(stage.startswith(d) for d in deciding):
                verdict.append(change)
        if verdict:
            faster = all(c < -1 for c in verdict)
            print(f"{'':<16} → {what}: {'FASTER on every deciding stage' if faster else 'not faster'}"
                  f" ({', '.join(f'{c:+.1f}%' for c in verdict)})")

    batch_path = os.path.join(out, "bench-t5xl-batch.json")
    if os.path.exists(batch_path):
        batch = stages(batch_path)
        one = next((ms for st, ms in batch.items() if st.startswith("end to end caption")), None)
        four = next((ms for st, ms in batch.items() if st.startswith("end to end, 4 images")), None)
        if one and four:
            print(f"batch: 1 image {one:.2f} ms, 4 images in one batch {four:.2f} ms = {four / 4:.2f} ms per image "
                  f"({one * 4 / four:.2f}x the throughput of one at a time)")


if __name__ == "__main__":
    main()
