"""PixelLLM dense captioning on model.py: scenic's CenterNet2 box decoder (`FpnCenterNet2`, class-agnostic, one cascade
stage) followed by greedy region captions, as /work/shared/golden/pixelllm_densecap/README.md pins it down (scenic
4a38d475 box_decoder.py, centernet/modeling/{centernet,centernet_head,fpn,roi_heads,roi_align,roi_head_utils,nms}.py).

Every intermediate the densecap golden stores comes back under the golden's name, plus the decision margins: how far
each discrete choice (top-k order, NMS IoU tests, RoI level, score threshold, sort, greedy argmax) is from a tie. The
float dtype is the model's (`PixelLLM(cfg, w, torch.float64)` for the float64 rerun).

  out = densecap(model, image_uint8, context_row)   # out["T"]: name -> numpy, out["margins"]: dict
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

BBOX_XFORM_CLIP = math.log(1000.0 / 16.0)
DELTA_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
ROI_OUT, ROI_RATIO = 7, 2


def group_norm(x, scale, bias, groups=32, eps=1e-6):
    """Flax GroupNorm over NHWC, consecutive channels per group; two-pass variance (the golden's; Flax uses E[x²]−E[x]²)."""
    n, h, w, c = x.shape
    g = x.reshape(n, h * w, groups, c // groups)
    mu = g.mean((1, 3), keepdim=True)
    var = (g - mu).pow(2).mean((1, 3), keepdim=True)
    return ((g - mu) * torch.rsqrt(var + eps)).reshape(n, h, w, c) * scale + bias


def pairwise_iou(a, b):
    """scenic nms._bbox_overlap: inter / (area_a + area_b − inter + 1e-8), areas unclamped."""
    ix = (torch.minimum(a[:, None, 2], b[None, :, 2]) - torch.maximum(a[:, None, 0], b[None, :, 0])).clamp(min=0)
    iy = (torch.minimum(a[:, None, 3], b[None, :, 3]) - torch.maximum(a[:, None, 1], b[None, :, 1])).clamp(min=0)
    inter = iy * ix
    area_a = (a[:, 3] - a[:, 1]) * (a[:, 2] - a[:, 0])
    area_b = (b[:, 3] - b[:, 1]) * (b[:, 2] - b[:, 0])
    return inter / (area_a[:, None] + area_b[None, :] - inter + 1e-8)


def padded_nms(boxes, threshold):
    """scenic's tiled NMS on boxes already in score order (one tile here: lists ≤ 256). Within a tile its fixed point is
    greedy NMS with suppression at IoU ≥ threshold, for thresholds ≥ 0.5 away from exact ties (errata E4); a box
    counts as selected only when some coordinate is > 0. Returns (selected bool (n,), min |IoU − threshold| over all
    pairs (the golden's margin), the same over the pairs that decide something (suppressor not itself suppressed))."""
    n = boxes.shape[0]
    iou = pairwise_iou(boxes, boxes)
    suppressed = [False] * n
    margin = deciding = float("inf")
    for j in range(n):
        for i in range(j):
            v = float(iou[i, j])
            margin = min(margin, abs(v - threshold))
            if suppressed[i]:
                continue
            deciding = min(deciding, abs(v - threshold))
            if v >= threshold:
                suppressed[j] = True
    positive = (boxes > 0).any(-1)
    selected = torch.tensor([not s for s in suppressed], dtype=torch.bool) & positive
    return selected, margin, deciding


def min_adjacent_gap(values):
    v = [float(x) for x in values]
    return min((v[i] - v[i + 1] for i in range(len(v) - 1)), default=float("inf"))


class BoxDecoder:
    def __init__(self, model):
        self.m, self.P, self.cfg = model, model.P, model.cfg["box_decoder"]
        self.canvas = model.cfg["canvas"]

    # -- SimpleFeaturePyramid + top block
    def fpn(self, x):
        pre = "box_decoder/fpn/"
        m = self.m

        def convs(y, a, b):
            y = m.ln(m.conv(y, pre + a, bias=False), pre + a + ".norm", 1e-6)
            return m.ln(m.conv(y, pre + b, padding=1, bias=False), pre + b + ".norm", 1e-6)

        n, h, w, _ = x.shape
        k = self.P[pre + "simfp_3.0/kernel"]  # (2, 2, in, out), applied spatially flipped (lax.conv_transpose 'SAME')
        up = torch.einsum("nijc,abco->niajbo", x, k.flip(0, 1)).reshape(n, 2 * h, 2 * w, -1) + self.P[pre + "simfp_3.0/bias"]
        p3 = convs(up, "simfp_3.1", "simfp_3.2")
        p4 = convs(x, "simfp_4.0", "simfp_4.1")
        pooled = F.max_pool2d(x.permute(0, 3, 1, 2), 2, 2).permute(0, 2, 3, 1)
        p5 = convs(pooled, "simfp_5.1", "simfp_5.2")
        p6 = m.conv(p5, pre + "top_block/p6", stride=2, padding=1)
        p7 = m.conv(F.relu(p6), pre + "top_block/p7", stride=2, padding=1)
        return [p3, p4, p5, p6, p7]

    # -- CenterNet head (weights shared by all levels; GroupNorm statistics per level)
    def head(self, feats):
        pre = "box_decoder/proposal_generator/"
        heat, regs = [], []
        for lvl, f in enumerate(feats):
            x = f
            for i in range(4):
                x = self.m.conv(x, pre + "bbox_tower/%d" % (3 * i), padding=1)
                norm = pre + "bbox_tower/%d" % (3 * i + 1)
                x = F.relu(group_norm(x, self.P[norm + "/scale"], self.P[norm + "/bias"]))
            reg = self.m.conv(x, pre + "bbox_pred", padding=1) * self.P[pre + "scales.%d/scale" % lvl]
            regs.append(F.relu(reg))
            heat.append(self.m.conv(x, pre + "agn_hm", padding=1))
        return heat, regs

    # -- proposals: sigmoid top-k over all levels, ltrb boxes, NMS, clip
    def proposals(self, heat, regs, margins):
        strides = self.cfg["strides"]
        grids, flat_regs = [], []
        for h, r, s in zip(heat, regs, strides):
            hh, ww = h.shape[1], h.shape[2]
            ys, xs = torch.meshgrid(torch.arange(hh) * s, torch.arange(ww) * s, indexing="ij")
            grids.append(torch.stack([xs.reshape(-1), ys.reshape(-1)], -1) + s // 2)
            flat_regs.append(r[0].reshape(-1, 4) * s)
        grid = torch.cat(grids).to(heat[0].dtype)
        reg = torch.cat(flat_regs)
        scores = torch.sigmoid(torch.cat([h[0].reshape(-1) for h in heat]))
        k = min(self.cfg["pre_nms_topk_test"], scores.shape[0] - 1)
        ranked = torch.sort(scores, descending=True, stable=True)  # lax.top_k: ties → lower index
        idx, top = ranked.indices[:k], ranked.values[:k]
        g, r = grid[idx], reg[idx]
        boxes = torch.stack([g[:, 0] - r[:, 0], g[:, 1] - r[:, 1], g[:, 0] + r[:, 2], g[:, 1] + r[:, 3]], -1)
        margins["proposal_topk_boundary_gap"] = float(ranked.values[k - 1] - ranked.values[k])
        margins["proposal_topk_min_adjacent_gap"] = min_adjacent_gap(top)
        margins["proposal_min_of_max_coordinate"] = float(boxes.max(-1).values.min())
        selected, iou_margin, deciding = padded_nms(boxes, self.cfg["iou_thresh"])
        margins["proposal_nms_min_abs_iou_minus_threshold"] = iou_margin
        margins["proposal_nms_deciding_min_abs_iou_minus_threshold"] = deciding
        margins["proposal_nms_selected"] = int(selected.sum())
        margins["proposal_nms_suppressed"] = k - int(selected.sum())
        post = self.cfg["post_nms_topk_test"]
        keep = torch.nonzero(selected).reshape(-1)[:post]
        margins["proposal_nms_short"] = post - keep.shape[0]  # errata E3 (not pinned by the golden): > 0 → skip
        kept_scores = torch.cat([top[keep], top.new_zeros(post - keep.shape[0])])
        keep = torch.cat([keep, keep.new_full((post - keep.shape[0],), k - 1)])  # XLA's clamped gather
        clipped = boxes[keep].clamp(max=self.canvas).clamp(min=0)
        return {"mid.proposals.pre_nms_indices": idx, "mid.proposals.pre_nms_scores": top,
                "mid.proposals.pre_nms_boxes": boxes, "mid.proposals.nms_selected": selected,
                "mid.proposals.nms_keep_indices": keep, "mid.proposals.boxes": clipped,
                "mid.proposals.scores": kept_scores}

    # -- RoIAlign (scenic roi_align.py: per-tap zero padding, no clamping)
    @staticmethod
    def axis_weights(lo, hi, size):
        n = ROI_OUT * ROI_RATIO
        scale = n * 1.0 / (hi - lo)
        c = (torch.arange(n, dtype=lo.dtype) + 0.5) / scale + lo - 0.5
        f = torch.floor(c)
        w1 = c - f
        taps = torch.stack([f, f + 1], -1).long()
        wts = torch.stack([1 - w1, w1], -1) / ROI_RATIO
        onehot = (taps[..., None] == torch.arange(size)).to(lo.dtype)  # out-of-range tap → all zero
        return (onehot * wts[..., None]).reshape(ROI_OUT, ROI_RATIO * 2, size).sum(1)

    def roi(self, feats, props, prop_scores, margins):
        area = (props[:, 2] - props[:, 0]) * (props[:, 3] - props[:, 1])
        value = 4 + torch.log2(torch.sqrt(area.clamp(min=0)) / 224 + 1e-8)
        levels = torch.floor(value).clamp(3, 7).long()
        # only crossings of 4…7 change the clipped level
        margins["roi_level_min_distance_to_boundary"] = float(
            torch.stack([(value - b).abs() for b in (4, 5, 6, 7)]).min())
        margins["roi_levels_used"] = sorted({int(v) for v in levels})
        pooled = []
        for box, lvl in zip(props, levels):
            fmap = feats[int(lvl) - 3][0]
            b = box / float(2 ** int(lvl))
            wy = self.axis_weights(b[1], b[3], fmap.shape[0])
            wx = self.axis_weights(b[0], b[2], fmap.shape[1])
            pooled.append(torch.einsum("HWc,hH,wW->hwc", fmap, wy, wx))
        pooled = torch.stack(pooled)
        pre = "box_decoder/roi_heads/box_head.0/"
        x = F.relu(self.m.dense(pooled.reshape(pooled.shape[0], -1), pre + "fc1"))
        x = F.relu(self.m.dense(x, pre + "fc2"))
        cls, deltas = self.m.dense(x, pre + "cls_score"), self.m.dense(x, pre + "bbox_pred")
        scores = (torch.softmax(cls, -1) * prop_scores[:, None]) ** 0.5
        # channels (dx, dy, dw, dh) against the XYXY proposal (errata E1); decode_boxes' float order kept
        dx, dy = deltas[:, 0] / DELTA_WEIGHTS[0], deltas[:, 1] / DELTA_WEIGHTS[1]
        dw, dh = deltas[:, 2] / DELTA_WEIGHTS[2], deltas[:, 3] / DELTA_WEIGHTS[3]
        margins["roi_dwdh_distance_to_clip"] = float(BBOX_XFORM_CLIP - torch.maximum(dw, dh).max())
        dw, dh = dw.clamp(max=BBOX_XFORM_CLIP), dh.clamp(max=BBOX_XFORM_CLIP)
        w, h = props[:, 2] - props[:, 0], props[:, 3] - props[:, 1]
        xc, yc = props[:, 0] + 0.5 * w, props[:, 1] + 0.5 * h
        pw, ph = torch.exp(dw) * w, torch.exp(dh) * h
        x0, y0 = dx * w + xc - 0.5 * pw, dy * h + yc - 0.5 * ph
        decoded = torch.stack([x0, y0, x0 + pw, y0 + ph], -1).clamp(max=self.canvas).clamp(min=0)
        return {"mid.roi.levels": levels, "mid.roi.features": pooled, "mid.roi.class_logits": cls,
                "mid.roi.box_deltas": deltas, "mid.roi.scores": scores, "mid.roi.decoded_boxes": decoded}

    # -- detections: threshold → −1, stable sort, NMS, first K, final stable sort
    def detections(self, decoded, obj, margins):
        thr = self.cfg["roi_score_threshold"]
        above = obj > thr
        th = torch.where(above, obj, torch.full_like(obj, -1.0))
        margins["roi_score_min_abs_minus_threshold"] = float((obj - thr).abs().min())
        margins["roi_num_above_threshold"] = int(above.sum())
        order = torch.sort(th, descending=True, stable=True).indices
        sorted_scores = th[order]
        margins["roi_sorted_positive_min_adjacent_gap"] = min_adjacent_gap(sorted_scores[sorted_scores > 0])
        boxes = decoded[order]
        selected, iou_margin, deciding = padded_nms(boxes, self.cfg["roi_nms_threshold"])
        margins["roi_nms_min_abs_iou_minus_threshold"] = iou_margin
        margins["roi_nms_deciding_min_abs_iou_minus_threshold"] = deciding
        pos = boxes.max(-1).values
        margins["roi_min_positive_max_coordinate"] = float(pos[pos > 0].min()) if bool((pos > 0).any()) else float("inf")
        margins["roi_nms_suppressed_total"] = int((~selected).sum())
        margins["roi_nms_suppressed_above_threshold"] = int((~selected & (sorted_scores > 0)).sum())
        K = self.cfg["roi_post_nms_num_detections"]
        chosen = torch.nonzero(selected).reshape(-1)[:K]
        pad = K - chosen.shape[0]
        det_boxes = torch.cat([boxes[chosen], boxes.new_zeros(pad, 4)])
        det_scores = torch.cat([sorted_scores[chosen], sorted_scores.new_zeros(pad)])
        det_index = torch.cat([order[chosen], order.new_full((pad,), -1)])
        final = torch.sort(det_scores, descending=True, stable=True).indices
        det_scores = det_scores[final]
        margins["final_slots_padding_zero"] = pad
        margins["final_slots_score_minus1"] = int((det_scores == -1).sum())
        margins["num_detections"] = int((det_scores > 0).sum())
        return {"mid.roi.thresholded_scores": th, "mid.roi.sorted_order": order, "mid.roi.nms_selected": selected,
                "out.detection_boxes": det_boxes[final], "out.detection_scores": det_scores,
                "out.detection_classes": torch.ones_like(det_scores),
                "out.num_detections": torch.tensor([margins["num_detections"]]),
                "out.detection_proposal_index": det_index[final]}

    def __call__(self, fused):
        margins = {}
        feats = self.fpn(fused)
        heat, regs = self.head(feats)
        T = {}
        for i, f in enumerate(feats):
            T["mid.fpn.p%d" % (i + 3)] = f
        for i, (h, r) in enumerate(zip(heat, regs)):
            T["mid.head.heatmap_logits.p%d" % (i + 3)] = h
            T["mid.head.box_regs.p%d" % (i + 3)] = r
        T.update(self.proposals(heat, regs, margins))
        T.update(self.roi(feats, T["mid.proposals.boxes"], T["mid.proposals.scores"], margins))
        T.update(self.detections(T["mid.roi.decoded_boxes"], T["mid.roi.scores"][:, 1], margins))
        return T, margins


@torch.no_grad()
def greedy_with_margins(model, enc, enc_valid, length, eos=1):
    """infer.greedy plus what the golden stores: mean log-prob (scenic: sum of the step maxima / max(1, #non-EOS − 1))
    and the top1 − top2 log-prob per step (−1 for the forced steps after EOS); also how many free steps the repeat
    suppression changed (the previous token was the raw argmax)."""
    n = enc.shape[0]
    tokens = torch.ones(n, length, dtype=torch.long)
    tokens[:, 0] = 0
    total = torch.zeros(n, dtype=enc.dtype)
    margin = torch.full((n, length - 2), -1.0, dtype=enc.dtype)
    rows = torch.arange(n)
    repeats = 0
    for t in range(1, length - 1):
        _, logits = model.t5_decode(tokens[:, :t + 1], enc, enc_valid)
        step = logits[:, t - 1].clone()
        prev = tokens[:, t - 1]
        repeats += int(((step.argmax(-1) == prev) & (prev != eos)).sum())
        step[rows, prev] = torch.minimum(step[rows, prev], step.new_tensor(-10000.0))
        done = prev == eos
        step[done] = float("-inf")
        step[done, eos] = 0
        lp = torch.log_softmax(step, -1)
        top = torch.topk(lp, 2, -1).values
        margin[:, t - 1] = torch.where(done, margin[:, t - 1], top[:, 0] - top[:, 1])
        tokens[:, t] = lp.argmax(-1)
        total = total + top[:, 0]
    valid = ((tokens != eos).sum(-1) - 1).clamp(min=1)
    return tokens, total / valid, margin, repeats


def after_first_eos_to_zero(tokens, eos=1):
    """The rerun input: every token after the first EOS (BOS excluded) → 0, as infer.after_first_eos_to_zero."""
    out = tokens.clone()
    for i in range(out.shape[0]):
        hit = (out[i, 1:] == eos).nonzero()
        if len(hit):
            out[i, int(hit[0]) + 2:] = 0
    return out


def canvas(image, size, dtype):
    h, w, _ = image.shape
    pixels = torch.zeros(1, size, size, 3, dtype=dtype)
    pixels[0, :h, :w] = torch.from_numpy(image.astype(np.float64)).to(dtype)
    valid = torch.zeros(1, size, size, 1, dtype=dtype)
    valid[0, :h, :w] = 1
    return pixels, valid


INT_DTYPES = {"mid.proposals.nms_selected": np.uint8, "mid.roi.nms_selected": np.uint8, "mid.box_valid_mask": np.uint8,
              "mid.encoder_valid_mask": np.uint8}


@torch.no_grad()
def densecap(model, image, context_row, gate=None):
    """image uint8 (h, w, 3) already at its eval size; context_row int (Lc,) = 'an object of ' + EOS.
    Returns {"T": golden-named numpy tensors (float in the model's dtype), "margins": {...}}, or None when
    gate(box-decoder margins) is false (a generator skipping the captions of a draw it rejects anyway)."""
    cfg = model.cfg
    pixels, valid = canvas(image, cfg["canvas"], model.dtype)
    f = model.encode_image(pixels, valid)
    T, box_margins = BoxDecoder(model)(f["fused"])
    if gate is not None and not gate(box_margins):
        return None
    boxes = T["out.detection_boxes"]
    K = boxes.shape[0]
    ctx = torch.as_tensor(np.asarray(context_row), dtype=torch.long)[None].expand(K, -1).contiguous()
    p = model.encode_prompts(f, torch.zeros(K, dtype=torch.long), boxes, ctx)
    raw, log_probs, gmargin, repeats = greedy_with_margins(model, p["enc"], p["enc_valid"], cfg["max_caption_length"])
    g = f["fused"].shape[1]
    T.update({"mid.git_visual_features": f["git"], "mid.sam_visual_features": f["sam"], "mid.fused_features": f["fused"],
              "mid.dense_pe": model.dense_pe(g, g), "mid.sparse_prompt_embeddings": p["sparse"][None],
              "mid.box_valid_mask": p["box_valid"][None], "mid.adapter_out": p["adapter_out"][None],
              "mid.visual_features": p["visual"][None], "mid.encoder_output": p["enc"],
              "mid.encoder_valid_mask": p["enc_valid"], "out.raw_text_tokens": raw[None],
              "out.text_tokens": after_first_eos_to_zero(raw)[None], "out.log_probs": log_probs[None],
              "out.greedy_margin": gmargin})
    batched = ("mid.proposals.", "mid.roi.", "out.detection_", "out.num_")  # the golden keeps a batch axis here
    out = {}
    for k, v in T.items():
        if k.startswith(batched) and k != "out.num_detections":
            v = v[None]
        if k in INT_DTYPES:
            out[k] = v.numpy().astype(INT_DTYPES[k])
        elif not v.is_floating_point():
            out[k] = v.numpy().astype(np.int32)
        else:
            out[k] = v.numpy()
    forced = gmargin < 0
    captions = {"greedy_min_top1_top2_logprob_gap": float(gmargin[~forced].min()) if bool((~forced).any()) else float("inf"),
                "greedy_steps_with_repeat_suppression_active": repeats}
    return {"T": out, "margins": {"box_decoder": box_margins, "captions": captions}}
