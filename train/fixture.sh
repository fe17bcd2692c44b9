#!/bin/sh
# Remakes cmd/anima/testdata/train: a tiny model trained for a few steps on a
# tiny corpus, whose torch logits TestExportedGGUFReproducesTorchLogits checks
# the exported GGUF against. About 3 minutes on the 2-core machine.
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ANIMA=${ANIMA:-go run ./cmd/anima}
$ANIMA corpus -seed 3 -n 300 -split train -o "$tmp/c.jsonl" -q
$ANIMA train tokenizer -corpus "$tmp/c.jsonl" -vocab 384 -o "$tmp/tok.gguf"
$ANIMA train tokenize -corpus "$tmp/c.jsonl" -tokenizer "$tmp/tok.gguf" -max-len 2048 -o "$tmp/tokens"
${PYTHON:-/usr/bin/python3} train/train.py --tokens "$tmp/tokens" --out "$tmp/out" --steps 6 --batch-tokens 4096 \
  --ctx 2048 --dim 64 --layers 2 --heads 4 --kv-heads 2 --head-dim 16 --experts 4 --experts-used 2 \
  --expert-ffn 32 --lr 1e-2 --min-lr 1e-3 --logits-tokens 24
dst=cmd/anima/testdata/train
mkdir -p "$dst"
cp "$tmp/out/index.json" "$tmp/out/weights-00.bin" "$tmp/out/logits.json" "$dst/"
cp "$tmp/tok.gguf" "$dst/tokenizer.gguf"
