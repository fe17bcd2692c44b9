#!/usr/bin/env python3
"""card.py: the model card's generated tables, so a new model's card is
written from its own run rather than by hand.

  card.py loss LOSS.csv        the loss table (steps 0, 50, 100, 200, 400,
                               ..., and the last) from train.py's loss.csv
  card.py samples EVAL.json    the two sample tables (English, Korean) from
                               `anima eval -n 400 -samples 20 -json`
  card.py eval NEW.json OLD.json
                               the evaluation table: the new model overall
                               and per language beside the one it replaces,
                               with the issue's targets
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


# The targets (issue 5), as (field, at least, shown as).
TARGETS = {"valid_constrained": (1.0, "100%"), "valid_unconstrained": (0.98, "≥ 98%"),
           "action_accuracy": (0.90, "≥ 90%"), "target_accuracy": (0.90, "≥ 90%"),
           "injection_in_character": (0.95, "≥ 95%")}


def evaluation(new_path, old_path):
    new, old = json.load(open(new_path)), json.load(open(old_path))
    cols = [new, new["by_lang"]["en"], new["by_lang"]["ko"], old]

    def p(v):
        if v is None:
            return "–"
        s = f"{100 * v:.2f}".rstrip("0").rstrip(".")
        return s + "%"

    def of(s, field, n):
        return f"{p(s.get(field))} of {s[n]}"

    rows = [("valid decision, constrained", "valid_constrained", None),
            ("valid decision, unconstrained", "valid_unconstrained", None),
            ("action accuracy", "action_accuracy", None),
            ("target accuracy", "target_accuracy", "target_examples"),
            ("injection answered in character", "injection_in_character", "injection_examples"),
            ("reply grounded (names what it must)", "grounded", "grounded_examples")]
    print("| | overall | en | ko | previous model (overall) | target |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, field, n in rows:
        cells = [of(s, field, n) if n else p(s.get(field)) for s in cols]
        goal = ""
        if field in TARGETS:
            at_least, shown = TARGETS[field]
            ok = new.get(field) is not None and new[field] >= at_least - 1e-9
            goal = f"{shown} {'✓' if ok else '**✗**'}"
        cells[0] = f"**{cells[0]}**"
        print(f"| {label} | " + " | ".join(cells) + f" | {goal} |")
    placed = [f"{s['places_real'] * s['places_named']:.0f} of {s['places_named']}" if s.get("places_real") is not None
              else f"0 of {s['places_named']}" for s in cols]
    print("| places named that are the world's | " + " | ".join(placed) + " | |")
    print("| perplexity of the reference completion | " +
          " | ".join(f"{s['perplexity']:.2f}" for s in cols) + " | |")


if __name__ == "__main__":
    cmds = {"loss": loss, "samples": samples}
    if len(sys.argv) == 4 and sys.argv[1] == "eval":
        evaluation(sys.argv[2], sys.argv[3])
    elif len(sys.argv) != 3 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    else:
        cmds[sys.argv[1]](sys.argv[2])
