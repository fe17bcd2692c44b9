#!/usr/bin/env python3
"""Independent answers for the tokenizer tests, from outside Go.

splits.json: each text split by the pre-tokenizer regexes exactly as
llama.cpp and Hugging Face write them, run by Python's `regex` module (which
has the lookahead Go's regexp lacks).

reference_ids.json: the same texts encoded with the vocabulary and merges of
../../../../shared/reference/qwen3moe-tiny-f32.gguf by the classic GPT-2
`bpe()` loop (merge every occurrence of the best-ranked pair), a different
algorithm from the Go code's priority queue.

Run from this directory: python3 gen.py (needs the `regex` module).
"""
import json
import os
import random
import struct

import regex

PATTERNS = {
    "gpt2": r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
    "qwen2": r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    "llama3": r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
}

TEXTS = [
    "Hello world",
    "I'm sure you'll see they've GONE, WE'RE here, it'S 'd",
    "  multiple   spaces  ",
    "tabs\tand\nnewlines\n\n\nend",
    "trailing spaces   ",
    "numbers 12345 and 3.14159, 1000000",
    "안녕하세요, 대장장이님! 검을 고쳐 주실 수 있나요?",
    "🔥👍🏽 smile 😀! ❤️",
    "mixed中文text and ひらがな",
    "punct!!! ??? ...\r\n\r\n  ok",
    "x\u00a0y\u3000z",
    "e\u0301te\u0301 cafe\u0301",
    "a\u200bb",
    "٣٤٥ Ⅻ ½ ²",
    "func main() {\n\treturn x+1 // comment\n}\n",
    "<|im_start|>user\nHi there<|im_end|>\n",
    "'hello' \"quoted\" (paren) [brackets]",
    " leading space",
    "\n\nleading newlines",
    "ends with newline\n",
    "   \n   \n",
    "don't stop 'til you'RE done",
    "Здравствуй, кузнец! Сколько стоит меч?",
    "The blacksmith said: \"Bring me 3 iron ingots & 2 coal.\"",
]

ALPHABET = list("aZs tre'\n\r\t1!.-") + ["é", "가", "😀", "\u00a0", "½", "中", "\u0301", "ll", "RE", "  ", "99"]


def random_texts(n, seed=1):
    r = random.Random(seed)
    out = []
    for _ in range(n):
        out.append("".join(r.choice(ALPHABET) for _ in range(r.randint(1, 24))))
    return out


def read_gguf_vocab(path):
    with open(path, "rb") as f:
        data = f.read()
    off = 0

    def take(fmt):
        nonlocal off
        v = struct.unpack_from("<" + fmt, data, off)
        off += struct.calcsize("<" + fmt)
        return v[0]

    def string():
        nonlocal off
        n = take("Q")
        s = data[off:off + n].decode("utf-8")
        off += n
        return s

    sizes = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        return take(sizes[t])

    assert data[:4] == b"GGUF"
    off = 4
    take("I")
    take("Q")
    nkv = take("Q")
    kv = {}
    for _ in range(nkv):
        k = string()
        kv[k] = value(take("I"))
    return kv


def byte_alphabet():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def gpt2_bpe(word, ranks):
    word = list(word)
    while len(word) > 1:
        pairs = [(ranks.get((a, b), 1 << 60), i) for i, (a, b) in enumerate(zip(word, word[1:]))]
        best = min(pairs)[0]
        if best == 1 << 60:
            break
        first, second = word[min(pairs)[1]], word[min(pairs)[1] + 1]
        new, i = [], 0
        while i < len(word):
            if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                new.append(first + second)
                i += 2
            else:
                new.append(word[i])
                i += 1
        word = new
    return word


def main():
    texts = TEXTS + random_texts(300)
    splits = [{"text": t, **{k: regex.findall(p, t) for k, p in PATTERNS.items()}} for t in texts]
    with open("splits.json", "w") as f:
        json.dump(splits, f, ensure_ascii=True, indent=0)

    ref = os.path.join("..", "..", "..", "..", "shared", "reference", "qwen3moe-tiny-f32.gguf")
    kv = read_gguf_vocab(ref)
    tokens = kv["tokenizer.ggml.tokens"]
    ids = {t: i for i, t in enumerate(tokens)}
    ranks = {tuple(m.split(" ", 1)): i for i, m in reversed(list(enumerate(kv["tokenizer.ggml.merges"])))}
    alpha = byte_alphabet()
    out = []
    for t in TEXTS:
        enc = []
        for word in regex.findall(PATTERNS["gpt2"], t):
            mapped = "".join(alpha[b] for b in word.encode("utf-8"))
            for piece in gpt2_bpe(mapped, ranks):
                if piece in ids:
                    enc.append(ids[piece])
                else:  # not a token: spell it in single bytes
                    enc.extend(ids[c] for c in piece)
        out.append({"text": t, "ids": enc})
    with open("reference_ids.json", "w") as f:
        json.dump(out, f, ensure_ascii=True, indent=0)


if __name__ == "__main__":
    main()
