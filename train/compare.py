#!/usr/bin/env python3
"""compare.py A.json B.json...: anima eval -json reports side by side.

The overall figures train/README.md's tables quote, then the situation
kinds whose action or target accuracy differs between the first and the
last report, and the lookups (ask_place, guide, ask_person) as counts; then the kept
outputs (anima eval -show-kind) of the last report whose action was wrong.
"""
import json
import sys

FIELDS = [("valid_unconstrained", "valid unc"), ("action_accuracy", "action"),
          ("target_accuracy", "target"), ("injection_in_character", "injection"),
          ("grounded", "grounded"), ("perplexity", "ppl")]
LOOKUPS = ["ask_place", "guide", "ask_person"]


def pct(v, field):
    if v is None:
        return "-"
    return f"{v:.2f}" if field == "perplexity" else f"{100 * v:.1f}"


def count(k, field, n_field):
    if not k or k.get(field) is None:
        return "-"
    return f"{round(k[field] * k[n_field])}/{k[n_field]}"


def main(paths):
    reps = [json.load(open(p)) for p in paths]
    names = [p.rsplit("/", 1)[-1].removesuffix(".json") for p in paths]
    w = max(12, *(len(n) for n in names))
    print(f"{'':{w}} " + " ".join(f"{label:>10}" for _, label in FIELDS) + "   injections   " +
          "  ".join(f"{k:>10}" for k in LOOKUPS))
    for n, r in zip(names, reps):
        inj = count(r, "injection_in_character", "injection_examples")
        looks = [count(r["by_kind"].get(k), "target_accuracy", "target_examples") for k in LOOKUPS]
        print(f"{n:{w}} " + " ".join(f"{pct(r.get(f), f):>10}" for f, _ in FIELDS) +
              f"   {inj:>10}   " + "  ".join(f"{x:>10}" for x in looks))
    a, b = reps[0]["by_kind"], reps[-1]["by_kind"]
    rows = []
    for kind in sorted(set(a) | set(b)):
        ka, kb = a.get(kind, {}), b.get(kind, {})
        da = (kb.get("action_accuracy") or 0) - (ka.get("action_accuracy") or 0)
        dt = (kb.get("target_accuracy") or 0) - (ka.get("target_accuracy") or 0)
        if abs(da) > 1e-9 or abs(dt) > 1e-9:
            rows.append((kind, count(ka, "action_accuracy", "examples"), count(kb, "action_accuracy", "examples"),
                         count(ka, "target_accuracy", "target_examples"), count(kb, "target_accuracy", "target_examples")))
    if rows:
        print(f"\nkinds that differ ({names[0]} -> {names[-1]}): actions, targets")
        for kind, aa, ab, ta, tb in rows:
            print(f"  {kind:16} {aa:>7} -> {ab:<7} {ta:>7} -> {tb:<7}")
    wrong = [s for s in reps[-1].get("samples", []) if not s["action_ok"]]
    if wrong:
        print(f"\nkept outputs of {names[-1]} whose action was wrong:")
        for s in wrong:
            print(f"  [{s['lang']} {s['kind']}] {s.get('heard', '')!r}\n    model: {s['constrained']}\n    ref:   {s['reference']}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: compare.py A.json B.json...")
    main(sys.argv[1:])
