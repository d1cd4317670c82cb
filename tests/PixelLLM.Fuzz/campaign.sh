#!/usr/bin/env bash
# The fuzzing campaign: AFL++ over SharpFuzz-instrumented parsers, one bounded run per target.
#   tests/PixelLLM.Fuzz/campaign.sh [SECONDS_PER_TARGET (default 1200)] [TARGET ...]
# Installs afl++ (Debian) and the sharpfuzz tool if missing, publishes the harness, instruments our assemblies, runs
# afl-fuzz per target from corpus/<target>/, copies every crash/hang into regressions/<target>/ (CI replays those through
# FuzzRegressionTests) and prints a table of time, executions, coverage and findings (also .build/fuzz/summary.md).
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.."
here=tests/PixelLLM.Fuzz
seconds=${1:-1200}; shift || true
work=.build/fuzz
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

if ! command -v afl-fuzz >/dev/null; then
    apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends afl++ >/dev/null
fi
if [[ ! -x .build/tools/sharpfuzz ]]; then
    dotnet tool install --tool-path .build/tools SharpFuzz.CommandLine --version 2.3.0 >/dev/null
fi

rm -rf "$work/bin"
dotnet publish "$here/PixelLLM.Fuzz.csproj" -c Release -o "$work/bin" -v q -nologo >/dev/null
for assembly in PixelLLM.Runtime.dll PixelLLM.Models.dll PixelLLM.Api.dll; do
    .build/tools/sharpfuzz "$work/bin/$assembly" >/dev/null
done

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then mapfile -t targets < <(ls "$here/corpus"); fi

export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
summary="$work/summary.md"
printf '| target | seconds | executions | exec/s | coverage (bitmap) | corpus | crashes | hangs |\n|---|---|---|---|---|---|---|---|\n' > "$summary"
stat() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$2"; }
for target in "${targets[@]}"; do
    out="$work/out/$target"
    rm -rf "$out"; mkdir -p "$work/out"
    echo "==> $target for ${seconds}s" >&2
    afl-fuzz -i "$here/corpus/$target" -o "$out" -V "$seconds" -t 10000 -m none \
        -- "$(command -v dotnet)" "$work/bin/pixelllm-fuzz.dll" "$target" >"$work/$target.log" 2>&1 || echo "afl-fuzz exited $? (see $work/$target.log)" >&2
    stats="$out/default/fuzzer_stats"
    [[ -f $stats ]] || { echo "no stats for $target" >&2; continue; }
    crashes=$(stat saved_crashes "$stats"); hangs=$(stat saved_hangs "$stats")
    for kind in crashes hangs; do
        for input in "$out/default/$kind"/id:*; do
            [[ -f $input ]] || continue
            mkdir -p "$here/regressions/$target"
            cp "$input" "$here/regressions/$target/$kind-$(sha1sum "$input" | cut -c1-12)"
        done
    done
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$target" "$(stat run_time "$stats")" "$(stat execs_done "$stats")" \
        "$(stat execs_per_sec "$stats")" "$(stat bitmap_cvg "$stats")" "$(stat corpus_count "$stats")" "$crashes" "$hangs" >> "$summary"
done
cat "$summary"
