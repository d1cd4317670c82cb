"""Trains the demo's SentencePiece unigram model on the scene grammar, with the T5 id layout the engine expects
(pad 0, eos 1, unk 2, no bos; nmt_nfkc normaliser, dummy prefix — as the golden spiece.model).

  /usr/bin/python3 tokenizer.py --out out/spiece.model
"""
import argparse
import io
import os

import sentencepiece as spm

from scenes import LOCA_PROMPT, REFER_PREFIX, TRACE_PROMPT, make_scene


def corpus(count=3000):
    lines = [TRACE_PROMPT.strip(), LOCA_PROMPT.strip()]
    for seed in range(count):
        _, ann = make_scene(10_000_000 + seed)
        lines.append(ann["caption"])
        for r in ann["referring"]:
            lines.append(REFER_PREFIX + r["text"])
        for o in ann["objects"]:
            lines.append(o["region_caption"])
    return lines


def train(out_path, vocab_size=64):
    """SentencePiece's own trainer splits this tiny closed vocabulary into sub-word pieces (too few distinct words for
    its seed search), so: train it once for the normaliser and the character pieces, then rewrite the piece table to
    whole-word pieces '▁word' (score -1) ahead of the character pieces (score -10 … ), keeping the T5 ids 0/1/2."""
    from sentencepiece import sentencepiece_model_pb2 as pb
    text = corpus()
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(text), model_writer=model, model_type="unigram", vocab_size=vocab_size,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, normalization_rule_name="nmt_nfkc", character_coverage=1.0,
        hard_vocab_limit=False, minloglevel=2)
    proto = pb.ModelProto()
    proto.ParseFromString(model.getvalue())
    specials = [p for p in proto.pieces if p.type != pb.ModelProto.SentencePiece.NORMAL]
    words = sorted({w for line in text for w in line.replace(":", " :").split()})
    chars = sorted({ch for line in text for ch in line if not ch.isspace()} | {"\u2581"})
    pieces = [(p.piece, p.score, p.type) for p in specials]
    pieces += [("\u2581" + w, -1.0, pb.ModelProto.SentencePiece.NORMAL) for w in words if w != ":"]
    pieces += [(c, -10.0 - 0.01 * k, pb.ModelProto.SentencePiece.NORMAL) for k, c in enumerate(chars)]
    del proto.pieces[:]
    for piece, score, kind in pieces:
        p = proto.pieces.add()
        p.piece, p.score, p.type = piece, score, kind
    proto.trainer_spec.vocab_size = len(pieces)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "wb") as f:
        f.write(proto.SerializeToString())


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="out/spiece.model")
    ap.add_argument("--vocab-size", type=int, default=64)
    a = ap.parse_args()
    train(a.out, a.vocab_size)
    sp = spm.SentencePieceProcessor(model_file=a.out)
    print("pieces", sp.get_piece_size())
    for s in [TRACE_PROMPT, LOCA_PROMPT, "where is the small yellow circle at the bottom left",
              "a large red circle on the left and a small blue square at the bottom right"]:
        print(sp.encode(s, out_type=str))
