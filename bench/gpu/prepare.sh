#!/usr/bin/env bash
# Run HERE (no GPU needed): publishes the CLI self-contained into .gpu/bin and copies what the device run reads
# (goldens, the PyTorch baseline) into .gpu/, which `run` carries to the device machine (no .NET there).
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
cd "$root"
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo /.gpu/ >> "$(git rev-parse --git-path info/exclude)"
rm -rf .gpu && mkdir -p .gpu/golden
dotnet publish src/PixelLLM.Cli -c Release -r linux-x64 --self-contained -p:PublishSingleFile=true -o .gpu/bin --nologo -v quiet
cp bench/gpu/run.sh .gpu/
cp "${PIXELLLM_BASELINE:-../shared/bench/pytorch_baseline.py}" .gpu/ 2>/dev/null || cp bench/pytorch_baseline.py .gpu/
# Goldens: the small cases only (everything must stay under run's 64 MiB carry limit).
golden=/work/shared/golden
if [[ -d $golden ]]; then
    find "$golden" -name '*.json' -size -1M | while read -r json; do
        case_prefix="${json%.json}"
        size=$(du -cb "$case_prefix".* 2>/dev/null | tail -1 | cut -f1)
        if (( size < 8 * 1024 * 1024 )); then
            rel="${case_prefix#"$golden"/}"
            mkdir -p ".gpu/golden/$(dirname "$rel")"
            cp "$case_prefix".* ".gpu/golden/$(dirname "$rel")/"
        fi
    done
fi
du -sh .gpu
