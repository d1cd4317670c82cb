/*
 * libpixelllm — PixelLLM.Native as a C library.
 *
 * Build: dotnet publish src/PixelLLM.CApi -c Release -r linux-x64 -o DIR
 *        → DIR/libpixelllm.so, DIR/pixelllm.h and DIR/libSkiaSharp.so (the image decoder; keep it beside libpixelllm.so).
 * Link:  cc app.c -IDIR -LDIR -lpixelllm -Wl,-rpath,DIR      (no .NET runtime needed at run time)
 *
 * One model is opened per directory (weights, kernels and compiled graphs are paid once) and answers requests of the
 * JSON-line protocol `pixelllm serve` speaks (schema "pixelllm-serve/1", README "Captioning and referring"):
 *
 *   request: {"id": any, "task": "caption"|"refer"|"segment"|"densecap"|"info", "image": PATH | "image_base64": BYTES,
 *             "boxes": [[x0, y0, x1, y1], ...], "texts": [...], "decode_text": bool, "teacher_forced": bool, "beams": N}
 *   answer:  {"id", "ok": true, "ms", "result": pixelllm-result/1 document}
 *         or {"id", "ok": false, "kind": "invalid_input"|"resource_limit"|"out_of_memory"|"model"|"backend"|"cancelled"|"internal",
 *             "error": one line naming the field}
 *
 * Text in and out is UTF-8 and NUL-terminated. Nothing is written to stdout or stderr.
 */
#ifndef PIXELLLM_H
#define PIXELLLM_H

#ifdef __cplusplus
extern "C" {
#endif

/* An open model. Opaque: only the functions below take it. */
typedef struct pixelllm_model pixelllm_model;

/* "libpixelllm <version> (pixelllm-serve/1)". Owned by the library: do not free. */
const char *pixelllm_version(void);

/*
 * Loads the model directory `model_dir` (written by `pixelllm init` / `pixelllm convert`).
 * `options_json` may be NULL or "" for the defaults, else a JSON object with any of
 *   "backend": "cpu" (default) | "cpu-f64" | "cuda",   "precision": "auto" (default: as stored) | "f32" | "bf16" | "f16",
 *   "threads": N (0 = every core),   "parallel": N (requests computed at once, 1..64, default 2),
 *   "max_image_pixels": N (larger images are refused).
 * Returns NULL on failure; then, if `error` is not NULL, *error is one line saying why (free it with pixelllm_free).
 */
pixelllm_model *pixelllm_open(const char *model_dir, const char *options_json, char **error);

/*
 * Answers one request (a JSON object, see above). Returns the answer line; free it with pixelllm_free. Every failure —
 * bad JSON, unknown field, unreadable image, box outside the image, a closed model — is an answer with "ok": false;
 * NULL is returned only when no memory is left for the answer. Safe to call from several threads at once on one model.
 */
char *pixelllm_request(pixelllm_model *model, const char *request_json);

/*
 * Called while a request runs: `event_json` is {"event": "stage", "stage": "vision"|"prompts"|"decode"|"points"|...} as
 * each stage begins, or {"event": "token", "prompt": P, "position": N, "token_id": ID, "piece": TEXT} as each token is final
 * (greedy: at the step that fixes it; beam search: the best beam's tokens when the search ends). The text is valid only
 * during the call. Calls come one at a time, before pixelllm_request_events returns, possibly from another thread.
 * Return 0 to go on, non-zero to cancel the request: it stops at its next stage or decode step and its answer has
 * "kind": "cancelled". The callback must not call into the library for the same model (a nested request could wait
 * for the computing slot its own caller holds).
 */
typedef int (*pixelllm_event_fn)(const char *event_json, void *user_data);

/* pixelllm_request, reporting the request's progress to `on_event` (NULL: none) with `user_data`. */
char *pixelllm_request_events(pixelllm_model *model, const char *request_json, pixelllm_event_fn on_event, void *user_data);

/*
 * A request whose image is already decoded: `rgb` holds `height` rows of `width` pixels, 3 bytes each (R, G, B),
 * `stride_bytes` apart (0: packed, 3 * width). The pixels are copied before the request runs; `request_json` names no
 * "image" or "image_base64" (the answer's image "source" is "rgb"). `on_event` as for pixelllm_request_events (NULL: none).
 */
char *pixelllm_request_rgb(pixelllm_model *model, const char *request_json, const unsigned char *rgb, int width, int height,
                           int stride_bytes, pixelllm_event_fn on_event, void *user_data);

/* Waits for the model's running requests, then frees it. 0 when it was open, -1 otherwise (NULL, already closed). */
int pixelllm_close(pixelllm_model *model);

/* Frees a string returned by pixelllm_open (error) or pixelllm_request. NULL is ignored. */
void pixelllm_free(char *text);

#ifdef __cplusplus
}
#endif

#endif /* PIXELLLM_H */
