#!/usr/bin/env bash
# Runs ON the device machine from the repo root, after bench/gpu/prepare.sh here and `run` with carry [".gpu"]:
#   run(command="PIXELLLM_GPU_BUDGET=420 bash .gpu/run.sh", carry=[".gpu"], timeout_s=450)
# (Every phase took ~330 s on an H200 in run 10 and 317 s in run 11; session 18 moved run 11's measured A/Bs behind the
# `ab` phase and added ~15 checks and ~9 benches, an estimated ~480 s: budget ~540 s, timeout_s=570 in one call on a
# 15-minute lease. Sessions 19-21 added ~20 checks, ~10 benches and ~2 minutes of diagnostics (fence probe, timelines),
# which run last in the bench phase: at 540 s expect the PyTorch baseline to be skipped (run 11's eager numbers stand;
# PIXELLLM_GPU_PHASES=bench,baseline skips the checks when a second call can measure it). Steps run in order
# checks → bench (A/B benches, then diagnostics) → baseline, so a short budget loses the baseline first.)
# One call does everything so the numbers come from one card and one lease. Every step has its own time cap and the whole
# script a budget (PIXELLLM_GPU_BUDGET seconds): a step that would start past it is skipped and says so, so a hang or a slow
# step never costs the rest. PIXELLLM_GPU_PHASES picks phases (default checks,bench,baseline; tune runs `pixelllm tune`; ab adds the A/B benches of
# switches already measured, aot the nvcc-built kernels); PIXELLLM_GPU_COMPILE=1 adds
# the torch.compile baseline. $OUT gets summary.txt, the bench/profile/baseline JSON and logs.tgz (every step's log);
# the summary table is printed last. PIXELLLM_GPU_DRY_RUN=1 runs nothing and lists every step's command in
# $OUT/dry-run.txt (what CI checks: GpuScriptTests).
set -uo pipefail
OUT="${OUT:-/tmp/pixelllm-gpu}"; LOGS="$OUT/logs"; mkdir -p "$LOGS"
BUDGET="${PIXELLLM_GPU_BUDGET:-420}"
PHASES=",${PIXELLLM_GPU_PHASES:-checks,bench,baseline},"
cli=.gpu/bin/pixelllm
export XDG_CACHE_HOME=/tmp/pixelllm-cache DOTNET_CLI_TELEMETRY_OPTOUT=1
# NVRTC 13 / cuBLAS 13 may live only in the toolkit or in pip's nvidia wheels: put every folder holding them on the path.
for lib in libnvrtc.so.1 libcublas.so.1 libcublasLt.so.1 libcupti.so.1; do
    for f in $( (ldconfig -p | awk '{print $NF}'; find /usr/local/cuda*/ /opt -name "$lib*" 2>/dev/null) | grep "/$lib" | head -3); do
        LD_LIBRARY_PATH="$(dirname "$f"):${LD_LIBRARY_PATH:-}"
    done
done
export LD_LIBRARY_PATH

summary() { printf '%-30s %s\n' "$1" "$2" >>"$OUT/summary.txt"; echo "[${SECONDS}s] $1: ${2:0:60}"; }
# step NAME CAP_SECONDS command...: runs under min(CAP, what is left of the budget), logs to $LOGS/NAME.log.
step() {
    local name=$1 cap=$2; shift 2
    local left=$(( BUDGET - SECONDS - 5 ))
    if (( left < 10 )); then summary "$name" "skipped (budget ${BUDGET}s spent)"; return 0; fi
    (( cap > left )) && cap=$left
    if [[ ${PIXELLLM_GPU_DRY_RUN:-0} == 1 ]]; then
        # CI's check of this script (GpuScriptTests): record the command, one argument per field, and run nothing.
        : >"$LOGS/$name.log"; { printf '%s' "$name"; printf '\x1f%s' "$@"; printf '\n'; } >>"$OUT/dry-run.txt"
        summary "$name" "dry run"; return 0
    fi
    local t0=$SECONDS
    timeout --kill-after=5 "$cap" "$@" >"$LOGS/$name.log" 2>&1; local rc=$?
    local why=""; (( rc == 124 || rc == 137 )) && why=" TIMEOUT(${cap}s)"
    summary "$name" "rc=$rc$why $((SECONDS - t0))s | $(grep -v '^\s*$' "$LOGS/$name.log" | tail -1 | cut -c1-150)"
    return $rc
}
phase() { [[ $PHASES == *",$1,"* ]]; }

{ nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"; ldconfig -p | grep -E 'libnvrtc|libcublas|libcuda\.so'
  python3 -c 'import torch;print("torch",torch.__version__,torch.version.cuda)'; } >"$LOGS/env.log" 2>&1
head -2 "$LOGS/env.log"
step info 30 "$cli" info
grep -E '^(cuda|nvrtc|cublas|cupti)' "$LOGS/info.log"

if phase checks; then
    # Compiles every kernel file in parallel (66 s serially in run 10) into the kernel cache under the keys the backend
    # reads, so no later step compiles (check-f32 spent 35 s compiling in run 10).
    step kernels-sm90 120 "$cli" kernels --arch sm_90
    step check-f32 120 "$cli" backend-check --backend cuda --json
    step check-bf16 120 "$cli" backend-check --backend cuda --storage bf16 --json
    # cuBLASLt's bias epilogue is the default (checked in run 3): the same catalog with it switched off (plain cuBLAS + bias op).
    step check-nolt-f32 120 env PIXELLLM_CUBLASLT=0 "$cli" backend-check --backend cuda --json
    step check-nolt-bf16 120 env PIXELLLM_CUBLASLT=0 "$cli" backend-check --backend cuda --storage bf16 --json
    # Session 14 (not yet on a device): a Linear's residual is cuBLASLt's C input in the bias epilogue (the encoders' skip
    # connections); the Linear cases once more with the residual added after the GEMM instead, as before.
    step check-noresidual-bf16 60 env PIXELLLM_RESIDUAL_EPILOGUE=0 "$cli" backend-check --backend cuda --storage bf16 --op Linear,GroupedLinear --json
    # Programmatic dependent launch (passes on an H100 and H200, off by default: no faster in graphs). Only bf16 now: the
    # f32 pass recompiled every kernel for 62 s and has passed in runs 6-10.
    step check-pdl-bf16 120 env PIXELLLM_PDL=1 "$cli" backend-check --backend cuda --storage bf16 --json
    # The per-window strided GEMMs that PIXELLLM_POINTER_GEMM=0 brings back.
    step check-nopointer-bf16 120 env PIXELLLM_POINTER_GEMM=0 PIXELLLM_FUSED_ATTENTION_FLOPS=0 "$cli" backend-check --backend cuda --storage bf16 --op Attention,GridAttention,RotaryAttention --json
    # The small attention cases take the cuBLAS path only without the fused-attention work limit (session 13's default).
    # Short attention is on cuBLAS by default since run 11; these keep attention.cu's fused route checked.
    step check-fused-attention-f32 60 env PIXELLLM_FUSED_ATTENTION_FLOPS=16777216 "$cli" backend-check --backend cuda --op Attention --json
    step check-fused-attention-bf16 60 env PIXELLLM_FUSED_ATTENTION_FLOPS=16777216 "$cli" backend-check --backend cuda --storage bf16 --op Attention --json
    # T5DecoderLayer as its eight ops (PIXELLLM_FUSED_LAYER=0), and as one launch on every row count (=1; by default one
    # row runs as ops, so the plain checks above run the kernel on the 2-4-row cases only).
    step check-unfused-bf16 120 env PIXELLLM_FUSED_LAYER=0 "$cli" backend-check --backend cuda --storage bf16 --op T5DecoderLayer --json
    step check-fused-f32 120 env PIXELLLM_FUSED_LAYER=1 "$cli" backend-check --backend cuda --op T5DecoderLayer --json
    step check-fused-bf16 120 env PIXELLLM_FUSED_LAYER=1 "$cli" backend-check --backend cuda --storage bf16 --op T5DecoderLayer --json
    # The one-row _async kernel (first weights copied into shared memory; not yet measured), checked the same way.
    step check-async-f32 120 env PIXELLLM_FUSED_LAYER=async "$cli" backend-check --backend cuda --op T5DecoderLayer --json
    step check-async-bf16 120 env PIXELLLM_FUSED_LAYER=async "$cli" backend-check --backend cuda --storage bf16 --op T5DecoderLayer --json
    # decoder_layer_stream.cu (PIXELLLM_FUSED_LAYER=stream, not yet measured): persistent blocks, three tiles of weights in
    # flight each; a decode step's whole decoder stack (T5DecoderStack, up to 24 layers) in one launch. With the grid
    # forced to 3 and 1 blocks, every block takes many tickets across every phase and layer hand-off.
    step check-stream-f32 120 env PIXELLLM_FUSED_LAYER=stream "$cli" backend-check --backend cuda --op T5DecoderLayer,T5DecoderStack --json
    step check-stream-bf16 120 env PIXELLLM_FUSED_LAYER=stream "$cli" backend-check --backend cuda --storage bf16 --op T5DecoderLayer,T5DecoderStack --json
    step check-stream-grid3-bf16 120 env PIXELLLM_FUSED_LAYER=stream PIXELLLM_STREAM_LAYER_BLOCKS=3 "$cli" backend-check --backend cuda --storage bf16 --op T5DecoderLayer,T5DecoderStack --json
    step check-stream-grid1-f32 120 env PIXELLLM_FUSED_LAYER=stream PIXELLLM_STREAM_LAYER_BLOCKS=1 "$cli" backend-check --backend cuda --op T5DecoderLayer,T5DecoderStack --json
    for case in t5/cfgA pixelllm/caption_trace pixelllm/loca_caption; do
        [[ -f .gpu/golden/$case.json ]] && step "verify-stream-${case//\//-}" 60 env PIXELLLM_FUSED_LAYER=stream "$cli" verify ".gpu/golden/$case" --backend cuda --quiet
    done
    step graph-check-t5xl-stream 90 env PIXELLLM_FUSED_LAYER=stream "$cli" graph-check --backend cuda --config pixelllm-t5xl --beams 1,4 --steps 6 --storage bf16
    # Session 18 (not yet on a device): with PIXELLLM_PREFETCH_L2=N each one-row decode GEMV asks L2 for the next N MB
    # of decoder weights, and each phase of decoder_layer.cu (beams) for the next phase's (prefetch.cuh). Results cannot
    # change; the kernels' new arguments and ranges are what is checked (1-row cases: the GEMVs; 2-4 rows: the layer).
    step check-prefetch-bf16 90 env PIXELLLM_PREFETCH_L2=16 "$cli" backend-check --backend cuda --storage bf16 \
        --op T5DecoderStack,T5DecoderLayer,QkvProjection,Linear,RmsNormLinear,RmsNormGeGlu --json
    step check-prefetch-f32 90 env PIXELLLM_PREFETCH_L2=16 "$cli" backend-check --backend cuda --op T5DecoderStack,T5DecoderLayer --json
    [[ -f .gpu/golden/pixelllm/caption_trace.json ]] && step verify-prefetch-pixelllm-caption_trace 60 env PIXELLLM_PREFETCH_L2=16 \
        "$cli" verify .gpu/golden/pixelllm/caption_trace --backend cuda --quiet
    # Session 18: attention_decode.cu staging its keys and values in shared memory first (PIXELLLM_STAGED_ATTENTION=1; the
    # same arithmetic in the same order, so the same results as without). The graph check replays both session-18
    # decode switches together (prefetch too).
    step check-staged-f32 60 env PIXELLLM_STAGED_ATTENTION=1 "$cli" backend-check --backend cuda --op Attention,T5DecoderLayer,T5DecoderStack --json
    step check-staged-bf16 60 env PIXELLLM_STAGED_ATTENTION=1 "$cli" backend-check --backend cuda --storage bf16 --op Attention,T5DecoderLayer,T5DecoderStack --json
    step graph-check-t5xl-staged 90 env PIXELLLM_STAGED_ATTENTION=1 PIXELLLM_PREFETCH_L2=16 "$cli" graph-check --backend cuda --config pixelllm-t5xl --beams 1,4 --steps 6 --storage bf16
    # Session 19: a one-row decode layer's attentions in the tail of the projection launch before each
    # (PIXELLLM_GEMV_ATTENTION=1, gemv_attention.cu): the 1-row layer and stack cases (26 layers: 52 launches reusing the
    # per-head counters), the t5 and caption goldens, and a replayed beam-1 step (the counters reset by every launch).
    step check-gemv-attention-f32 60 env PIXELLLM_GEMV_ATTENTION=1 "$cli" backend-check --backend cuda --op T5DecoderLayer,T5DecoderStack --json
    step check-gemv-attention-bf16 60 env PIXELLLM_GEMV_ATTENTION=1 "$cli" backend-check --backend cuda --storage bf16 --op T5DecoderLayer,T5DecoderStack --json
    for case in t5/cfgA pixelllm/loca_caption pixelllm/referring; do
        [[ -f .gpu/golden/$case.json ]] && step "verify-gemv-attention-${case//\//-}" 60 env PIXELLLM_GEMV_ATTENTION=1 "$cli" verify ".gpu/golden/$case" --backend cuda --quiet
    done
    step graph-check-t5xl-gemv-attention 90 env PIXELLLM_GEMV_ATTENTION=1 "$cli" graph-check --backend cuda --config pixelllm-t5xl --beams 1 --steps 6 --storage bf16
    # Session 18: the GEMM path's softmax a warp per row (PIXELLLM_WARP_SOFTMAX=1; the vision encoders' attention).
    step check-warp-softmax-f32 60 env PIXELLLM_WARP_SOFTMAX=1 "$cli" backend-check --backend cuda --op Attention,GridAttention,RotaryAttention --json
    step check-warp-softmax-bf16 60 env PIXELLLM_WARP_SOFTMAX=1 "$cli" backend-check --backend cuda --storage bf16 --op Attention,GridAttention,RotaryAttention --json
    for case in sam_image_encoder/cfgA eva02/cfgA_mim_avgpool pixelllm/caption_trace; do
        [[ -f .gpu/golden/$case.json ]] && step "verify-warp-softmax-${case//\//-}" 60 env PIXELLLM_WARP_SOFTMAX=1 "$cli" verify ".gpu/golden/$case" --backend cuda --quiet
    done
    # Session 18: SAM's relative-position terms a lane per term over tables in shared memory (PIXELLLM_STAGED_REL_POS=1).
    step check-staged-relpos-f32 60 env PIXELLLM_STAGED_REL_POS=1 "$cli" backend-check --backend cuda --op RelPosBias,Attention,GridAttention,RotaryAttention --json
    step check-staged-relpos-bf16 60 env PIXELLLM_STAGED_REL_POS=1 "$cli" backend-check --backend cuda --storage bf16 --op RelPosBias,Attention,GridAttention,RotaryAttention --json
    [[ -f .gpu/golden/sam_image_encoder/cfgA.json ]] && step verify-staged-relpos-sam 60 env PIXELLLM_STAGED_REL_POS=1 PIXELLLM_WARP_SOFTMAX=1 \
        "$cli" verify .gpu/golden/sam_image_encoder/cfgA --backend cuda --quiet
    # Session 19: attention_mma.cu rewritten (run 11 measured the first version 7-30 % slower than the cuBLAS path): a kernel
    # per head dim, K/V tiles double-buffered by cp.async, ldmatrix fragments, the rel-pos terms staged once per block.
    step check-mma-bf16 120 env PIXELLLM_MMA_ATTENTION=1 "$cli" backend-check --backend cuda --storage bf16 --op Attention,GridAttention,RotaryAttention --json
    step check-mma-f16 120 env PIXELLLM_MMA_ATTENTION=1 "$cli" backend-check --backend cuda --storage f16 --op Attention,GridAttention,RotaryAttention --json
    # (Session 20: with the switch, EVA02's RotaryAttention is rotary_attention.cu's one launch, q and k rotated as they load.)
    # Session 20: SAM's attention blocks are one op (GridAttention: partition, rel-pos terms, attention, un-partition);
    # PIXELLLM_GRID_ATTENTION=1 runs the 16-bit ones as grid_attention.cu's one launch (windows read in place, the terms
    # on tensor cores in the block): five catalog cases on it (SAM ViT-H's own two blocks, d80 14x14 windows over 24x24
    # with 2 heads, a whole 10x13 grid, zero-padded windows), and the others still as their steps.
    step check-grid-bf16 60 env PIXELLLM_GRID_ATTENTION=1 "$cli" backend-check --backend cuda --storage bf16 --op GridAttention --json
    step check-grid-f16 60 env PIXELLLM_GRID_ATTENTION=1 "$cli" backend-check --backend cuda --storage f16 --op GridAttention --json
    # Session 20: the point head (MlpOp: pre-LayerNorm, 4 Linears, GELUs) as mlp.cu's one launch (PIXELLLM_FUSED_MLP=1,
    # layers handing rows to each other through counters; f32 too): its catalog cases, then the goldens with points.
    step check-mlp-f32 60 env PIXELLLM_FUSED_MLP=1 "$cli" backend-check --backend cuda --op Mlp --json
    step check-mlp-bf16 60 env PIXELLLM_FUSED_MLP=1 "$cli" backend-check --backend cuda --storage bf16 --op Mlp --json
    for case in pixelllm/caption_trace pixelllm_git/caption_trace pixelllm_densecap/densecap; do
        [[ -f .gpu/golden/$case.json ]] && step "verify-mlp-${case//\//-}" 60 env PIXELLLM_FUSED_MLP=1 "$cli" verify ".gpu/golden/$case" --backend cuda --quiet
    done
    # Session 20: EVA02's gate and sub-LayerNorm (SwiGluNormOp) as swiglu_norm.cu's one launch (PIXELLLM_FUSED_SWIGLU_NORM=1;
    # f32 too): its catalog cases, then the EVA02 goldens and the whole model with it.
    step check-swiglu-norm-f32 60 env PIXELLLM_FUSED_SWIGLU_NORM=1 "$cli" backend-check --backend cuda --op SwiGluNorm --json
    step check-swiglu-norm-bf16 60 env PIXELLLM_FUSED_SWIGLU_NORM=1 "$cli" backend-check --backend cuda --storage bf16 --op SwiGluNorm --json
    for case in eva02/cfgA_mim_avgpool eva02/cfgB_clip_token_nonsquare pixelllm/caption_trace; do
        [[ -f .gpu/golden/$case.json ]] && step "verify-swiglu-norm-${case//\//-}" 60 env PIXELLLM_FUSED_SWIGLU_NORM=1 "$cli" verify ".gpu/golden/$case" --backend cuda --quiet
    done
    # cuBLASLt's candidate algorithms timed per shape, the fastest kept (PIXELLLM_GEMM_TUNE=1; not yet measured): the
    # GEMM cases, then the vision goldens with it.
    step check-tune-f32 90 env PIXELLLM_GEMM_TUNE=1 "$cli" backend-check --backend cuda --op Linear,Conv2d,GroupedLinear,MatMul,Attention,GridAttention,RotaryAttention --json
    step check-tune-bf16 90 env PIXELLLM_GEMM_TUNE=1 "$cli" backend-check --backend cuda --storage bf16 --op Linear,Conv2d,GroupedLinear,MatMul,Attention,GridAttention,RotaryAttention --json
    # gemm_skinny.cu for 9–64-row 16-bit Linears (PIXELLLM_SKINNY_GEMM=1; not yet measured): the Linear cases in bf16
    # (its four skinny ones: split-K, one split, every row-tile count; the goldens run in f32 storage, which it does not
    # take); bench-skinny's e2e line says whether every replayed run (the T5 encoder on it) gave the warm-up's tokens.
    step check-skinny-bf16 60 env PIXELLLM_SKINNY_GEMM=1 "$cli" backend-check --backend cuda --storage bf16 --op Linear --json
    step check-skinny-f16 60 env PIXELLLM_SKINNY_GEMM=1 "$cli" backend-check --backend cuda --storage f16 --op Linear --json
    # SAM on a second stream beside EVA02 (PIXELLLM_CONCURRENT_LANES=1; not yet measured): the whole-model goldens with
    # it (each request's vision graph runs eagerly once; bench-lanes' e2e replays it as a recorded two-stream graph and
    # says whether every replay's tokens equal the eager warm-up's).
    for case in pixelllm/caption_trace pixelllm_git/caption_trace pixelllm_refseg/referring_segmentation pixelllm_densecap/densecap; do
        [[ -f .gpu/golden/$case.json ]] && step "verify-lanes-${case//\//-}" 60 env PIXELLLM_CONCURRENT_LANES=1 "$cli" verify ".gpu/golden/$case" --backend cuda --quiet
    done
    for case in sam_image_encoder/cfgA eva02/cfgA_mim_avgpool pixelllm/caption_trace; do
        [[ -f .gpu/golden/$case.json ]] && step "verify-tune-${case//\//-}" 60 env PIXELLLM_GEMM_TUNE=1 "$cli" verify ".gpu/golden/$case" --backend cuda --quiet
    done
    step graph-check-t5xl-async 90 env PIXELLLM_FUSED_LAYER=async "$cli" graph-check --backend cuda --config pixelllm-t5xl --beams 1 --steps 6 --storage bf16
    python3 - "$LOGS" <<'EOF' | tee -a "$OUT/summary.txt" >/dev/null
import json, sys, os
for s in ("f32", "bf16", "nolt-f32", "nolt-bf16", "noresidual-bf16", "pdl-bf16", "nopointer-bf16", "unfused-bf16", "fused-f32", "fused-bf16", "async-f32", "async-bf16", "stream-f32", "stream-bf16", "stream-grid3-bf16", "stream-grid1-f32", "prefetch-bf16", "prefetch-f32", "staged-f32", "staged-bf16", "gemv-attention-f32", "gemv-attention-bf16", "warp-softmax-f32", "warp-softmax-bf16", "staged-relpos-f32", "staged-relpos-bf16", "mma-bf16", "mma-f16", "grid-bf16", "grid-f16", "mlp-f32", "mlp-bf16", "swiglu-norm-f32", "swiglu-norm-bf16", "tune-f32", "tune-bf16", "skinny-bf16", "skinny-f16"):
    p = os.path.join(sys.argv[1], f"check-{s}.log")
    try:
        text = open(p).read(); r = json.loads(text[text.index("{"):])
    except Exception as e:
        print(f"check-{s}: no JSON ({e.__class__.__name__})"); continue
    bad = [c for c in r["cases"] if not c["passed"]]
    print(f"check-{s}: {r['passed']}/{r['total']} pass" + ("" if not bad else "; failing: " + ", ".join(
        f"{c['op']}/{c['case']} {c['error'] if c['error'] is not None else 'NaN'}{' ' + c['failure'][:60] if c['failure'] else ''}" for c in bad[:12])))
EOF
    for json in $(find .gpu/golden -name '*.json' | sort); do
        case_prefix="${json%.json}"
        [[ -f $case_prefix.io.safetensors ]] || continue
        rel="${case_prefix#.gpu/golden/}"
        step "verify-${rel//\//-}" 60 "$cli" verify "$case_prefix" --backend cuda --quiet
    done
    for pinned in weights-tools/trainer/out/pinned/demo_caption weights-tools/trainer/out/pinned/demo_referring; do
        [[ -f $pinned.json ]] && step "verify-$(basename "$pinned")" 60 "$cli" verify "$pinned" --backend cuda --quiet
    done
    # End to end on the bundled model: the README's caption on CUDA must give the CPU's tokens, at f32 (the bundled
    # directory's own precision) and at --precision bf16 (what a bf16 directory runs at by default).
    step e2e-cpu 60 "$cli" caption samples/scene_2000001.png --backend cpu --json "$LOGS/e2e-cpu.json"
    step e2e-cuda 60 "$cli" caption samples/scene_2000001.png --backend cuda --json "$LOGS/e2e-cuda.json"
    step e2e-cuda-bf16 60 "$cli" caption samples/scene_2000001.png --backend cuda --precision bf16 --json "$LOGS/e2e-cuda-bf16.json"
    python3 - "$LOGS" <<'EOF' | tee -a "$OUT/summary.txt" >/dev/null
import json, sys, os
for kind in ("cuda", "cuda-bf16"):
    try:
        a, b = (json.load(open(os.path.join(sys.argv[1], f"e2e-{k}.json")))["results"] for k in ("cpu", kind))
        same = [x["text"] for x in a] == [x["text"] for x in b] and [t.get("id") for x in a for t in x["tokens"]] == [t.get("id") for x in b for t in x["tokens"]]
        print(f"e2e cpu vs {kind}:", "SAME tokens" if same else f"DIFFERENT: cpu '{a[0]['text']}' {kind} '{b[0]['text']}'",
              "| boxes cpu", a[0]["box"], kind, b[0]["box"])
    except Exception as e:
        print(f"e2e cpu vs {kind}: not compared:", e)
EOF
    # Several images in one batch (caption IMAGE IMAGE...): CUDA against the CPU's batch, image by image.
    samples=(samples/scene_2000001.png samples/scene_2000002.png samples/scene_2000003.png)
    step e2e-batch-cpu 60 "$cli" caption "${samples[@]}" --backend cpu --json "$LOGS/e2e-batch-cpu.json"
    step e2e-batch-cuda 60 "$cli" caption "${samples[@]}" --backend cuda --json "$LOGS/e2e-batch-cuda.json"
    python3 - "$LOGS" <<'EOF' | tee -a "$OUT/summary.txt" >/dev/null
import json, sys, os
try:
    a, b = (json.load(open(os.path.join(sys.argv[1], f"e2e-batch-{k}.json"))) for k in ("cpu", "cuda"))
    ta, tb = ([d["results"][0]["text"] for d in x] for x in (a, b))
    print("e2e batch of 3 cpu vs cuda:", "SAME texts" if ta == tb else f"DIFFERENT: cpu {ta} cuda {tb}")
except Exception as e:
    print("e2e batch cpu vs cuda: not compared:", e)
EOF
    for case in t5/cfgA pixelllm/caption_trace pixelllm_refseg/referring_segmentation sam_image_encoder/cfgA; do
        [[ -f .gpu/golden/$case.json ]] && step "verify-pdl-${case//\//-}" 60 env PIXELLLM_PDL=1 "$cli" verify ".gpu/golden/$case" --backend cuda --quiet
    done
    step graph-check-tiny-f32 60 "$cli" graph-check --backend cuda --config pixelllm-tiny --beams 1,4 --steps 20
    step graph-check-tiny-bf16 60 "$cli" graph-check --backend cuda --config pixelllm-tiny --beams 1,4 --steps 20 --storage bf16
fi

if phase bench; then
    step bench 200 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 --runs 3 \
        --stages sam,eva02,vision,vision4,adapter,t5-encode,decode,decode4,rerun,e2e --json "$OUT/bench-t5xl.json"
    # Per op and, with --profile-launches, per kernel (the decoder stack is one node of many launches by default).
    step bench-profile 120 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 --stages sam,eva02,adapter,t5-encode,decode,decode4,rerun,e2e \
        --runs 1 --profile-launches --profile-json "$OUT/profile-t5xl.json" --profile-timeline "$OUT/timeline-t5xl.json"
    grep -h 'launches per' "$LOGS/bench-profile.log" | head -4 | tee -a "$OUT/summary.txt" >/dev/null
    # The decode step with its GEMVs prefetching 16 and 32 MB of the weights ahead into L2, and the beam-4 layer
    # kernels their next phase (session 18, the candidate for the 1.2x floor: DRAM kept busy through the ~200 launches'
    # gaps and the phase hand-offs), and where its time goes per kernel.
    for mb in 16 32; do
        step bench-prefetch-$mb 60 env PIXELLLM_PREFETCH_L2=$mb "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
            --stages decode,decode4,e2e --runs 3 --json "$OUT/bench-t5xl-prefetch-$mb.json"
    done
    step bench-staged 60 env PIXELLLM_STAGED_ATTENTION=1 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
        --stages decode,decode4,e2e --runs 3 --json "$OUT/bench-t5xl-staged.json"
    step bench-staged-prefetch 60 env PIXELLLM_STAGED_ATTENTION=1 PIXELLLM_PREFETCH_L2=16 "$cli" bench --config pixelllm-t5xl --random-weights \
        --backend cuda --dtype bf16 --stages decode,decode4,e2e --runs 3 --json "$OUT/bench-t5xl-staged-prefetch.json"
    # Session 19: the decode step with its attentions in the projections' launches, alone and with the prefetch.
    step bench-gemv-attention 60 env PIXELLLM_GEMV_ATTENTION=1 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
        --stages decode,e2e --runs 3 --json "$OUT/bench-t5xl-gemv-attention.json"
    step bench-gemv-attention-prefetch 60 env PIXELLLM_GEMV_ATTENTION=1 PIXELLLM_PREFETCH_L2=16 "$cli" bench --config pixelllm-t5xl --random-weights \
        --backend cuda --dtype bf16 --stages decode,e2e --runs 3 --json "$OUT/bench-t5xl-gemv-attention-prefetch.json"
    step bench-warp-softmax 90 env PIXELLLM_WARP_SOFTMAX=1 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
        --stages sam,eva02,t5-encode,rerun,e2e --runs 3 --json "$OUT/bench-t5xl-warp-softmax.json"
    step bench-staged-relpos 60 env PIXELLLM_STAGED_REL_POS=1 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
        --stages sam,e2e --runs 3 --json "$OUT/bench-t5xl-staged-relpos.json"
    step bench-vision-both 60 env PIXELLLM_STAGED_REL_POS=1 PIXELLLM_WARP_SOFTMAX=1 "$cli" bench --config pixelllm-t5xl --random-weights \
        --backend cuda --dtype bf16 --stages sam,eva02,e2e --runs 3 --json "$OUT/bench-t5xl-vision-both.json"
    # Session 19: the encoders' attention on tensor cores, flash-style (attention_mma.cu rewritten; the candidate for the
    # vision targets: run 11's profile had the cuBLAS path's attention at 2.9 of SAM's 8.4 ms and 2.5 of EVA02's 5.8), alone,
    # with the staged rel-pos terms, and where the encoders' time goes with it.
    step bench-mma 90 env PIXELLLM_MMA_ATTENTION=1 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
        --stages sam,eva02,vision,vision4,e2e --runs 3 --json "$OUT/bench-t5xl-mma.json"
    step bench-mma-relpos 60 env PIXELLLM_MMA_ATTENTION=1 PIXELLLM_STAGED_REL_POS=1 "$cli" bench --config pixelllm-t5xl --random-weights \
        --backend cuda --dtype bf16 --stages sam,eva02,vision,e2e --runs 3 --json "$OUT/bench-t5xl-mma-relpos.json"
    step bench-mma-profile 60 env PIXELLLM_MMA_ATTENTION=1 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
        --stages sam,eva02 --runs 1 --profile --profile-json "$OUT/profile-t5xl-mma.json"
    # Session 20: each of SAM's 32 attention blocks as grid_attention.cu's one launch (PIXELLLM_GRID_ATTENTION=1) in place of
    # partition, rel-pos terms, the cuBLAS attention and un-partition (4.6 of SAM's 8.4 profiled ms in run 11); alone, with
    # EVA02 on attention_mma.cu as well, and where the encoders' time goes with both.
    step bench-grid 90 env PIXELLLM_GRID_ATTENTION=1 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
        --stages sam,vision,vision4,e2e --runs 3 --json "$OUT/bench-t5xl-grid.json"
    step bench-grid-mma 90 env PIXELLLM_GRID_ATTENTION=1 PIXELLLM_MMA_ATTENTION=1 "$cli" bench --config pixelllm-t5xl --random-weights \
        --backend cuda --dtype bf16 --stages sam,eva02,vision,vision4,e2e --runs 3 --json "$OUT/bench-t5xl-grid-mma.json"
    step bench-grid-profile 60 env PIXELLLM_GRID_ATTENTION=1 PIXELLLM_MMA_ATTENTION=1 "$cli" bench --config pixelllm-t5xl --random-weights \
        --backend cuda --dtype bf16 --stages sam,eva02 --runs 1 --profile --profile-json "$OUT/profile-t5xl-grid.json"
    # Session 20: EVA02's gate and sub-LayerNorm in one launch (run 11: 0.35 + 0.33 of EVA02's 5.8 profiled ms), alone and
    # with every other vision switch of the session (grid, mma + rotary).
    step bench-swiglu-norm 60 env PIXELLLM_FUSED_SWIGLU_NORM=1 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
        --stages eva02,vision,e2e --runs 3 --json "$OUT/bench-t5xl-swiglu-norm.json"
    step bench-vision-all 90 env PIXELLLM_FUSED_SWIGLU_NORM=1 PIXELLLM_GRID_ATTENTION=1 PIXELLLM_MMA_ATTENTION=1 "$cli" bench --config pixelllm-t5xl \
        --random-weights --backend cuda --dtype bf16 --stages sam,eva02,vision,vision4,e2e --runs 3 --json "$OUT/bench-t5xl-vision-all.json"
    # Session 20: the point head in one launch (mlp.cu): the rerun stage runs it once per request.
    step bench-mlp 60 env PIXELLLM_FUSED_MLP=1 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
        --stages rerun,e2e --runs 3 --json "$OUT/bench-t5xl-mlp.json"
    # One launch per layer on one row too (decoder_layer.cu, 1.8 ms a step in run 10 against the eight ops' 1.6) with its
    # phases prefetching each other's weights: the other way the prefetch may reach the floor.
    step bench-fused-prefetch 60 env PIXELLLM_FUSED_LAYER=1 PIXELLLM_PREFETCH_L2=16 "$cli" bench --config pixelllm-t5xl --random-weights \
        --backend cuda --dtype bf16 --stages decode,e2e --runs 3 --json "$OUT/bench-t5xl-fused-prefetch.json"
    step bench-prefetch-profile 60 env PIXELLLM_PREFETCH_L2=16 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
        --stages decode,decode4 --runs 1 --profile-launches --profile-json "$OUT/profile-t5xl-prefetch.json"
    # (Left the script after they were measured: PDL's bench, no faster in graphs in runs 6 and 8; the pointer-array GEMMs'
    # and cuBLASLt's epilogue's, each faster and on since runs 3 and 9. Their checks stay.)
    # The decode step on decoder_layer_stream.cu (the 24 layers in one launch), every row count: the candidate for beam 1's
    # 1.2x floor target.
    step bench-stream 120 env PIXELLLM_FUSED_LAYER=stream "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
        --stages decode,decode4,e2e --runs 3 --json "$OUT/bench-t5xl-stream.json"
    # One block per SM instead of two: twice the tiles per block and phase, half the blocks at each hand-off (session 18:
    # run 11's profile put most of its 3.48 ms in ~192 phase hand-offs, about 1.6 tiles per block per phase).
    step bench-stream-132 90 env PIXELLLM_FUSED_LAYER=stream PIXELLLM_STREAM_LAYER_BLOCKS=132 "$cli" bench --config pixelllm-t5xl --random-weights \
        --backend cuda --dtype bf16 --stages decode,decode4 --runs 3 --json "$OUT/bench-t5xl-stream-132.json"
    # Its device time (T5DecoderStack µs a step and GB/s in the profile) against the weights it streams.
    # (ab: run 11 has this profile; bench-stream above says whether the fence change moved it.)
    phase ab && step bench-stream-profile 90 env PIXELLLM_FUSED_LAYER=stream "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
        --stages decode,decode4 --runs 1 --profile --profile-json "$OUT/profile-t5xl-stream.json"
    # The decode step with every T5 decoder layer as decoder_layer.cu's one launch (beam 1 too), and as eight launches.
    step bench-fused 120 env PIXELLLM_FUSED_LAYER=1 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
        --stages decode,decode4,e2e --runs 3 --json "$OUT/bench-t5xl-fused.json"
    # The A/Bs run 11 measured, of paths no change since touched (async, fused attention, no residual epilogue, lanes,
    # skinny: numbers and verdicts in docs/perf/gpu-h200.md): only with PIXELLLM_GPU_PHASES=...,ab, so that the
    # default run has the time for what is new. Their correctness checks above still run every time.
    if phase ab; then
        step bench-async 120 env PIXELLLM_FUSED_LAYER=async "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
            --stages decode,e2e --runs 3 --json "$OUT/bench-t5xl-async.json"
        # The T5 encoder's and the rerun's short attentions on the cuBLAS path (three launches each, before session 13)
        # against the default's one attention.cu launch.
        step bench-fused-attention 90 env PIXELLLM_FUSED_ATTENTION_FLOPS=16777216 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
            --stages t5-encode,rerun,e2e --runs 3 --json "$OUT/bench-t5xl-fused-attention.json"
        # The encoders' residual adds as before session 14 (an Add launch after the GEMM) against the default's cuBLASLt
        # epilogue.
        step bench-noresidual 90 env PIXELLLM_RESIDUAL_EPILOGUE=0 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
            --stages sam,eva02,adapter --runs 3 --json "$OUT/bench-t5xl-noresidual.json"
        step bench-lanes 90 env PIXELLLM_CONCURRENT_LANES=1 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
            --stages vision,e2e --runs 3 --json "$OUT/bench-t5xl-lanes.json"
        grep -ho "end to end.*tokens of every run == warm-up's: [a-zA-Z]*" "$LOGS/bench-lanes.log" | sed 's/  */ /g' | tee -a "$OUT/summary.txt" >/dev/null
    fi
    # Session 21: gemm_skinny.cu's split-K sum loads a group of splits at once (it paid an L2 round trip per four splits
    # and item, ~12 in series a call: part of run 11's 43-91 % against cuBLAS), so it is timed again by default.
    step bench-skinny 90 env PIXELLLM_SKINNY_GEMM=1 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
        --stages t5-encode,rerun,e2e --runs 3 --json "$OUT/bench-t5xl-skinny.json"
    grep -ho "end to end.*tokens of every run == warm-up's: [a-zA-Z]*" "$LOGS/bench-skinny.log" | sed 's/  */ /g; s/^/skinny: /' | tee -a "$OUT/summary.txt" >/dev/null
    # Session 20: GEMM tuning retimed with L2 evicted before every timed call (run 11 timed the candidates on operands the
    # call before had left in L2, and its picks, 29 % less summed per call, bought no stage anything): back in the default
    # run until it is measured again.
    step bench-tune 120 env PIXELLLM_GEMM_TUNE=1 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
        --stages sam,eva02,adapter,t5-encode,rerun,e2e --runs 3 --json "$OUT/bench-t5xl-tune.json"
    grep -h -A8 'GEMM tuning' "$LOGS/bench-tune.log" | tee -a "$OUT/summary.txt" >/dev/null
    phase ab && step bench-unfused 120 env PIXELLLM_FUSED_LAYER=0 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
        --stages decode,decode4,e2e --runs 3 --json "$OUT/bench-t5xl-unfused.json"
    # Last of the benches (the A/Bs above decide defaults): throughput, 4 different images in one batch (one vision pass over 4 × 576/730 rows, one decode of 4 rows).
    step bench-batch 120 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 --stages e2e,e2e4 --runs 3 \
        --json "$OUT/bench-t5xl-batch.json"
    # Diagnostics last, so that a short budget loses them before the A/B benches that decide the defaults.
    # Session 25: what the device ran in graph replay (CUPTI's activity records, where libcupti is found): per stage the
    # time some kernel ran, the gaps between kernels and the idle stretches, and the kernels by time — the decode step's
    # 2.3x its floor split into kernels below bandwidth and the device idle between them, without Nsight Systems; and
    # for a whole caption request, how much of its 52 ms the device sat idle between phases.
    step bench-kernel-trace 90 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 --stages sam,eva02,decode,decode4,e2e \
        --runs 2 --kernel-trace "$OUT/kernel-trace-t5xl.json"
    grep -h 'kernel trace:' "$LOGS/bench-kernel-trace.log" | tee -a "$OUT/summary.txt" >/dev/null
    # Session 24: the profile's node times with the stream held while the host queues (the default, bench-profile above)
    # against the old brackets, which also timed each launch's host latency (PIXELLLM_PROFILE_HOLD_MS=0).
    step bench-profile-nohold 60 env PIXELLLM_PROFILE_HOLD_MS=0 "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 \
        --stages sam,t5-encode,decode --runs 1 --profile-json "$OUT/profile-t5xl-nohold.json"
    # Session 21: does the hand-off fence of the dataflow kernels (thread 0's, with its copies of the next tiles in flight)
    # wait for those copies? A few seconds of cp.async streaming with and without it (fence_probe.py, driver + NVRTC only).
    step fence-probe 60 python3 .gpu/fence_probe.py --json "$OUT/fence-probe.json"
    # Session 21: a replayed beam-1 step on the device's own timeline (Nsight Systems, where the machine has it; graph
    # nodes traced one by one): how much of a step is kernels and how much idle between them — the open question behind
    # its 2.3x floor — by default, with programmatic dependent launch (which should close the gaps), with the attentions
    # inside the projections (48 fewer launches) and with the L2 prefetch (DRAM busy through the gaps).
    nsys_bin=$(command -v nsys || ls /usr/local/cuda*/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys 2>/dev/null | head -1)
    if [[ -n $nsys_bin ]]; then
        # name:environment:stage — the last, beam 4 (decoder_layer.cu's launch per layer), is captioning's default.
        for variant in default:TIMELINE=default:decode pdl:PIXELLLM_PDL=1:decode gemv-attention:PIXELLLM_GEMV_ATTENTION=1:decode \
                prefetch:PIXELLLM_PREFETCH_L2=16:decode beam4:TIMELINE=beam4:decode4; do
            IFS=: read -r name assignment stage <<<"$variant"; report=/tmp/pixelllm-timeline-$name
            step timeline-$name 90 env "$assignment" bash -c "'$nsys_bin' profile --trace=cuda --cuda-graph-trace=node -f true -o $report \
                    $cli bench --config pixelllm-t5xl --random-weights --backend cuda --dtype bf16 --stages $stage --runs 1 >/dev/null \
                && '$nsys_bin' stats --report cuda_gpu_trace --format csv --output $report $report.nsys-rep >/dev/null \
                && python3 .gpu/timeline.py ${report}_cuda_gpu_trace.csv --label $name --json $OUT/timeline-$name.json"
        done
    else
        summary timeline "skipped (no nsys on this machine)"
    fi
fi

if phase checks; then
    step graph-check-t5xl-bf16 90 "$cli" graph-check --backend cuda --config pixelllm-t5xl --beams 1,4 --steps 6 --storage bf16
    if command -v compute-sanitizer >/dev/null; then
        step sanitizer 60 compute-sanitizer --tool memcheck --error-exitcode 9 "$cli" backend-check --backend cuda --op Attention,BeamCandidates,GreedyPick,ReorderRows
        # The new kernels of sessions 11-19 that read or write through computed addresses: the skinny GEMM's split-K
        # partials and counters, the mma attention, the streamed decoder stack; then the one-row layers' gemv attention
        # (run as ops, which the stream switch would not do).
        step sanitizer-new 90 env PIXELLLM_SKINNY_GEMM=1 PIXELLLM_MMA_ATTENTION=1 PIXELLLM_GRID_ATTENTION=1 PIXELLLM_FUSED_MLP=1 \
            PIXELLLM_FUSED_SWIGLU_NORM=1 PIXELLLM_FUSED_LAYER=stream \
            compute-sanitizer --tool memcheck --error-exitcode 9 "$cli" backend-check --backend cuda --storage bf16 \
            --op Linear,Attention,GridAttention,RotaryAttention,Mlp,SwiGluNorm,T5DecoderLayer,T5DecoderStack
        step sanitizer-gemv-attention 60 env PIXELLLM_GEMV_ATTENTION=1 compute-sanitizer --tool memcheck --error-exitcode 9 "$cli" backend-check \
            --backend cuda --storage bf16 --op T5DecoderLayer,T5DecoderStack
        # A whole model with every tensor in an allocation of its own (session 23): inside one arena an overrun lands on
        # a neighbouring tensor, which memcheck cannot tell from a legal access. (CI runs every golden so on the emulator.)
        [[ -f .gpu/golden/pixelllm/caption_trace.json ]] && step sanitizer-isolated-caption-trace 60 env PIXELLLM_ISOLATE_TENSORS=1 \
            compute-sanitizer --tool memcheck --error-exitcode 9 "$cli" verify .gpu/golden/pixelllm/caption_trace --backend cuda --quiet
    fi
fi

# Opt-in (PIXELLLM_GPU_PHASES=...,tune; ~4 minutes): `pixelllm tune` checks and times every alternative path on top of
# the ones taken before it, in child processes on the defaults (the A/B benches above, decided the way a user's card
# decides them). The profile goes to $OUT/tuned.json, not the cache path, so no later step applies it; its verdict lines
# go into the summary. What it took is what to flip to a default for this card (bench/gpu/README.md, step 3).
if phase tune; then
    step tune 420 "$cli" tune --runs 3 --out "$OUT/tuned.json" --log "$LOGS/tune"
    grep -E '^(pixelllm tune|reference:|  [a-z0-9-]+ +(TAKEN|not taken)|tune:|tuned:)' "$LOGS/tune.log" >>"$OUT/summary.txt" 2>/dev/null
fi

# Opt-in (PIXELLLM_GPU_PHASES=...,product; ~2.5 minutes): the user's path at full size, which `bench` does not take — a
# T5-XL PixelLLM directory written in bf16 (`init`, 7.7 GB) captioned by the `caption` command with --backend cuda at
# its default precision (auto: bf16), cold (load, upload, kernels from the cache, one request) and then with its
# --profile (per-op device time of that request) — against bench's e2e, which runs the same graphs on generated weights;
# then `bench --model` times the same directory's requests warm through the API (greedy, and the task's own 4 beams):
# its greedy caption against bench's e2e line is what the product path costs beyond the stages.
if phase product; then
    step product-init 120 "$cli" init --config pixelllm-t5xl --dtype bf16 --out /tmp/pixelllm-t5xl-bf16
    step product-caption 120 "$cli" caption samples/scene_2000001.png --model /tmp/pixelllm-t5xl-bf16 --backend cuda --beams 1
    step product-caption-profile 120 "$cli" caption samples/scene_2000001.png --model /tmp/pixelllm-t5xl-bf16 --backend cuda --beams 1 \
        --profile-json "$LOGS/product-profile.json"
    step product-bench 150 "$cli" bench --model /tmp/pixelllm-t5xl-bf16 --backend cuda --runs 5 \
        --request '{"task":"caption","image":"samples/scene_2000001.png","beams":1}' --request '{"task":"caption","image":"samples/scene_2000001.png"}' \
        --json "$LOGS/product-bench.json"
    grep -E '^  (load|caption|peak resident) ' "$LOGS/product-bench.log" | cut -c1-170 >>"$OUT/summary.txt" 2>/dev/null
    rm -rf /tmp/pixelllm-t5xl-bf16
fi

# Opt-in (PIXELLLM_GPU_PHASES=...,aot): CMakeLists.txt's nvcc-built CUBINs for this card, loaded instead of NVRTC's
# (their stamps must match the carried sources), then the whole op catalog against the CPU on them.
if phase aot; then
    arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
    if command -v nvcc >/dev/null && command -v cmake >/dev/null; then
        step aot-build 150 bash -c "cmake -S . -B /tmp/pixelllm-aot -DPIXELLLM_CUDA_ARCHS=sm_$arch && cmake --build /tmp/pixelllm-aot -j 16"
        step aot-info 30 env PIXELLLM_KERNEL_CUBINS=/tmp/pixelllm-aot/kernels "$cli" info
        step aot-check-bf16 120 env PIXELLLM_KERNEL_CUBINS=/tmp/pixelllm-aot/kernels XDG_CACHE_HOME=/tmp/pixelllm-aot-cache \
            "$cli" backend-check --backend cuda --storage bf16 --json
    else
        summary aot "skipped (no nvcc or cmake on this machine)"
    fi
fi

if phase baseline; then
    compile=(); [[ ${PIXELLLM_GPU_COMPILE:-0} == 1 ]] && compile=(--compile)
    left=$(( BUDGET - SECONDS - 15 ))
    (( left > 30 )) && step pytorch-baseline "$left" env PYTHONUNBUFFERED=1 python3 .gpu/pytorch_baseline.py --batch 1 --repeats 5 \
        "${compile[@]}" --deadline-s $(( left - 20 )) --out "$OUT/pytorch_baseline.json"
fi

if [[ -f $OUT/bench-t5xl.json && -f $OUT/pytorch_baseline.json ]]; then
    # Without --compile in this run, PIXELLLM_COMPILED_FROM may name an earlier baseline JSON (same card) for those columns.
    from=(); [[ ${PIXELLLM_GPU_COMPILE:-0} != 1 && -f ${PIXELLLM_COMPILED_FROM:-} ]] && from=(--compiled-from "$PIXELLLM_COMPILED_FROM")
    { echo; python3 .gpu/compare.py "$OUT/bench-t5xl.json" "$OUT/pytorch_baseline.json" "${from[@]}"; } >>"$OUT/summary.txt" 2>&1
    # The same table with every vision switch of session 20 on: where the vision targets stand if they become defaults.
    [[ -f $OUT/bench-t5xl-vision-all.json ]] && { echo; echo "with PIXELLLM_GRID_ATTENTION=1 PIXELLLM_MMA_ATTENTION=1 PIXELLLM_FUSED_SWIGLU_NORM=1:"
        python3 .gpu/compare.py "$OUT/bench-t5xl-vision-all.json" "$OUT/pytorch_baseline.json" "${from[@]}"; } >>"$OUT/summary.txt" 2>&1
fi
# Each bench-<variant> against the default, stage by stage, with a verdict on the stages that variant targets.
[[ -f $OUT/bench-t5xl.json ]] && { echo; python3 .gpu/variants.py "$OUT"; } >>"$OUT/summary.txt" 2>&1
tar -czf "$OUT/logs.tgz" -C "$OUT" logs && rm -rf "$LOGS"
# The device tool brings back only a few files from $OUT (run 11 lost some JSON): everything but the summary goes into one
# archive (PIXELLLM_GPU_ARCHIVE=0 keeps the files as they are).
if [[ ${PIXELLLM_GPU_ARCHIVE:-1} == 1 ]]; then
    tar -czf /tmp/pixelllm-gpu-all.tgz -C "$OUT" --exclude=summary.txt . && find "$OUT" -mindepth 1 ! -name summary.txt -delete \
        && mv /tmp/pixelllm-gpu-all.tgz "$OUT/all.tgz"
fi
echo; echo "== summary ($(nvidia-smi --query-gpu=name --format=csv,noheader | head -1), ${SECONDS}s)"; cat "$OUT/summary.txt"
