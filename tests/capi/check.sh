#!/usr/bin/env bash
# The C library end to end, as a C or Python program uses it: libpixelllm.so compiled ahead of time (NativeAOT, warnings
# as errors), samples/c/requests.c compiled with -Werror against its header, then the same request lines answered by
# the library and by `pixelllm serve` — equal byte for byte except the "ms" timings (both compiled for this machine's
# vectors, so the CPU backend sums in the same order). Then the Python ctypes sample, the C++ wrapper's sample, decoded
# pixels and cancellation, a model that cannot open, and the CUDA backend from the library on tests/CudaEmulator (the
# same words and token ids as the CPU's).
# Needs the solution built (the serve side is src/PixelLLM.Cli's build). Usage: tests/capi/check.sh
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
cd "$root"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

dotnet publish src/PixelLLM.CApi -c Release -r linux-x64 -p:IlcInstructionSet=native -warnaserror -o "$work/lib" --nologo -v quiet
for f in libpixelllm.so pixelllm.h pixelllm.hpp libSkiaSharp.so; do [[ -f $work/lib/$f ]] || { echo "publish wrote no $f" >&2; exit 1; }; done
cc -std=c11 -Wall -Wextra -Werror -pedantic samples/c/requests.c -I"$work/lib" -L"$work/lib" -lpixelllm -Wl,-rpath,"$work/lib" -o "$work/requests"

scene="$root/samples/scene_2000001.png"
encoded="$(base64 -w0 "$scene")"
cat > "$work/requests.jsonl" <<JSON
{"id": 1, "task": "caption", "image": "$scene"}
{"id": "two boxes", "task": "caption", "image": "$scene", "boxes": [[4, 16, 22, 34], [44, 8, 74, 38]]}
{"id": 3, "task": "refer", "image_base64": "$encoded", "texts": ["the blue circle", "the yellow square"]}
{"id": 4, "task": "segment", "image": "$scene", "texts": ["the yellow square"], "beams": 1}
{"id": 5, "task": "info"}
{"id": 6, "task": "densecap", "image": "$scene"}
{"id": 7, "task": "caption", "image": "$scene", "boxes": [[500, 0, 600, 10]]}
{"id": 8, "task": "caption", "image": "$work/missing.png"}
{"id": 9, "task": "bogus"}
{"id": 10, "task": "caption", "image": "$scene", "id": 11}
not json
JSON

set +e
"$work/requests" models/default < "$work/requests.jsonl" > "$work/library.jsonl" 2> "$work/library.err"
code=$?
set -e
[[ $code -eq 1 ]] || { cat "$work/library.err" >&2; echo "requests exited $code, expected 1 (some requests fail)" >&2; exit 1; }
src/PixelLLM.Cli/bin/Release/net10.0/pixelllm serve --model models/default < "$work/requests.jsonl" | tail -n +2 > "$work/serve.jsonl"

no_ms() { sed -E 's/"ms":[0-9.]+,//' "$1"; }
[[ $(wc -l < "$work/library.jsonl") -eq 11 ]] || { echo "the library answered $(wc -l < "$work/library.jsonl") of 11 requests" >&2; exit 1; }
if ! diff <(no_ms "$work/serve.jsonl") <(no_ms "$work/library.jsonl") > "$work/diff.txt"; then
    head -c 4000 "$work/diff.txt" >&2
    echo "the library's answers differ from serve's" >&2
    exit 1
fi
grep -q '"id":1,"ok":true' "$work/library.jsonl" || { echo "the caption request did not succeed" >&2; exit 1; }
echo "C library: 11 answers equal to serve's ($(grep -c '"ok":true' "$work/library.jsonl") ok, $(grep -c '"ok":false' "$work/library.jsonl") refused)"

python3 samples/python/pixelllm_ctypes.py --library "$work/lib/libpixelllm.so" models/default "$scene" --stream > "$work/python.txt" 2> "$work/streamed.txt"
caption="$(head -1 "$work/python.txt")"
streamed="$(sed -E 's/^ +//' "$work/streamed.txt")"
[[ $streamed == "$caption" ]] || { echo "the streamed tokens read '$streamed', the caption '$caption'" >&2; exit 1; }
expected="$(sed -n 1p "$work/library.jsonl" | sed -E 's/.*"results":\[\{"text":"([^"]*)".*/\1/')"
[[ $caption == "$expected" ]] || { echo "Python sample printed '$caption', expected '$expected'" >&2; exit 1; }
echo "Python sample: $caption (streamed token by token: the same)"

# The C++ wrapper (pixelllm.hpp): built with -Werror -pedantic, streaming events, answering as the C sample does.
c++ -std=c++17 -Wall -Wextra -Werror -pedantic samples/cpp/caption.cpp -I"$work/lib" -L"$work/lib" -lpixelllm -Wl,-rpath,"$work/lib" -o "$work/caption-cpp"
"$work/caption-cpp" models/default "$scene" > "$work/cpp.jsonl" 2> "$work/cpp-events.txt"
printf '%s\n' "{\"task\": \"caption\", \"beams\": 1, \"image\": \"$scene\"}" | "$work/requests" models/default > "$work/c-beams1.jsonl" 2> /dev/null
diff <(no_ms "$work/c-beams1.jsonl") <(no_ms "$work/cpp.jsonl") > /dev/null || { echo "the C++ sample's answer differs from the C sample's" >&2; exit 1; }
tokens=$(grep -c '"event":"token"' "$work/cpp-events.txt")
[[ $(head -1 "$work/cpp-events.txt") == '{"event":"stage","stage":"vision"}' && $tokens -gt 0 ]] \
    || { head -3 "$work/cpp-events.txt" >&2; echo "the C++ sample's events do not start with the vision stage or hold no token" >&2; exit 1; }
echo "C++ sample: the C sample's answer, after $(wc -l < "$work/cpp-events.txt") events ($tokens tokens)"

# Decoded pixels (packed and with padded rows) answer as the PNG holding them; an event callback cancels.
PYTHONPATH=samples/python python3 - "$work/lib/libpixelllm.so" "$work/pixels.png" <<'PY'
import struct, sys, zlib
from pixelllm_ctypes import PixelLlm, PixelLlmError
w, h = 97, 61
rgb = bytearray()
for y in range(h):
    for x in range(w):
        inside = 20 <= x < 60 and 10 <= y < 40
        rgb += bytes((200, 40, 30) if inside else (x * 2 % 256, y * 3 % 256, 128))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
raw = b"".join(b"\0" + bytes(rgb[y * 3 * w:(y + 1) * 3 * w]) for y in range(h))
with open(sys.argv[2], "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
stride = 3 * w + 5
padded = b"".join(bytes(rgb[y * 3 * w:(y + 1) * 3 * w]) + b"\xee" * 5 for y in range(h))
with PixelLlm(sys.argv[1], "models/default", threads=1) as model:
    request = {"task": "caption", "boxes": [[15, 5, 70, 45]]}
    from_file = model.request(image=sys.argv[2], **request)["results"]
    assert model.request_rgb(rgb, w, h, **request)["results"] == from_file
    assert model.request_rgb(padded, w, h, stride=stride, **request)["results"] == from_file
    tokens = []
    try:
        model.request(on_event=lambda e: e["event"] == "token" and tokens.append(e) is None and len(tokens) == 2,
                      task="caption", image=sys.argv[2], beams=1)
        raise SystemExit("a callback returning True did not cancel the request")
    except PixelLlmError as e:
        assert e.kind == "cancelled" and len(tokens) == 2, (e, tokens)
print(f"decoded pixels: packed and strided answer as the PNG ('{from_file[0]['text']}'); a callback cancelled after 2 tokens")
PY

set +e
"$work/requests" "$work/no-such-model" < /dev/null 2> "$work/open.err"
code=$?
set -e
[[ $code -eq 2 && $(wc -l < "$work/open.err") -eq 1 ]] && grep -q "^error: .*no-such-model" "$work/open.err" \
    || { cat "$work/open.err" >&2; echo "a missing model directory: expected exit 2 and one error line, got exit $code" >&2; exit 1; }
echo "missing model: $(cat "$work/open.err")"

# The CUDA backend through the library: its driver, NVRTC and cuBLAS calls compiled ahead of time, on the emulator.
emulator="$(bash tests/CudaEmulator/build.sh "$root/.build/cuda-emulator")"
head -3 "$work/requests.jsonl" > "$work/cuda-requests.jsonl"
env $emulator XDG_CACHE_HOME="$work/cache" "$work/requests" models/default '{"backend": "cuda"}' < "$work/cuda-requests.jsonl" > "$work/cuda.jsonl" 2> "$work/cuda.err" \
    || { cat "$work/cuda.err" >&2; echo "the library on the emulated CUDA backend failed" >&2; exit 1; }
python3 - "$work/library.jsonl" "$work/cuda.jsonl" <<'PY'
import json, sys
cpu = [json.loads(line) for line in open(sys.argv[1])][:3]
cuda = [json.loads(line) for line in open(sys.argv[2])]
def words(answer):
    return [(r["text"], [t["id"] for t in r.get("tokens", [])]) for r in answer["result"]["results"]]
assert len(cuda) == 3 and all(a["ok"] for a in cuda), cuda
for c, g in zip(cpu, cuda):
    assert words(c) == words(g), (c["id"], words(c), words(g))
print(f"CUDA (emulated) from the library: {sum(len(words(a)) for a in cuda)} results, the CPU's words and ids")
PY
