#!/usr/bin/env python3
"""card.py: the model card's generated tables, so a new model's card is
written from its own run rather than by hand.

  card.py loss LOSS.csv        the loss table (steps 0, 50, 100, 200, 400,
                               ..., and the last) from train.py's loss.csv
  card.py samples EVAL.json    the two sample tables (English, Korean) from
                               `anima eval -n 400 -samples 20 -json`
"""
import csv
import json
import sys


def loss(path):
    rows = list(csv.DictReader(open(path)))
    last = int(rows[-1]["step"])
    keep = {0, 50, 100} | set(range(200, last, 200)) | {last}
    print("| step | tokens computed | train completion loss | validation completion loss |")
    print("| --- | --- | --- | --- |")
    for r in rows:
        if int(r["step"]) in keep:
            v = r["val_completion_loss"]
            v = "–" if v == "nan" else f"{float(v):.2f}"
            print(f"| {r['step']} | {int(r['tokens']) / 1e6:.2f} M | {float(r['completion_loss']):.2f} | {v} |")


def cell(s):
    return s.replace("|", "\\|").replace("\n", " ")


def samples(path):
    rep = json.load(open(path))
    for lang, title in (("en", "English"), ("ko", "Korean")):
        print(f"### {title}\n")
        print("| # | situation | heard | the model's decision (constrained) | generator's reference | action ok |")
        print("| --- | --- | --- | --- | --- | --- |")
        n = 0
        for s in rep.get("samples", []):
            if s["lang"] != lang:
                continue
            n += 1
            heard = cell(s.get("heard") or "—")
            ok = "✓" if s["action_ok"] else "✗"
            print(f"| {n} | {s['kind']} | {heard} | `{cell(s['constrained'])}` | `{cell(s['reference'])}` | {ok} |")
        print()


if __name__ == "__main__":
    cmds = {"loss": loss, "samples": samples}
    if len(sys.argv) != 3 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](sys.argv[2])
