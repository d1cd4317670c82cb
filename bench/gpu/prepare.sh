#!/usr/bin/env bash
# Run HERE (no GPU needed): publishes the CLI self-contained into .gpu/bin and copies what the device run reads
# (goldens, the PyTorch baseline) into .gpu/, which `run` carries to the device machine (no .NET there).
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
cd "$root"
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo /.gpu/ >> "$(git rev-parse --git-path info/exclude)"
rm -rf .gpu && mkdir -p .gpu/golden
dotnet publish src/PixelLLM.Cli -c Release -r linux-x64 --self-contained -p:PublishSingleFile=true -p:PublishTrimmed=true -p:EnableCompressionInSingleFile=true \
    -p:DebugType=none -p:GenerateDocumentationFile=false -o .gpu/bin --nologo -v quiet
cp bench/gpu/run.sh bench/gpu/compare.py bench/gpu/variants.py bench/gpu/timeline.py bench/gpu/fence_probe.py .gpu/
cp "${PIXELLLM_BASELINE:-../shared/bench/pytorch_baseline.py}" .gpu/ 2>/dev/null || cp bench/pytorch_baseline.py .gpu/
# Goldens: all of them (≈16 MB; whole-model cases share weight files across cases, so copy folders whole).
# Everything (tree + .gpu) must stay under run's 64 MiB carry limit.
[[ -d /work/shared/golden ]] && cp -r /work/shared/golden/. .gpu/golden/
du -sh .gpu
