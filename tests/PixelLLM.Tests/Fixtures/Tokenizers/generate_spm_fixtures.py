#!/usr/bin/python3
"""Generates the SentencePiece fixtures used by TokenizerTests (run from the repository root):

    /usr/bin/python3 tests/PixelLLM.Tests/Fixtures/Tokenizers/generate_spm_fixtures.py

Needs Debian's `sentencepiece` (spm_train) and `python3-sentencepiece` 0.1.97. It trains two small unigram models
with settings that differ from the golden tiny T5 model (which is read from shared/golden/pixelllm/spiece.model) and
writes, for every model, the ids and the decoded text python's sentencepiece gives for a fixed list of strings and
id sequences. The C# tests only read the JSON; they never run python.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))


def find_golden():
    if os.environ.get("PIXELLLM_GOLDEN"):
        return os.environ["PIXELLLM_GOLDEN"]
    d = ROOT
    while True:
        for cand in (os.path.join(d, "shared", "golden"),):
            if os.path.isdir(cand):
                return cand
        if os.path.dirname(d) == d:
            raise SystemExit("shared/golden not found: set PIXELLLM_GOLDEN")
        d = os.path.dirname(d)


GOLDEN = find_golden()

WORDS = ("the a an of on in at to is we can see and sky left right middle top behind next near sitting standing "
         "parked flying red blue green white black small large car dog cat ball tree house man woman table bird "
         "boat road photo image caption object where long picture street window person people water grass").split()
ACCENTED = "café naïve résumé über straße façade jalapeño Ærø œuvre crème brûlée São Paulo Zürich".split()
NUMBERS = ["1", "2", "3", "12", "2024", "3.14", "100%", "7th", "42", "0.5"]
OTHER = ["東京", "中文", "日本語", "한국어", "Москва", "Ελλάδα", "😀", "→", "©", "€5", "ﬁsh", "ＡＢＣ１２３"]


def corpus_lines(seed, count):
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        n = rng.randint(3, 14)
        parts = []
        for _ in range(n):
            r = rng.random()
            if r < 0.78:
                parts.append(rng.choice(WORDS))
            elif r < 0.86:
                parts.append(rng.choice(ACCENTED))
            elif r < 0.93:
                parts.append(rng.choice(NUMBERS))
            else:
                parts.append(rng.choice(OTHER))
        line = " ".join(parts)
        line = line[0].upper() + line[1:]
        line += rng.choice([".", ".", "!", "?", ",", ":", ""])
        lines.append(line)
    return lines


TEXTS = [
    "A long image caption: ",
    "an object of ",
    "where is the red ball on the left",
    "A photo of ",
    "The man is sitting on the table.",
    "a small dog",
    "Hello, world! (test) [x] {y} <z> a/b-c_d",
    "Numbers: 0 1 2 3 42 2024 3.14159 1,000,000 100% #7",
    "multiple   spaces   between    words",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\r\nmixed",
    "café naïve résumé über straße",
    "combining e\u0301 and a\u0308 marks",
    "ﬁsh ﬂow ligatures",
    "ＦＵＬＬ　ｗｉｄｔｈ　１２３",
    "東京 and 中文 text",
    "Москва Ελλάδα 한국어",
    "emoji 😀 and symbols → © € ™",
    "unknown ΩΩΩ ЖЖ ⅧⅨ chars",
    "zero\u200bwidth and non\u00a0breaking space",
    "control\u0001char and del\u007f",
    "<unk> </s> <pad> literal markers",
    "UPPER CASE and MiXeD cAsE",
    "x",
    "ab",
    " ",
    "supercalifragilisticexpialidocious",
    "don't can't won't it's",
    "e-mail: someone@example.com, url https://example.org/path?q=1",
    "ŉ ǅ ǈ ß İ ı ſ",
]

DECODE_SEQS_COMMON = [
    [3],                # a lone "▁"
    [3, 4],             # "▁" then a word piece (golden model: "▁the")
    [2],                # unk alone
    [2, 4, 2],
    [4, 2, 5],
    [0, 4, 5],          # a pad in front
    [4, 0, 5],          # a pad inside
    [6, 7, 8],
    [5, 5, 5],
]


def model_record(name, path, rng):
    sp = spm.SentencePieceProcessor(model_file=path)
    n = sp.get_piece_size()
    record = {
        "model": name,
        "piece_count": n,
        "pad_id": sp.pad_id(), "eos_id": sp.eos_id(), "unk_id": sp.unk_id(), "bos_id": sp.bos_id(),
        "encode": [],
        "decode": [],
    }
    for t in TEXTS:
        ids = sp.encode(t)
        record["encode"].append({"text": t, "ids": ids, "pieces": [sp.id_to_piece(i) for i in ids],
                                 "decoded": sp.decode(ids)})
    seqs = [list(s) for s in DECODE_SEQS_COMMON]
    for _ in range(24):
        seqs.append([rng.randrange(0, n) for _ in range(rng.randint(1, 12))])
    for s in seqs:
        s = [i for i in s if i != sp.eos_id() and i < n]
        if s:
            record["decode"].append({"ids": s, "text": sp.decode(s)})
    return record


def train(workdir, prefix, extra):
    corpus = os.path.join(workdir, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write("\n".join(corpus_lines(7, 3000)) + "\n")
    cmd = ["spm_train", f"--input={corpus}", f"--model_prefix={os.path.join(workdir, prefix)}",
           "--model_type=unigram", "--pad_id=0", "--eos_id=1", "--unk_id=2", "--bos_id=-1",
           "--num_threads=1", "--shuffle_input_sentence=false", "--character_coverage=0.995"] + extra
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return os.path.join(workdir, prefix + ".model")


def main():
    rng = random.Random(1234)
    out = {"generator": "tests/PixelLLM.Tests/Fixtures/Tokenizers/generate_spm_fixtures.py",
           "sentencepiece_version": spm.__version__, "models": []}
    # A fixed work directory: spm_train records its input path in the model, so this keeps the bytes reproducible.
    tmp = os.path.join(tempfile.gettempdir(), "pixelllm-spm-fixtures")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    # B: byte fallback on, digits split, plain nfkc, extra whitespace kept, dummy prefix on.
    b = train(tmp, "spm_bytefallback", ["--vocab_size=400", "--byte_fallback=true", "--split_digits=true",
                                        "--normalization_rule_name=nfkc", "--remove_extra_whitespaces=false",
                                        "--add_dummy_prefix=true"])
    # C: no normalisation, no dummy prefix, a user-defined symbol, no byte fallback.
    c = train(tmp, "spm_identity", ["--vocab_size=160", "--byte_fallback=false",
                                    "--normalization_rule_name=identity", "--add_dummy_prefix=false",
                                    "--user_defined_symbols=<sep>"])
    for src, dst in ((b, "spm_bytefallback.model"), (c, "spm_identity.model")):
        with open(src, "rb") as fi, open(os.path.join(HERE, dst), "wb") as fo:
            fo.write(fi.read())
    models = [("golden:pixelllm/spiece.model", os.path.join(GOLDEN, "pixelllm", "spiece.model")),
              ("golden:pixelllm_refseg/spiece.model", os.path.join(GOLDEN, "pixelllm_refseg", "spiece.model")),
              ("spm_bytefallback.model", os.path.join(HERE, "spm_bytefallback.model")),
              ("spm_identity.model", os.path.join(HERE, "spm_identity.model"))]
    for name, path in models:
        out["models"].append(model_record(name, path, rng))
    with open(os.path.join(HERE, "spm_fixtures.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
