#!/bin/sh
# Trains the embedded model on a lent GPU machine (python3 + torch, no Go, no
# network): train/train.py with the recipe of `make model`, on cuda, writing
# to $OUT what comes back (at most 8 files of at most 16 MiB each):
#   index.json, weights-00.bin ... (f16, <= 15 MiB each), loss.csv,
#   logits.json, train.log
# Usage (from the repository root, the token file carried in build/model/):
#   sh train/gpu.sh [TOKENS_PREFIX] [extra train.py flags...]
# TOKENS_PREFIX defaults to build/model/tokens. Runs in a few minutes on an
# H100; `anima train export` then turns $OUT into the GGUF here.
set -eu
cd "$(dirname "$0")/.."
tokens=${1:-build/model/tokens}
[ $# -gt 0 ] && shift
out=${OUT:?OUT must name the folder whose files come back}
for f in "$tokens.bin" "$tokens.json"; do
  [ -f "$f" ] || { echo "gpu.sh: $f is missing (carry it: see train/README.md)" >&2; exit 1; }
done
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
  torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv 2>/dev/null || true
# The recipe: the same flags as the Makefile's model target (train/README.md),
# except the weights come back as f16 to fit the 16 MiB-per-file limit.
python3 train/train.py --tokens "$tokens" --out "$out" --device cuda \
  $(cat train/recipe.flags) --weights-dtype f16 "$@"
ls -l "$out"
n=$(ls "$out" | wc -l)
if [ "$n" -gt 8 ]; then echo "gpu.sh: $n files in \$OUT, more than the 8 that come back" >&2; exit 1; fi
