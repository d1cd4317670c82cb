#!/usr/bin/env python3
"""Writes the small seed inputs of every fuzz target into corpus/<target>/ (committed; rerun only to change them).

Seeds are valid inputs of each format, small (AFL works best under a few KB), covering the format's branches:
several dtypes, nesting, 0-d and empty arrays, a chunked array (scenic), a tokenizer model and vocab, a model config.
"""
import json, os, shutil, struct, subprocess, sys, tempfile, zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(HERE, "corpus")


def put(target, name, data):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(data)


def safetensors(tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def f32(*values):
    return struct.pack(f"<{len(values)}f", *values)


# --- msgpack, the subset flax.serialization writes ---------------------------------------------------------------
def mp(obj):
    if obj is None: return b"\xc0"
    if obj is True: return b"\xc3"
    if obj is False: return b"\xc2"
    if isinstance(obj, int):
        if 0 <= obj < 128: return bytes([obj])
        return b"\xd3" + struct.pack(">q", obj)
    if isinstance(obj, float): return b"\xcb" + struct.pack(">d", obj)
    if isinstance(obj, str):
        b = obj.encode()
        return (bytes([0xA0 | len(b)]) if len(b) < 32 else b"\xd9" + bytes([len(b)])) + b
    if isinstance(obj, bytes): return b"\xc4" + bytes([len(obj)]) + obj if len(obj) < 256 else b"\xc5" + struct.pack(">H", len(obj)) + obj
    if isinstance(obj, (list, tuple)): return bytes([0x90 | len(obj)]) + b"".join(mp(x) for x in obj)
    if isinstance(obj, dict): return bytes([0x80 | len(obj)]) + b"".join(mp(k) + mp(v) for k, v in obj.items())
    if isinstance(obj, Ext): return obj.encode()
    raise TypeError(type(obj))


class Ext:
    def __init__(self, code, payload): self.code, self.payload = code, payload
    def encode(self):
        n = len(self.payload)
        return (b"\xc7" + bytes([n]) if n < 256 else b"\xc8" + struct.pack(">H", n)) + bytes([self.code]) + self.payload


def ndarray(shape, dtype, data, code=1):
    return Ext(code, mp([list(shape), dtype, data]))


# --- images: PNG written here, JPEG through libjpeg-turbo's cjpeg (Debian libjpeg-turbo-progs; skipped with a note when absent) ----------------
def png(width, height, color_type, rows):
    """color_type 0 gray, 2 RGB, 6 RGBA (8-bit); rows = list of bytes per row without the filter byte."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def gradient(width, height, channels):
    return [bytes((x * 37 + y * 11 + c * 80) % 256 for x in range(width) for c in range(channels)) for y in range(height)]


def jpeg(width, height, options):
    ppm = b"P6 %d %d 255\n" % (width, height) + b"".join(gradient(width, height, 3))
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "in.ppm")
        open(src, "wb").write(ppm)
        return subprocess.run(["cjpeg", *options, src], check=True, stdout=subprocess.PIPE).stdout


def image_seeds():
    put("image", "rgb-7x5.png", png(7, 5, 2, gradient(7, 5, 3)))
    put("image", "gray-3x9.png", png(3, 9, 0, gradient(3, 9, 1)))
    put("image", "rgba-6x6.png", png(6, 6, 6, gradient(6, 6, 4)))
    if shutil.which("cjpeg") is None:
        print("cjpeg (libjpeg-turbo-progs) not found: JPEG seeds not written", file=sys.stderr)
        return
    put("image", "baseline-16x12.jpg", jpeg(16, 12, ["-quality", "80"]))
    put("image", "progressive-gray-9x7.jpg", jpeg(9, 7, ["-grayscale", "-progressive", "-quality", "60"]))


def box_arg_seeds():
    """One request per file: the --box text, then the image width and height it is checked against."""
    for name, text in [("integers", "10,20,30,40\n100 80"), ("floats", "0.5, 1e1 ,64.25,79.75\n65 80"),
                       ("whole", "0,0,320,200\n320 200"), ("fractional", "1,2.5,3,4\n5 5")]:
        put("box-args", name + ".txt", text.encode())


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    put("safetensors", "two-dtypes.safetensors", safetensors({
        "a.weight": ("F32", [2, 3], f32(1, 2, 3, 4, 5, 6)),
        "b.bias": ("BF16", [3], b"\x80\x3f\x00\x40\x40\x40"),
        "c.ids": ("I32", [2], struct.pack("<2i", 7, -1))}, {"format": "pt"}))
    put("safetensors", "scalar-and-empty.safetensors", safetensors({
        "s": ("F16", [], b"\x00\x3c"), "e": ("U8", [0, 4], b""), "i": ("I64", [1], struct.pack("<q", 42))}))

    params = {"params": {
        "blocks.0": {"attn": {"kernel": ndarray([2, 3], "float32", f32(1, 2, 3, 4, 5, 6)), "bias": ndarray([3], "float32", f32(0, 1, 2))}},
        "scalar": ndarray([], "float32", f32(0.5)),
        "np_scalar": ndarray([], "int64", struct.pack("<q", 3), code=3),
        "half": ndarray([2], "float16", b"\x00\x3c\x00\x40"),
        "big": {"__msgpack_chunked_array__": True, "shape": {"0": 2, "1": 2},
                "chunks": {"0": ndarray([2], "float32", f32(1, 2)), "1": ndarray([2], "float32", f32(3, 4))}}}}
    state = {"opt_state": {"0": {"count": ndarray([], "int32", struct.pack("<i", 1))}}, **params,
             "global_step": ndarray([], "int32", struct.pack("<i", 9)), "metadata": {"note": "x", "v": [1, -70000, 2.5, None, True]}}
    put("scenic-msgpack", "train-state.msgpack", mp(state))
    put("scenic-msgpack", "params-only.msgpack", mp(params))

    torch_fixtures = os.path.join(REPO, "tests", "PixelLLM.Tests", "Fixtures", "Torch")
    for name in ["dtypes.pth", "views.pth", "protocol4.pth", "deflated.pth"]:
        put("torch-pth", name, open(os.path.join(torch_fixtures, name), "rb").read())

    tokenizers = os.path.join(REPO, "tests", "PixelLLM.Tests", "Fixtures", "Tokenizers")
    put("sentencepiece", "identity.model", open(os.path.join(tokenizers, "spm_identity.model"), "rb").read())
    put("wordpiece", "vocab.txt", open(os.path.join(tokenizers, "bert_test_vocab.txt"), "rb").read())

    golden = os.path.join(REPO, "..", "..", "shared", "golden", "pixelllm", "caption_trace.json")
    if not os.path.exists(golden):
        golden = "/work/shared/golden/pixelllm/caption_trace.json"
    config = json.load(open(golden))["config"]
    put("model-config", "tiny_t5.json", json.dumps(config, indent=1).encode())
    image_seeds()
    box_arg_seeds()


if __name__ == "__main__":
    sys.exit(main())
