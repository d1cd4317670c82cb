"""PixelLLM from Python through the C library (libpixelllm.so), in process, with nothing but the standard library.

    python3 samples/python/pixelllm_ctypes.py --library DIR/libpixelllm.so MODEL_DIR IMAGE [--box x0,y0,x1,y1] [--stream]

DIR is the folder `dotnet publish src/PixelLLM.CApi -c Release -r linux-x64 -o DIR` wrote. In your own code:

    with PixelLlm("DIR/libpixelllm.so", "models/default") as model:
        result = model.request(task="caption", image="photo.png")   # the pixelllm-result/1 document, as a dict
"""
import argparse
import ctypes
import json
import sys


_EVENT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)


def _callback(on_event):
    return _EVENT_FN(lambda text, _: 1 if on_event(json.loads(text.decode())) else 0)


class PixelLlmError(Exception):
    """A request the engine refused or could not run: `kind` as in the serve protocol, the message names the field."""

    def __init__(self, kind, message):
        super().__init__(f"{kind}: {message}")
        self.kind = kind


class PixelLlm:
    """One loaded model; `request` is thread-safe (the library releases no lock to Python, so use threads freely)."""

    def __init__(self, library, model_dir, **options):
        lib = ctypes.CDLL(library)
        lib.pixelllm_version.restype = ctypes.c_char_p
        lib.pixelllm_open.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        lib.pixelllm_open.restype = ctypes.c_void_p
        lib.pixelllm_request.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.pixelllm_request.restype = ctypes.c_void_p  # not c_char_p: the pointer must go back to pixelllm_free
        lib.pixelllm_request_events.argtypes = [ctypes.c_void_p, ctypes.c_char_p, _EVENT_FN, ctypes.c_void_p]
        lib.pixelllm_request_events.restype = ctypes.c_void_p
        lib.pixelllm_request_rgb.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
                                             ctypes.c_int, _EVENT_FN, ctypes.c_void_p]
        lib.pixelllm_request_rgb.restype = ctypes.c_void_p
        lib.pixelllm_close.argtypes = [ctypes.c_void_p]
        lib.pixelllm_close.restype = ctypes.c_int
        lib.pixelllm_free.argtypes = [ctypes.c_void_p]
        lib.pixelllm_free.restype = None
        self._lib = lib
        error = ctypes.c_void_p()
        self._model = lib.pixelllm_open(model_dir.encode(), json.dumps(options).encode() if options else None, ctypes.byref(error))
        if not self._model:
            raise PixelLlmError("open", self._take(error.value) if error.value else "out of memory")

    @property
    def version(self):
        return self._lib.pixelllm_version().decode()

    def request(self, on_event=None, **request):
        """Runs one serve-protocol request (task=..., image=..., boxes=..., texts=..., beams=...); its result document.

        on_event(event: dict) is called as each stage begins and each token is final; returning True cancels the request.
        """
        line = json.dumps(request).encode()
        if on_event is None:
            return self._answer(self._lib.pixelllm_request(self._model, line))
        return self._answer(self._lib.pixelllm_request_events(self._model, line, _callback(on_event), None))

    def request_rgb(self, rgb, width, height, stride=0, on_event=None, **request):
        """`request` on decoded pixels: `rgb` is bytes of `height` rows, 3 bytes (R, G, B) a pixel, `stride` bytes apart
        (0: packed); the request names no image."""
        line = json.dumps(request).encode()
        callback = _callback(on_event) if on_event is not None else _EVENT_FN()
        return self._answer(self._lib.pixelllm_request_rgb(self._model, line, bytes(rgb), width, height, stride, callback, None))

    def _answer(self, answer):
        if not answer:
            raise MemoryError("libpixelllm: no memory left for the answer")
        answer = json.loads(self._take(answer))
        if not answer["ok"]:
            raise PixelLlmError(answer["kind"], answer["error"])
        return answer["result"]

    def close(self):
        if self._model:
            self._lib.pixelllm_close(self._model)
            self._model = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _take(self, pointer):
        try:
            return ctypes.string_at(pointer).decode()
        finally:
            self._lib.pixelllm_free(pointer)


def main():
    parser = argparse.ArgumentParser(description="Caption + trace an image through libpixelllm.")
    parser.add_argument("--library", required=True, help="path of libpixelllm.so")
    parser.add_argument("model_dir")
    parser.add_argument("image")
    parser.add_argument("--box", action="append", default=[], help="x0,y0,x1,y1: caption this region (repeatable)")
    parser.add_argument("--stream", action="store_true", help="print each token to stderr as it is decoded")
    args = parser.parse_args()

    def show(event):
        if event["event"] == "token":
            print(event["piece"], end="", file=sys.stderr, flush=True)
    try:
        with PixelLlm(args.library, args.model_dir) as model:
            boxes = [[float(v) for v in box.split(",")] for box in args.box]
            document = model.request(on_event=show if args.stream else None, task="caption", image=args.image,
                                     **({"boxes": boxes} if boxes else {}))
        if args.stream:
            print(file=sys.stderr)
    except PixelLlmError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for result in document["results"]:
        print(result["text"])
        for token in result["tokens"]:
            if token["word"]:
                print(f"  {token['piece']!r:>12}  box {[round(v, 1) for v in token['box']]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
