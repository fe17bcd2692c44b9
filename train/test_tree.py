#!/usr/bin/env python3
"""Checks that training on prefix trees computes what the runtime computes:
Model.forward_tree over grouped examples (train.py's make_groups and
tree_batch) gives, for every real token, the logits Model.forward gives on
that example alone from position 0 with a causal mask. `make model` runs it
before training; it takes a few seconds on the CPU.

    /usr/bin/python3 train/test_tree.py
"""

import os
import random
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, Model  # noqa: E402
from train import make_batches, make_groups, tree_batch  # noqa: E402


def main():
    torch.manual_seed(3)
    rng = random.Random(3)
    c = Config(vocab=97, dim=32, layers=2, heads=4, kv_heads=2, head_dim=8, experts=4, experts_used=2,
               expert_ffn=24, context=256)
    model = Model(c).eval()
    # Three groups sharing prefixes of different lengths, branches of
    # different lengths, and two examples alone.
    seqs = []
    for plen, k in ((40, 3), (33, 4), (0, 1), (57, 2), (0, 1)):
        pre = [rng.randrange(c.vocab) for _ in range(plen)]
        for _ in range(k):
            seqs.append(pre + [rng.randrange(c.vocab) for _ in range(rng.randrange(2, 30))])
    off = [0]
    for q in seqs:
        off.append(off[-1] + len(q))
    ids = torch.tensor([t for q in seqs for t in q], dtype=torch.int64)
    mask = torch.zeros(len(ids))
    groups = make_groups(off, ids, 8, 16)
    got = [len(ms) for _, ms in groups]
    if got != [3, 4, 1, 2, 1]:
        raise SystemExit(f"make_groups: group sizes {got}, want [3, 4, 1, 2, 1]")
    worst = 0.0
    with torch.no_grad():
        for batch in make_batches(groups, off, 300, random.Random(0)):
            t = tree_batch(batch, off, ids, mask, 0.05, 1.0, torch.Generator().manual_seed(0), "cpu")
            hid, _ = model.forward_tree(t)
            tree_logits = model.output(hid)
            # The real tokens in tree_batch's order, as (sequence, position).
            where = []
            for plen, ms in batch:
                where += [(ms[0], p) for p in range(plen)]
            for plen, ms in batch:
                for m in ms:
                    where += [(m, p) for p in range(plen, off[m + 1] - off[m])]
            full = {}
            for k, (m, p) in enumerate(where):
                if m not in full:
                    full[m] = model(ids[off[m]:off[m + 1]][None])[0][0]
                worst = max(worst, (full[m][p] - tree_logits[k]).abs().max().item())
    print(f"forward_tree matches forward: max abs logit difference {worst:.2e}")
    if worst > 1e-4:
        raise SystemExit("forward_tree differs from forward")


if __name__ == "__main__":
    main()
