#!/usr/bin/env python3
"""Generates reference cases for settings the shared dev goldens do not cover, straight from the public reference code:
timm's Eva (LayerScale, post-norm, registers, no cls, no_embed_class, ...) and segment-anything's ImageEncoderViT,
MaskDecoder, PromptEncoder and Sam.forward (no qkv bias, padded and oversized windows, other multimask counts, non-square
grids, single-mask output, odd image sizes).

    python3 make_cases.py --timm PATH/pytorch-image-models --sam PATH/segment-anything --out /tmp/cases
    ./pixelllm verify /tmp/cases --quiet

PATH are source checkouts (or leave a flag out when the package is installed); only torch and numpy must be installed.
torchvision and PIL, which the references import for code these cases never run, are stubbed when they are missing.
The outputs are test data for `verify`, not part of the repository.
"""
import argparse
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import tempfile
import types

import torch

from golden_format import init_like_goldens, write_case


class _Permissive:
    """Stands for any name of a stubbed package: callable, subclassable, every attribute another placeholder."""

    def __init__(self, *_, **__):
        pass

    def __call__(self, *_, **__):
        return _Permissive()

    def __getattr__(self, name):
        return _Permissive()

    def __mro_entries__(self, bases):
        return (object,)

    def __iter__(self):
        return iter(())


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Supplies torchvision and PIL when they are not installed: the references import them at module level for
    code (data pipelines, box ops) that these cases never run."""

    ROOTS = ("torchvision", "PIL")

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] not in self.ROOTS:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        module.__path__ = []
        module.__getattr__ = lambda name: _Permissive()
        module.__version__ = "0.0"  # parsed at import time
        if spec.name == "torchvision.ops.misc":
            module.FrozenBatchNorm2d = type("FrozenBatchNorm2d", (torch.nn.Module,), {})  # used in isinstance checks
        return module

    def exec_module(self, module):
        pass


def stub_missing_packages() -> None:
    for root in _StubFinder.ROOTS:
        if importlib.util.find_spec(root) is None:
            sys.meta_path.append(_StubFinder())
            return


def eva02_cases(out: str) -> list:
    from timm.models import eva

    cases = []

    def case(name, seed, **options):
        cfg = dict(img_size=32, patch_size=4, embed_dim=32, depth=2, num_heads=2, mlp_ratio=8 / 3, num_classes=0, global_pool="avg",
                   qkv_fused=False, swiglu_mlp=True, scale_mlp=True, use_rot_pos_emb=True, ref_feat_shape=(4, 4), rope_type="cat")
        cfg.update(options)
        model = eva.Eva(**cfg).eval()
        init_like_goldens(model, seed)
        image = torch.randn((2, 3, 32, 32), generator=torch.Generator().manual_seed(seed + 1))
        mids = {}
        for i, block in enumerate(model.blocks):
            block.register_forward_hook(lambda m, a, o, i=i: mids.__setitem__(f"mid.blocks.{i}", o))
        with torch.no_grad():
            features = model.forward_features(image)
            io = {"in.image": image, "out.features": features, "out.pre_logits": model.forward_head(features, pre_logits=True), **mids}
            if cfg["num_classes"]:
                io["out.logits"] = model.forward_head(features)
        config = {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}
        config.update(img_size=[32, 32], batch=2)
        cases.append(write_case(os.path.join(out, "eva02"), "eva02", name, config, seed, dict(model.state_dict()), io,
                                "timm/models/eva.py:Eva"))

    case("plain", 7800)
    case("layerscale", 7100, init_values=0.5)
    case("postnorm_token_head", 7200, use_post_norm=True, global_pool="token", num_classes=5)
    case("no_abs_pos_no_fc_norm", 7300, use_abs_pos_emb=False, use_fc_norm=False)
    case("no_embed_class_pre_norm_fused", 7400, no_embed_class=True, use_pre_transformer_norm=True, qkv_fused=True)
    case("layerscale_gelu_mlp_unpooled_fc_norm", 7500, init_values=0.1, swiglu_mlp=False, scale_mlp=False, global_pool="", use_fc_norm=True)
    case("rope_temperature_post_transformer_norm", 7600, rope_temperature=100.0, use_post_transformer_norm=True)
    case("no_cls", 7700, class_token=False)
    case("no_cls_token_pool", 7900, class_token=False, global_pool="token")
    case("registers", 8000, num_reg_tokens=2)
    case("registers_no_embed_class_max", 8100, num_reg_tokens=3, no_embed_class=True, global_pool="max")
    case("no_cls_register_avgmax_layerscale", 8200, class_token=False, num_reg_tokens=1, global_pool="avgmax", init_values=0.3)
    return cases


def sam_cases(out: str) -> list:
    from segment_anything.modeling.image_encoder import ImageEncoderViT
    from segment_anything.modeling.mask_decoder import MaskDecoder
    from segment_anything.modeling.prompt_encoder import PromptEncoder
    from segment_anything.modeling.transformer import TwoWayTransformer

    cases = []
    reference = "segment_anything/modeling"

    def encoder(name, seed, **options):
        cfg = dict(img_size=80, patch_size=8, embed_dim=24, depth=3, num_heads=3, mlp_ratio=2.0, out_chans=12, window_size=4,
                   global_attn_indexes=[2], use_rel_pos=True, qkv_bias=True, use_abs_pos=True)
        cfg.update(options)
        model = ImageEncoderViT(**{k: tuple(v) if k == "global_attn_indexes" else v for k, v in cfg.items()}).eval()
        init_like_goldens(model, seed)
        image = torch.randn((2, 3, cfg["img_size"], cfg["img_size"]), generator=torch.Generator().manual_seed(seed + 1))
        mids = {}
        for i, block in enumerate(model.blocks):
            block.register_forward_hook(lambda m, a, o, i=i: mids.__setitem__(f"mid.blocks.{i}", o))
        with torch.no_grad():
            io = {"in.image": image, "out.image_embeddings": model(image), **mids}
        cases.append(write_case(os.path.join(out, "sam_image_encoder"), "sam_image_encoder", name, dict(cfg, batch=2), seed,
                                dict(model.state_dict()), io, reference + "/image_encoder.py:ImageEncoderViT"))

    def decoder(name, seed, image_hw=(8, 8), prompts=2, sparse=4, outputs=3, iou_depth=3, iou_hidden=32, dim=16, depth=2, heads=2,
                mlp=32, rate=2):
        transformer = TwoWayTransformer(depth=depth, embedding_dim=dim, num_heads=heads, mlp_dim=mlp, attention_downsample_rate=rate)
        model = MaskDecoder(transformer_dim=dim, transformer=transformer, num_multimask_outputs=outputs, iou_head_depth=iou_depth,
                            iou_head_hidden_dim=iou_hidden).eval()
        init_like_goldens(model, seed)
        gen = torch.Generator().manual_seed(seed + 1)
        h, w = image_hw
        image, pe = torch.randn((1, dim, h, w), generator=gen), torch.randn((1, dim, h, w), generator=gen)
        tokens, dense = torch.randn((prompts, sparse, dim), generator=gen), torch.randn((prompts, dim, h, w), generator=gen)
        with torch.no_grad():
            multi, multi_iou = model(image, pe, tokens, dense, True)
            single, single_iou = model(image, pe, tokens, dense, False)
            every, every_iou = model.predict_masks(image, pe, tokens, dense)
        io = {"in.image_embeddings": image, "in.image_pe": pe, "in.sparse_prompt_embeddings": tokens, "in.dense_prompt_embeddings": dense,
              "out.multimask.masks": multi, "out.multimask.iou_pred": multi_iou, "out.single.masks": single,
              "out.single.iou_pred": single_iou, "out.all.masks": every, "out.all.iou_pred": every_iou}
        config = dict(image_hw=list(image_hw), iou_head_depth=iou_depth, iou_head_hidden_dim=iou_hidden, n_prompts=prompts, n_sparse=sparse,
                      num_multimask_outputs=outputs, transformer_dim=dim,
                      transformer=dict(attention_downsample_rate=rate, depth=depth, embedding_dim=dim, mlp_dim=mlp, num_heads=heads))
        cases.append(write_case(os.path.join(out, "sam_mask_decoder"), "sam_mask_decoder", name, config, seed, dict(model.state_dict()),
                                io, reference + "/mask_decoder.py:MaskDecoder"))

    def prompts(name, seed, batch=2, dim=16, grid=(8, 8), size=(64, 64), mask_chans=8, points=3):
        torch.manual_seed(seed)  # the Gaussian PE matrix is a buffer drawn at construction
        model = PromptEncoder(embed_dim=dim, image_embedding_size=grid, input_image_size=size, mask_in_chans=mask_chans).eval()
        init_like_goldens(model, seed)
        gen = torch.Generator().manual_seed(seed + 1)
        coords = torch.rand((batch, points, 2), generator=gen) * torch.tensor([size[1], size[0]])
        labels = torch.randint(-1, 2, (batch, points), generator=gen)
        boxes = torch.sort(torch.rand((batch, 2, 2), generator=gen) * torch.tensor([size[1], size[0]]), dim=1).values.reshape(batch, 4)
        masks = torch.randn((batch, 1, 4 * grid[0], 4 * grid[1]), generator=gen)
        io = {"in.point_coords": coords, "in.point_labels": labels, "in.boxes": boxes, "in.mask_inputs": masks}
        with torch.no_grad():
            for call, args in [("points_only", ((coords, labels), None, None)), ("boxes_only", (None, boxes, None)),
                               ("points_boxes", ((coords, labels), boxes, None)), ("points_masks", ((coords, labels), None, masks)),
                               ("masks_only", (None, None, masks))]:
                io[f"out.{call}.sparse"], io[f"out.{call}.dense"] = model(*args)
            io["out.dense_pe"] = model.get_dense_pe()
        config = dict(batch=batch, embed_dim=dim, image_embedding_size=list(grid), input_image_size=list(size), mask_in_chans=mask_chans,
                      n_points=points)
        cases.append(write_case(os.path.join(out, "sam_prompt_encoder"), "sam_prompt_encoder", name, config, seed,
                                dict(model.state_dict()), io, reference + "/prompt_encoder.py:PromptEncoder"))

    def pipeline(name, seed, images, multimask=True, img_size=64, depth=2, window=4, global_blocks=(1,)):
        from segment_anything.modeling.sam import Sam

        dim, grid = 16, img_size // 8
        encoder_cfg = dict(depth=depth, embed_dim=32, global_attn_indexes=list(global_blocks), img_size=img_size, mlp_ratio=4.0,
                           num_heads=2, out_chans=dim, patch_size=8, window_size=window)
        transformer_cfg = dict(attention_downsample_rate=2, depth=2, embedding_dim=dim, mlp_dim=32, num_heads=2)
        model = Sam(
            image_encoder=ImageEncoderViT(**{k: tuple(v) if k == "global_attn_indexes" else v for k, v in encoder_cfg.items()},
                                          use_rel_pos=True),
            prompt_encoder=PromptEncoder(embed_dim=dim, image_embedding_size=(grid, grid), input_image_size=(img_size, img_size),
                                         mask_in_chans=8),
            mask_decoder=MaskDecoder(transformer_dim=dim, transformer=TwoWayTransformer(**transformer_cfg), num_multimask_outputs=3,
                                     iou_head_depth=3, iou_head_hidden_dim=32),
        ).eval()
        init_like_goldens(model, seed)
        gen = torch.Generator().manual_seed(seed + 1)
        batch, io = [], {}
        for i, spec in enumerate(images):
            h, w = spec["input_hw"]
            item = {"image": torch.rand((3, h, w), generator=gen) * 255, "original_size": tuple(spec["original_size"])}
            n = spec["n_prompts"]
            if spec.get("points"):
                item["point_coords"] = torch.rand((n, spec["points"], 2), generator=gen) * torch.tensor([w, h])
                item["point_labels"] = torch.randint(0, 2, (n, spec["points"]), generator=gen)
            if spec.get("boxes"):
                item["boxes"] = torch.sort(torch.rand((n, 2, 2), generator=gen) * torch.tensor([w, h]), dim=1).values.reshape(n, 4)
            if spec.get("mask_inputs"):
                item["mask_inputs"] = torch.randn((n, 1, 4 * grid, 4 * grid), generator=gen)
            batch.append(item)
            io[f"in.{i}.image"] = item["image"]
            io[f"in.{i}.original_size"] = torch.tensor(spec["original_size"], dtype=torch.int64)
            for key in ("point_coords", "point_labels", "boxes", "mask_inputs"):
                if key in item:
                    io[f"in.{i}.{key}"] = item[key]
        with torch.no_grad():
            preprocessed = torch.stack([model.preprocess(item["image"]) for item in batch])
            io["mid.preprocessed"], io["mid.image_embeddings"] = preprocessed, model.image_encoder(preprocessed)
            for i, (item, result) in enumerate(zip(batch, model(batch, multimask))):
                logits = model.postprocess_masks(result["low_res_logits"], item["image"].shape[-2:], item["original_size"])
                io[f"out.{i}.mask_logits"], io[f"out.{i}.masks"] = logits, (logits > 0).to(torch.uint8)
                io[f"out.{i}.iou_predictions"], io[f"out.{i}.low_res_logits"] = result["iou_predictions"], result["low_res_logits"]
        config = dict(encoder=encoder_cfg, images=images, iou_head_hidden_dim=32, mask_in_chans=8, multimask_output=multimask,
                      transformer=transformer_cfg)
        cases.append(write_case(os.path.join(out, "sam_pipeline"), "sam_pipeline", name, config, seed, dict(model.state_dict()), io,
                                reference + "/sam.py:Sam"))

    pipeline("single_mask_odd_sizes", 5100, [dict(input_hw=[64, 37], original_size=[101, 58], n_prompts=2, points=2),
                                             dict(input_hw=[29, 64], original_size=[29, 64], n_prompts=1, boxes=True)],
             multimask=False)
    pipeline("masks_and_boxes_bigger_canvas", 5200, [dict(input_hw=[80, 80], original_size=[160, 160], n_prompts=3, boxes=True,
                                                          mask_inputs=True)], img_size=80, depth=3, window=3, global_blocks=(2,))
    encoder("padded_windows", 9000)
    encoder("padded_windows_no_qkv_bias", 9100, qkv_bias=False)
    encoder("no_rel_pos_no_abs_pos", 9200, use_rel_pos=False, use_abs_pos=False)
    encoder("window3_grid11", 9300, window_size=3, img_size=88, global_attn_indexes=[0])
    encoder("window_larger_than_grid", 9400, window_size=14, img_size=64, global_attn_indexes=[])
    encoder("no_windows", 9500, window_size=0, global_attn_indexes=[])
    decoder("plain", 4000)
    decoder("two_outputs_iou_depth2_depth1", 4200, outputs=2, iou_depth=2, depth=1)
    decoder("rate1_depth3_nonsquare", 4300, image_hw=(6, 10), rate=1, depth=3, heads=4, dim=32, mlp=24)
    decoder("five_outputs_one_token", 4400, outputs=5, sparse=1, prompts=3)
    prompts("plain", 3000)
    prompts("nonsquare_wide", 3100, grid=(6, 10), size=(48, 80), mask_chans=4, points=5, dim=32)
    prompts("one_point", 3200, batch=3, points=1, mask_chans=16)
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timm", help="pytorch-image-models checkout (its folder holding timm/); default: the installed timm")
    parser.add_argument("--sam", help="segment-anything checkout (its folder holding segment_anything/); default: installed")
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "pixelllm-reference-cases"))
    parser.add_argument("--only", choices=["eva02", "sam"], help="generate one family")
    args = parser.parse_args()
    for path in (args.timm, args.sam):
        if path:
            sys.path.insert(0, os.path.abspath(path))
    torch.set_num_threads(1)
    cases = []
    stub_missing_packages()
    if args.only in (None, "eva02"):
        cases += eva02_cases(args.out)
    if args.only in (None, "sam"):
        cases += sam_cases(args.out)
    print(f"{len(cases)} cases under {args.out}; check them with: ./pixelllm verify {args.out} --quiet")
    for case in cases:
        print(" ", case)


if __name__ == "__main__":
    main()
