#!/bin/sh
# candidate.sh RUN_DIR NAME: export the latest checkpoint (or, once the run
# has finished, its final weights) of a `make model MODEL_DIR=RUN_DIR` run
# to GGUF and score it on the 400 held-out examples that train/README.md's
# tables use. Writes build/cmp/NAME.json (anima eval -json, with by_kind)
# and prints it against build/cmp/committed.json when that exists, e.g.
#
#   bin/anima eval -n 400 -json > build/cmp/committed.json   # once
#   train/candidate.sh build/rc2 rc2-500
#
# PROMPT_FORMAT (default id-last-recall) must be the run's; ANIMA (default
# bin/anima) is the binary that evaluates, so a candidate can be served
# prompts of another renderer on purpose; SHOW_KIND (default injection)
# names the kinds whose every output the report keeps, and compare.py
# prints those whose action was wrong.
set -eu
[ $# -eq 2 ] || { echo "usage: train/candidate.sh RUN_DIR NAME (see its header)" >&2; exit 2; }
run=$1 name=$2
fmt=${PROMPT_FORMAT:-id-last-recall}
anima=${ANIMA:-bin/anima}
w=$run/weights/checkpoint
[ -f "$run/weights/loss.csv" ] && [ -f "$run/weights/logits.json" ] && w=$run/weights
[ -f "$w/step.txt" ] && echo "checkpoint: $(cat "$w/step.txt")"
mkdir -p build/cmp
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Copy first: the trainer may overwrite the checkpoint while it is read.
cp -r "$w" "$tmp/w"
"$anima" train export -weights "$tmp/w" -tokenizer "$run/tokenizer.gguf" -type q8_0 \
  -prompt-format "$fmt" -o "$tmp/model.gguf" >/dev/null
"$anima" eval -m "$tmp/model.gguf" -n 400 -show-kind "${SHOW_KIND:-injection}" -json > "build/cmp/$name.json" 2>/dev/null
if [ -f build/cmp/committed.json ]; then
  python3 "$(dirname "$0")/compare.py" build/cmp/committed.json "build/cmp/$name.json"
fi
