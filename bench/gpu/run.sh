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
if "$cli" --help 2>/dev/null | grep -q '^ *bench'; then
    step bench "$cli" bench --config pixelllm-t5xl --random-weights --backend cuda
fi
step pytorch-baseline timeout 240 python3 .gpu/pytorch_baseline.py
echo; echo "== summary ($(nvidia-smi --query-gpu=name --format=csv,noheader | head -1))"; cat "$OUT/summary.txt"
