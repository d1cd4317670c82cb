#!/usr/bin/python3
"""Generates the WordPiece fixtures used by TokenizerTests (run from the repository root):

    /usr/bin/python3 tests/PixelLLM.Tests/Fixtures/Tokenizers/generate_bert_fixtures.py

No tensorflow_text / transformers package is available here, so this is an independent re-statement in python of
what dmvr's BertTokenizer does through tensorflow_text.BertTokenizer(lower_case=True) (read from its source):
ICU NFKC_Casefold -> NFD -> drop \\p{Mn} (applied to the WHOLE string with Debian's python3-icu, whereas the C# code
uses a per-code-point table), \\p{Cc}|\\p{Cf} -> ' ', split on RE2 \\s ([\\t\\n\\f\\r ]) dropping it, split off every
ASCII punctuation / \\p{P} / CJK ideograph as its own token, then greedy longest-match WordPiece with '##'
continuations, a word of more than 100 UTF-8 bytes or with an unmatched rest -> [UNK].
Decoding is dmvr's indices_to_string after dropping a leading [CLS]: cut at the first [PAD]/[SEP], join with ' ',
remove ' ##'. Writes bert_fixtures.json and bert_test_vocab.txt beside this script.
"""
import json
import os

import icu

HERE = os.path.dirname(os.path.abspath(__file__))
NFKC_CF = icu.Normalizer2.getNFKCCasefoldInstance()
NFD = icu.Normalizer2.getNFDInstance()
P_TYPES = {icu.UCharCategory.CONNECTOR_PUNCTUATION, icu.UCharCategory.DASH_PUNCTUATION,
           icu.UCharCategory.START_PUNCTUATION, icu.UCharCategory.END_PUNCTUATION,
           icu.UCharCategory.INITIAL_PUNCTUATION, icu.UCharCategory.FINAL_PUNCTUATION,
           icu.UCharCategory.OTHER_PUNCTUATION}
CJK = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
       (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]


def is_delim_kept(ch):
    cp = ord(ch)
    if 0x21 <= cp <= 0x2F or 0x3A <= cp <= 0x40 or 0x5B <= cp <= 0x60 or 0x7B <= cp <= 0x7E:
        return True
    if icu.Char.charType(ch) in P_TYPES:
        return True
    return any(lo <= cp <= hi for lo, hi in CJK)


def basic_tokens(text):
    s = NFD.normalize(NFKC_CF.normalize(text))
    s = "".join(c for c in s if icu.Char.charType(c) != icu.UCharCategory.NON_SPACING_MARK)
    s = "".join(" " if icu.Char.charType(c) in (icu.UCharCategory.CONTROL_CHAR, icu.UCharCategory.FORMAT_CHAR)
                else c for c in s)
    tokens, cur = [], ""
    for c in s:
        if c in "\t\n\f\r ":
            if cur:
                tokens.append(cur)
            cur = ""
        elif is_delim_kept(c):
            if cur:
                tokens.append(cur)
            tokens.append(c)
            cur = ""
        else:
            cur += c
    if cur:
        tokens.append(cur)
    return tokens


def wordpiece(word, vocab):
    if len(word.encode("utf-8")) > 100:
        return ["[UNK]"]
    pieces, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while end > start:
            sub = word[start:end]
            if start > 0:
                sub = "##" + sub
            if sub in vocab:
                found = sub
                break
            end -= 1
        if found is None:
            return ["[UNK]"]
        pieces.append(found)
        start = end
    return pieces


def encode(text, vocab):
    return [vocab[p] for w in basic_tokens(text) for p in wordpiece(w, vocab)]


def decode(ids, words, bos, eos, pad):
    if ids and ids[0] == bos:
        ids = ids[1:]
    cut = []
    for i in ids:
        if i in (pad, eos):
            break
        cut.append(i)
    return " ".join(words[i] for i in cut).replace(" ##", "")


def load_vocab(path):
    with open(path, encoding="utf-8") as f:
        words = [line.strip() for line in f]
    return words, {w: i for i, w in enumerate(words)}


TEST_VOCAB = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + \
    list("abcdefghijklmnopqrstuvwxyz0123456789") + ["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789"] + \
    ["the", "a", "cafe", "naive", "resume", "uber", "strasse", "facade", "fish", "flow", "full", "width", "123",
     "hello", "world", "test", "man", "sitting", "table", "photo", "of", "an", "object", "where", "is", "red", "ball",
     "left", "caption", "image", "long", "dog", "un", "##aff", "##able", "##ing", "##ed", "##s", "play", "run", "##n",
     "中", "文", "東", "京", "日", "本", "語", "ᄒ", "##ᅡ", "##ᆫ", "ᄀ", "##ᅮ", "##ᆨ", "москва", "ελλαδα", "σ", "##σ",
     "ς", "i", "dz", "##ss", "ij", "…", "—", "“", "”", "¿", "·", "€", "©", "😀", "tm", "1/2", "½", "x²", "##²", "##x", "##москва"]


TEXTS = [
    "A long image caption: ",
    "an object of ",
    "where is the red ball on the left",
    "A photo of ",
    "The man is sitting on the table.",
    "Hello, world! (test) [x] {y} <z> a/b-c_d",
    "Numbers: 0 1 2 3 42 2024 3.14159 1,000,000 100% #7",
    "multiple   spaces\tand\nnewlines\r\nmixed",
    "  leading and trailing  ",
    "Café NAÏVE résumé über Straße façade",
    "combining e\u0301 and a\u0308 marks, lone \u0301 accent",
    "ﬁsh ﬂow ligatures",
    "ＦＵＬＬ　ｗｉｄｔｈ　１２３",
    "東京 and 中文日本語 text",
    "한국어 한국",
    "Москва Ελλάδα ΟΔΟΣ",
    "emoji 😀 and symbols → © € ™ ½ x²",
    "unaffable playing runs",
    "zero\u200bwidth non\u00a0breaking soft\u00adhyphen",
    "control\u0001char del\u007f tab\u000bvt nel\u0085x",
    "[CLS] [SEP] [PAD] [UNK] literal markers",
    "don't can't won't it's",
    "“quoted” — dash … ellipsis ¿question? ·dot",
    "İstanbul ǅ Ĳ ß",
    "ogham\u1680space and en\u2002space",
    "x" * 101,
    "x" * 100,
    "москва" * 9,
    "a" + "é" * 50,
    "abcdefghij" * 10,
    "xyzzy qwfp",
]


def main():
    golden_words = None
    for d in [os.path.abspath(os.path.join(HERE, *([".."] * k), "shared", "golden")) for k in range(4, 8)]:
        if os.path.isfile(os.path.join(d, "pixelllm_git", "vocab.txt")):
            golden_words = os.path.join(d, "pixelllm_git", "vocab.txt")
            break
    if os.environ.get("PIXELLLM_GOLDEN"):
        golden_words = os.path.join(os.environ["PIXELLLM_GOLDEN"], "pixelllm_git", "vocab.txt")
    test_vocab_path = os.path.join(HERE, "bert_test_vocab.txt")
    unique = list(dict.fromkeys(TEST_VOCAB))  # first occurrence wins; dmvr rejects duplicates
    with open(test_vocab_path, "w", encoding="utf-8") as f:
        f.write("\n".join(unique) + "\n")
    out = {"generator": "tests/PixelLLM.Tests/Fixtures/Tokenizers/generate_bert_fixtures.py",
           "icu_version": icu.ICU_VERSION, "vocabs": []}
    for name, path in (("golden:pixelllm_git/vocab.txt", golden_words), ("bert_test_vocab.txt", test_vocab_path)):
        words, vocab = load_vocab(path)
        bos, eos, pad, unk = vocab["[CLS]"], vocab["[SEP]"], vocab["[PAD]"], vocab["[UNK]"]
        rec = {"vocab": name, "size": len(words), "cls": bos, "sep": eos, "pad": pad, "unk": unk,
               "encode": [], "decode": []}
        for t in TEXTS:
            ids = encode(t, vocab)
            rec["encode"].append({"text": t, "basic_tokens": basic_tokens(t), "ids": ids,
                                  "decoded": decode(ids, words, bos, eos, pad)})
        seqs = [[bos, 8 % len(words), eos], [bos, bos, 9], [9, 10, pad, 11], [bos], [], [eos, 9],
                [bos] + [w for w in range(len(words)) if words[w].startswith("##")][:3] + [9, eos, 10],
                [w for w in range(len(words)) if words[w].startswith("##")][:2] + [unk, 12]]
        for s in seqs:
            rec["decode"].append({"ids": s, "text": decode(s, words, bos, eos, pad)})
        out["vocabs"].append(rec)
    with open(os.path.join(HERE, "bert_fixtures.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
