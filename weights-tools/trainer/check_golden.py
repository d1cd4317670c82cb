"""Proves model.py equals the golden PixelLLM oracle: loads the golden tiny weights (scenic names, Flax layouts), runs
the case inputs teacher-forced on the golden decoded tokens, compares every mid.* / out.* tensor it produces.

  /usr/bin/python3 weights-tools/trainer/check_golden.py [--golden /work/shared/golden]
Exit status 1 when any tensor is outside the golden tolerance (atol 1e-4 + rtol 1e-4; 2e-3 px for points/boxes).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import infer  # noqa: E402
import st  # noqa: E402
from model import PixelLLM  # noqa: E402


def canvas_inputs(image, canvas):
    h, w, _ = image.shape
    pixels = np.zeros((1, canvas, canvas, 3), np.float32)
    pixels[0, :h, :w] = image
    mask = np.zeros((1, canvas, canvas, 1), np.float32)
    mask[0, :h, :w] = 1
    return torch.from_numpy(pixels), torch.from_numpy(mask), torch.tensor([[h, w]], dtype=torch.float32)


class Checker:
    def __init__(self):
        self.failures = 0
        self.count = 0

    def close(self, name, got, want, atol=1e-4, rtol=1e-4):
        got = got.detach().numpy() if isinstance(got, torch.Tensor) else np.asarray(got)
        want = np.asarray(want)
        self.count += 1
        if got.shape != want.shape:
            print("FAIL %-45s shape %s vs %s" % (name, got.shape, want.shape))
            self.failures += 1
            return
        if want.dtype.kind in "iub":
            bad = int((got.astype(np.int64) != want.astype(np.int64)).sum())
            err = float(bad)
        else:
            diff = np.abs(got.astype(np.float64) - want)
            bad = int((diff > atol + rtol * np.abs(want)).sum())
            err = float(diff.max()) if diff.size else 0.0
        status = "ok  " if bad == 0 else "FAIL"
        self.failures += bad > 0
        print("%s %-45s max|d| %.2e" % (status, name, err))


def check_beams(chk, case, pre, model, p, t, length, beam, per_node):
    """infer.beam_search, one prompt at a time, against the golden's batched beam search (errata B2: same finished sets)."""
    found = [infer.beam_search(model, p["enc"][i:i + 1], p["enc_valid"][i:i + 1], length, beam, per_node)
             for i in range(p["enc"].shape[0])]
    chk.close(case + " out.%sraw_text_tokens (beam search)" % pre, torch.stack([r["raw"] for r in found])[None].to(torch.int32),
              t["out.%sraw_text_tokens" % pre])
    flags = t["out.%sbeam_finished_flags" % pre]
    chk.close(case + " out.%sbeam_finished_flags" % pre, torch.stack([r["flags"] for r in found])[None].to(torch.uint8), flags)
    compared = flags.astype(bool)
    compared[..., -1] = True  # flagged slots and the best (last): the rest are filler states (errata A7)
    beams = torch.stack([r["beams"] for r in found])[None].numpy()
    chk.close(case + " out.%sbeam_text_tokens (compared slots)" % pre, beams[compared], t["out.%sbeam_text_tokens" % pre][compared])
    scores = torch.stack([r["scores"] for r in found])[None].numpy()
    chk.close(case + " out.%sbeam_log_probs (compared slots)" % pre, scores[compared], t["out.%sbeam_log_probs" % pre][compared], atol=2e-4)


def run_case(chk, golden_dir, case, variant, ignore, masks=False, beam=None):
    meta = json.load(open(os.path.join(golden_dir, case + ".json")))
    cfg = meta["config"]
    t, _ = st.read(os.path.join(golden_dir, meta["io_file"]))
    w, _ = st.read(os.path.join(golden_dir, meta["model_weights"]))
    model = PixelLLM(cfg, w)
    pixels, mask, hw = canvas_inputs(t["in.image"], cfg["canvas"])
    pre = "" if variant is None else variant + "."
    with torch.no_grad():
        f = model.encode_image(pixels, mask)
        chk.close(case + " mid.git_tokens", f["git_tokens"], t["mid.git_tokens"])
        chk.close(case + " mid.sam_visual_features", f["sam"], t["mid.sam_visual_features"])
        chk.close(case + " mid.fused_features", f["fused"], t["mid.fused_features"])
        g = f["fused"].shape[1]
        chk.close(case + " mid.dense_pe", model.dense_pe(g, g), t["mid.dense_pe"])
        boxes = torch.from_numpy(t["in.prompt_boxes"][0])
        ctx = torch.from_numpy(t["in.context_tokens"][0].astype(np.int64))
        n = boxes.shape[0]
        idx = torch.zeros(n, dtype=torch.long)
        p = model.encode_prompts(f, idx, boxes, ctx)
        chk.close(case + " mid.sparse_prompt_embeddings", p["sparse"][None], t["mid.sparse_prompt_embeddings"])
        chk.close(case + " mid.box_valid_mask", p["box_valid"][None].to(torch.uint8), t["mid.box_valid_mask"])
        chk.close(case + " mid.adapter_out", p["adapter_out"][None], t["mid.adapter_out"])
        chk.close(case + " mid.visual_features", p["visual"][None], t["mid.visual_features"])
        chk.close(case + " mid.encoder_output", p["enc"], t["mid.encoder_output"])
        chk.close(case + " mid.encoder_valid_mask", p["enc_valid"].to(torch.uint8), t["mid.encoder_valid_mask"])
        if beam:
            check_beams(chk, case, pre, model, p, t, cfg["max_caption_length"], *beam)
        tokens = torch.from_numpy(t["out.%stext_tokens" % pre][0].astype(np.int64))
        feats, logits = model.t5_decode(tokens, p["enc"], p["enc_valid"])
        chk.close(case + " mid.%stext_feats" % pre, feats[None], t["mid.%stext_feats" % pre])
        chk.close(case + " mid.%stf_logits" % pre, logits[None], t["mid.%stf_logits" % pre], atol=2e-4)
        coords, plog = model.point_head(feats, hw.expand(n, 2))
        chk.close(case + " out.%spoint_coords" % pre, coords[None], t["out.%spoint_coords" % pre], atol=2e-3)
        chk.close(case + " out.%spoint_logits" % pre, plog[None], t["out.%spoint_logits" % pre])
        valid = model.point_valid(tokens, ignore)
        chk.close(case + " out.%spoint_valid_mask" % pre, valid[None].to(torch.uint8), t["out.%spoint_valid_mask" % pre])
        det = model.boxes_from_points(coords, valid)
        chk.close(case + " out.%spoint_detection_boxes" % pre, det[None], t["out.%spoint_detection_boxes" % pre], atol=2e-3)
        if masks:
            m = model.mask_branch(det, p["visual"], feats, f["sam"], idx)
            s = f["sam"].shape[1]
            chk.close(case + " mid.mask_dense_pe", model.dense_pe(s, s), t["mid.mask_dense_pe"])
            chk.close(case + " mid.%smask_sparse_box" % pre, m["sparse_box"][None], t["mid.%smask_sparse_box" % pre])
            chk.close(case + " mid.%smask_adapter_tokens" % pre, m["adapter_tokens"][None], t["mid.%smask_adapter_tokens" % pre])
            chk.close(case + " mid.%smask_sparse_adapted" % pre, m["sparse_adapted"][None], t["mid.%smask_sparse_adapted" % pre])
            chk.close(case + " mid.%smask_upscaled_embedding" % pre, m["upscaled"][None], t["mid.%smask_upscaled_embedding" % pre])
            chk.close(case + " out.%sdetection_masks" % pre, m["masks"][None], t["out.%sdetection_masks" % pre], atol=2e-4)
            chk.close(case + " out.%sbinary_masks" % pre, (m["masks"] > 0)[None].to(torch.uint8), t["out.%sbinary_masks" % pre])
            chk.close(case + " out.%siou_predictions" % pre, m["iou"][None], t["out.%siou_predictions" % pre])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--golden", default="/work/shared/golden")
    a = ap.parse_args()
    torch.set_num_threads(1)
    chk = Checker()
    gp = os.path.join(a.golden, "pixelllm")
    run_case(chk, gp, "caption_trace", None, "begin,end,pad", beam=(4, 2))
    run_case(chk, gp, "loca_caption", None, "begin,end,pad")
    run_case(chk, gp, "referring", "teacher", "^end-1")
    run_case(chk, gp, "referring", "beam", "^end-1", beam=(3, 1))
    rp = os.path.join(a.golden, "pixelllm_refseg")
    run_case(chk, rp, "referring_segmentation", "teacher", "^end-1", masks=True)
    run_case(chk, rp, "referring_segmentation", "beam", "^end-1", masks=True, beam=(3, 1))
    print("%d tensors compared, %d outside tolerance" % (chk.count, chk.failures))
    sys.exit(1 if chk.failures else 0)


if __name__ == "__main__":
    main()
