#!/usr/bin/env bash
# Runs ON the device machine from the repo root, after bench/gpu/prepare.sh here and `run` with carry [".gpu"]:
#   run(command="bash .gpu/run.sh", carry=[".gpu"], timeout_s=540)
# One call does everything so the numbers come from one card and one lease; logs and JSON go to $OUT, a table last.
set -uo pipefail
OUT="${OUT:-/tmp/pixelllm-gpu}"; mkdir -p "$OUT"
cli=.gpu/bin/pixelllm
export XDG_CACHE_HOME="$OUT/cache"
status() { printf '%-34s %s\n' "$1" "$2" | tee -a "$OUT/summary.txt"; }
step() { local name=$1; shift; local t0=$SECONDS; "$@" >"$OUT/$name.log" 2>&1; local rc=$?; status "$name" "rc=$rc $((SECONDS - t0))s $(tail -1 "$OUT/$name.log")"; return $rc; }

{ nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; ldconfig -p | grep -E 'libnvrtc|libcublas|libcuda\.so'; \
  ls /usr/local/cuda/lib64 2>/dev/null | grep -E 'nvrtc|cublas' ; python3 -c 'import torch;print("torch",torch.__version__,torch.version.cuda)'; } >"$OUT/env.log" 2>&1
head -3 "$OUT/env.log"
step info "$cli" info
step kernels-sm90 "$cli" kernels --arch sm_90
step check-f32 "$cli" backend-check --backend cuda --json
step check-bf16 "$cli" backend-check --backend cuda --storage bf16 --json
for json in $(find .gpu/golden -name '*.json' | sort); do
    case_prefix="${json%.json}"
    [[ -f $case_prefix.io.safetensors ]] || continue
    step "verify-$(basename "$case_prefix")" "$cli" verify "$case_prefix" --backend cuda --quiet
done
if command -v compute-sanitizer >/dev/null; then
    step sanitizer compute-sanitizer --tool memcheck --error-exitcode 9 "$cli" backend-check --backend cuda --op Attention
fi
# CUDA-graph replay of the decode step == the same step launched eagerly (logits of every step, beams 1 and 4).
step graph-check-tiny-f32 "$cli" graph-check --backend cuda --config pixelllm-tiny --beams 1,4 --steps 20
step graph-check-tiny-bf16 "$cli" graph-check --backend cuda --config pixelllm-tiny --beams 1,4 --steps 20 --storage bf16
step graph-check-t5xl-bf16 "$cli" graph-check --backend cuda --config pixelllm-t5xl --beams 1,4 --steps 6 --storage bf16
step bench "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --json "$OUT/bench-t5xl.json"
# Same stages eagerly (graphs off) for the replay speed-up, then profiled: per-op device time, launches per decode step.
PIXELLLM_CUDA_GRAPHS=0 step bench-eager "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --stages decode,decode4 --runs 1 \
    --json "$OUT/bench-t5xl-eager.json"
step bench-profile "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda --stages sam,eva02,t5-encode,decode,decode4 --runs 1 \
    --profile --profile-json "$OUT/profile-t5xl.json"
step pytorch-baseline timeout 240 python3 .gpu/pytorch_baseline.py
grep -h 'launches per decode step' "$OUT/bench-profile.log" | tee -a "$OUT/summary.txt"
echo; echo "== summary ($(nvidia-smi --query-gpu=name --format=csv,noheader | head -1))"; cat "$OUT/summary.txt"
