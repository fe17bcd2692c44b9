#!/usr/bin/env python3
"""Train Anima's NPC model (train/model.py) on a token file from
`anima train tokenize`, then write the weights for `anima train export`.

Inputs: PREFIX.json (header) and PREFIX.bin: offsets uint32[S+1], token ids
uint16[T], loss mask uint8[T] (0 on the prompt, 1 on the completion:
decision JSON and <|im_end|>, 2 on the completion's key tokens: the target's
id and the names the reply must mention, weighted --key-weight),
little-endian.

Outputs in --out:
  index.json, weights-NN.bin   tensors in GGUF names, shapes and order, raw
                               little-endian f32 or f16, files <= 15 MiB
  loss.csv                     step, tokens, lr, loss, completion loss, aux,
                               validation completion loss, seconds, tok/s
  logits.json                  the trained model's float32 logits for a fixed
                               prompt, computed from the weights as written
                               (so an F32 GGUF export must reproduce them)
  train.log                    the run's settings and summary

Consecutive examples that share a long prompt prefix (`anima corpus -group
K` writes K examples of one world and persona in a row) form a prefix tree:
the shared prefix runs once and each example's own tokens attend to it and
then to themselves, causally, at the positions that follow it. That is the
same computation as running every example alone from position 0 with a
causal mask, exactly as the runtime presents it (train/test_tree.py checks
it), at a fraction of the cost. Each batch holds whole groups of similar
shape, about --batch-tokens padded tokens in all.
"""

import argparse
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, Model, count_params  # noqa: E402

MAX_BLOB = 15 << 20


def load_tokens(prefix):
    """Reads a token file with torch alone (the GPU machine may lack numpy).
    Returns the header, offsets (a list), ids (int64) and mask (float32)."""
    with open(prefix + ".json") as f:
        h = json.load(f)
    if h.get("format") != "anima-tokens/1":
        raise SystemExit(f"{prefix}.json: format {h.get('format')!r}; want anima-tokens/1")
    if sys.byteorder != "little":
        raise SystemExit("token files are little-endian; this machine is not")
    S, T = h["sequences"], h["tokens"]
    with open(prefix + ".bin", "rb") as f:
        buf = bytearray(f.read())
    want = 4 * (S + 1) + 3 * T
    if len(buf) != want:
        raise SystemExit(f"{prefix}.bin: {len(buf)} bytes; the header implies {want}")
    off = torch.frombuffer(buf, dtype=torch.int32, count=S + 1).tolist()
    ids = torch.frombuffer(buf, dtype=torch.int16, count=T, offset=4 * (S + 1)).to(torch.int64) & 0xFFFF
    mask = torch.frombuffer(buf, dtype=torch.uint8, count=T, offset=4 * (S + 1) + 2 * T).float()
    if off[0] != 0 or off[-1] != T or any(b <= a for a, b in zip(off, off[1:])):
        raise SystemExit(f"{prefix}.bin: offsets are not increasing from 0 to {T}")
    if int(ids.max()) >= h["vocab"]:
        raise SystemExit(f"{prefix}.bin: token id {int(ids.max())} outside the vocabulary of {h['vocab']}")
    return h, off, ids, mask


def lcp(ids, off, i, j):
    """Length of the longest common prefix of sequences i and j."""
    n = min(off[i + 1] - off[i], off[j + 1] - off[j])
    d = (ids[off[i]:off[i] + n] != ids[off[j]:off[j] + n]).nonzero()
    return int(d[0]) if len(d) else n


def make_groups(off, ids, max_k, min_prefix):
    """Split the sequences, in file order, into groups of at most max_k
    consecutive ones whose common prefix is at least min_prefix tokens
    (`anima corpus -group K` writes K examples of one world and persona in a
    row, so their lore and persona segments tokenize identically). Returns
    (prefix length, [sequences]) pairs; the prefix leaves every member at
    least one token of its own, and a group of one has no prefix."""
    groups, i, S = [], 0, len(off) - 1
    while i < S:
        members, plen = [i], off[i + 1] - off[i] - 1
        j = i + 1
        while j < S and len(members) < max_k:
            n = lcp(ids, off, i, j)
            if n < min_prefix:
                break
            members.append(j)
            plen = min(plen, n, off[j + 1] - off[j] - 1)
            j += 1
        groups.append((plen if len(members) > 1 else 0, members))
        i = j
    return groups


def group_shape(g, off):
    """(prefix length, longest branch) of group g."""
    plen, members = g
    return plen, max(off[m + 1] - off[m] - plen for m in members)


def make_batches(groups, off, batch_tokens, rng):
    """Batches of whole groups of similar shape whose padded size (groups x
    longest prefix + branches x longest branch) stays within batch_tokens,
    in an order drawn from rng. Grouping by shape keeps padding, and
    attention's quadratic cost, small; no example is packed with another
    that does not share its prefix, so each one is seen exactly as the
    runtime presents it, from position 0 with a causal mask."""
    shape = [group_shape(g, off) for g in groups]
    order = sorted(range(len(groups)), key=lambda k: (shape[k][1], shape[k][0], rng.random()))
    batches, cur, P, S, B = [], [], 0, 0, 0
    for k in order:
        p, s = shape[k]
        n = len(groups[k][1])
        if cur and (len(cur) + 1) * max(P, p) + (B + n) * max(S, s) > batch_tokens:
            batches.append(cur)
            cur, P, S, B = [], 0, 0, 0
        cur.append(groups[k])
        P, S, B = max(P, p), max(S, s), B + n
    if cur:
        batches.append(cur)
    rng.shuffle(batches)
    return batches


class Tree:
    """One batch of prefix trees as Model.forward_tree reads it, and its
    loss targets. Real tokens are numbered prefix tokens first (group by
    group), then branch tokens (branch by branch)."""


def tree_batch(batch, off, ids, mask, prompt_weight, prompt_sample, gen, device, key_weight=1.0):
    t = Tree()
    G = len(batch)
    P = max(p for p, _ in batch)
    branches = [(gi, m) for gi, (_, ms) in enumerate(batch) for m in ms]
    S = max(off[m + 1] - off[m] - batch[gi][0] for gi, m in branches)
    tok, pos, tmask, pre_slot, br_slot = [], [], [], [], []
    src, nxt = [], []  # a real token's index, and its successor's
    n = 0
    for gi, (plen, ms) in enumerate(batch):
        a = off[ms[0]]
        tok.append(ids[a:a + plen])
        tmask.append(mask[a:a + plen])
        pos.append(torch.arange(plen))
        pre_slot.append(gi * P + torch.arange(plen))
        # The last prefix token predicts each branch's first token, which
        # may differ between branches; it is a prompt token, left out.
        src.append(n + torch.arange(max(plen - 1, 0)))
        n += plen
    t.prefix_tokens = n
    br_group, br_plen = [], []
    for bi, (gi, m) in enumerate(branches):
        plen = batch[gi][0]
        a, b = off[m] + plen, off[m + 1]
        tok.append(ids[a:b])
        tmask.append(mask[a:b])
        pos.append(plen + torch.arange(b - a))
        br_slot.append(bi * S + torch.arange(b - a))
        src.append(n + torch.arange(b - a - 1))
        n += b - a
        br_group.append(gi)
        br_plen.append(plen)
    src = torch.cat(src)
    tok, tmask = torch.cat(tok), torch.cat(tmask)
    m = tmask[src + 1]
    comp = (m > 0).float()
    weight = torch.where(comp > 0, torch.ones_like(comp), torch.full_like(comp, prompt_weight))
    weight = torch.where(m == 2, torch.full_like(comp, key_weight), weight)
    if prompt_sample < 1:
        # Logits for a random share of the prompt targets only, weighted
        # up to keep the expected loss: the output layer over a 6k
        # vocabulary is a fifth of the work per token, and prompt tokens,
        # weighted 0.05, are nine in ten of them.
        keep = (comp > 0) | (torch.rand(len(src), generator=gen) < prompt_sample)
        src, comp, weight = src[keep], comp[keep], weight[keep]
        weight = torch.where(comp > 0, weight, weight / prompt_sample)
    t.ids, t.pos = tok.to(device), torch.cat(pos).to(device)
    t.groups, t.prefix_len, t.branches, t.branch_len = G, P, len(branches), S
    t.pre_slot = torch.cat(pre_slot).to(device)
    t.br_slot = torch.cat(br_slot).to(device)
    t.br_group = torch.tensor(br_group, device=device)
    causal = torch.ones(S, S, dtype=torch.bool, device=device).tril().expand(len(branches), S, S)
    if P > 0:
        pre_ok = torch.arange(P, device=device)[None, :] < torch.tensor(br_plen, device=device)[:, None]
        t.br_mask = torch.cat([pre_ok[:, None, :].expand(-1, S, -1), causal], dim=2)[:, None]
    else:
        t.br_mask = causal[:, None]
    t.src, t.tgt = src.to(device), tok[src + 1].to(device)
    t.weight, t.comp = weight.to(device), comp.to(device)
    t.real_tokens = n
    return t


def tensor_bytes(t, dtype):
    """Little-endian bytes of t as f32 or f16, with numpy when present."""
    t = t.detach().cpu().contiguous().to(torch.float32 if dtype == "f32" else torch.float16)
    try:
        import numpy  # noqa: F401
        return t.numpy().tobytes()
    except ImportError:
        import array
        if dtype == "f32":
            return array.array("f", t.flatten().tolist()).tobytes()
        return array.array("h", t.view(torch.int16).flatten().tolist()).tobytes()


def lr_at(step, steps, warmup, peak, floor):
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, steps - warmup)
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def write_weights(model, out, dtype):
    tensors = model.gguf_tensors()
    index = {"format": "anima-weights/1", "config": model.c.to_dict(), "tensors": []}
    fileno, blob = 0, bytearray()

    def flush():
        nonlocal fileno, blob
        if blob:
            with open(os.path.join(out, f"weights-{fileno:02d}.bin"), "wb") as f:
                f.write(blob)
            fileno, blob = fileno + 1, bytearray()

    for name, shape, t in tensors:
        # GGUF order: the innermost dimension (shape[0]) varies fastest,
        # which is the row-major order of the torch tensor as stored.
        data = tensor_bytes(t, dtype)
        if len(data) > MAX_BLOB:
            raise SystemExit(f"tensor {name} is {len(data)} bytes, over the {MAX_BLOB}-byte file limit")
        if len(blob) + len(data) > MAX_BLOB:
            flush()
        index["tensors"].append({"name": name, "shape": shape, "dtype": dtype,
                                 "file": f"weights-{fileno:02d}.bin", "offset": len(blob)})
        blob += data
    flush()
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    return fileno


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", required=True, help="token file prefix (PREFIX.json, PREFIX.bin)")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--budget-tokens", type=float, default=0,
                    help="train on about this many tokens (padding included); sets --steps")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-tokens", type=int, default=8192, help="padded tokens per step")
    ap.add_argument("--ctx", type=int, default=1024, help="context length recorded in the model (>= longest example)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr", type=float, default=2e-4)
    ap.add_argument("--warmup", type=int, default=0, help="warmup steps (default: 5%% of steps)")
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--prompt-weight", type=float, default=0.05,
                    help="loss weight of prompt tokens relative to completion tokens")
    ap.add_argument("--key-weight", type=float, default=1.0,
                    help="loss weight of the completion's key tokens (mask 2: the target id and the names "
                         "the reply must mention) relative to the other completion tokens")
    ap.add_argument("--prompt-sample", type=float, default=1.0,
                    help="share of prompt-token targets given logits and loss (weighted up to keep the expected loss)")
    ap.add_argument("--group-max", type=int, default=8, help="most examples sharing one prefix in a batch")
    ap.add_argument("--min-prefix", type=int, default=32, help="shortest shared prefix worth sharing, in tokens")
    ap.add_argument("--aux-weight", type=float, default=0.01, help="router load-balancing loss weight")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--val-frac", type=float, default=0.02, help="share of examples held back for validation")
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--checkpoint-every", type=int, default=0,
                    help="also write the weights to OUT/checkpoint every N steps (0: never), so a run "
                         "cut short still leaves a model to export")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads when there is no GPU")
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--weights-dtype", default="f32", choices=["f32", "f16"])
    ap.add_argument("--dim", type=int, default=Config.dim)
    ap.add_argument("--layers", type=int, default=Config.layers)
    ap.add_argument("--heads", type=int, default=Config.heads)
    ap.add_argument("--kv-heads", type=int, default=Config.kv_heads)
    ap.add_argument("--head-dim", type=int, default=Config.head_dim)
    ap.add_argument("--experts", type=int, default=Config.experts)
    ap.add_argument("--experts-used", type=int, default=Config.experts_used)
    ap.add_argument("--expert-ffn", type=int, default=Config.expert_ffn)
    ap.add_argument("--logits-tokens", type=int, default=32, help="prompt length of the logits dump")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (cuda)")
    ap.add_argument("--amp", default="auto", choices=["auto", "bf16", "off"],
                    help="bfloat16 autocast: auto uses it on a GPU only (the CPU's bf16 is slower than its f32)")
    a = ap.parse_args()

    device = a.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_num_threads(a.threads)
    random.seed(a.seed)
    torch.manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    log = open(os.path.join(a.out, "train.log"), "w")

    def say(*xs):
        s = " ".join(str(x) for x in xs)
        print(s, flush=True)
        log.write(s + "\n")
        log.flush()

    h, off, ids, mask = load_tokens(a.tokens)
    S = h["sequences"]
    c = Config(vocab=h["vocab"], dim=a.dim, layers=a.layers, heads=a.heads, kv_heads=a.kv_heads, head_dim=a.head_dim,
               experts=a.experts, experts_used=a.experts_used, expert_ffn=a.expert_ffn, context=a.ctx)
    if h["longest"] > a.ctx:
        raise SystemExit(f"the longest example has {h['longest']} tokens, more than --ctx {a.ctx}")
    total, active = count_params(c)
    if not 0 < a.prompt_sample <= 1:
        raise SystemExit(f"--prompt-sample {a.prompt_sample}: want a share in (0, 1]")
    groups = make_groups(off, ids, max(1, a.group_max), a.min_prefix)
    rng = random.Random(a.seed)
    order = list(range(len(groups)))
    rng.shuffle(order)
    # Validation holds back whole groups, so that no held-back example's
    # world and persona were trained on in its own group.
    nval = min(max(1, int(len(groups) * a.val_frac)), len(groups) - 1) if a.val_frac > 0 and len(groups) > 1 else 0
    val_groups = [groups[k] for k in sorted(order[:nval])]
    train_groups = [groups[k] for k in sorted(order[nval:])]
    # A fixed validation set: at most 64 examples, batched once.
    capped, count = [], 0
    for g in val_groups:
        if count + len(g[1]) > 64:
            break
        capped.append(g)
        count += len(g[1])
    val = make_batches(capped, off, a.batch_tokens, random.Random(0))
    per_epoch = len(make_batches(train_groups, off, a.batch_tokens, random.Random(0)))
    shared = sum(g[0] * (len(g[1]) - 1) for g in groups)
    steps = a.steps
    if a.budget_tokens > 0:
        steps = max(1, int(a.budget_tokens // a.batch_tokens))
    warmup = a.warmup or max(1, steps // 20)
    amp = a.amp == "bf16" or (a.amp == "auto" and device == "cuda")
    say(f"device {device} torch {torch.__version__} threads {torch.get_num_threads()} bf16 autocast {amp}")
    say(f"config {json.dumps(c.to_dict())}")
    say(f"params total {total/1e6:.2f}M active {active/1e6:.2f}M")
    say(f"data {S} sequences in {len(groups)} prefix groups ({len(train_groups)} train, {nval} val), "
        f"{h['tokens']} tokens ({shared} of them shared prefixes computed once), "
        f"{h['loss_tokens']} completion tokens, {per_epoch} batches/epoch")
    say(f"recipe steps {steps} batch_tokens {a.batch_tokens} (~{steps*a.batch_tokens/1e6:.2f}M padded tokens, "
        f"{steps/per_epoch:.2f} epochs) lr {a.lr}..{a.min_lr} warmup {warmup} prompt_weight {a.prompt_weight} key_weight {a.key_weight} "
        f"aux {a.aux_weight} prompt_sample {a.prompt_sample} seed {a.seed}")

    model = Model(c).to(device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    keep = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": keep, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    fwd = torch.compile(model) if a.compile else model

    def loss_of(batch, gen):
        t = tree_batch(batch, off, ids, mask, a.prompt_weight, a.prompt_sample, gen, device, a.key_weight)
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=amp):
            hid, aux = fwd.forward_tree(t)
            logits = fwd.output(hid.index_select(0, t.src))
        ce = F.cross_entropy(logits.float(), t.tgt, reduction="none")
        loss = (ce * t.weight).sum() / t.weight.sum().clamp_min(1)
        closs = (ce * t.comp).sum() / t.comp.sum().clamp_min(1)
        return loss, closs, aux, t.comp.sum(), t.real_tokens, sum(len(g[1]) for g in batch)

    def evaluate():
        if not val:
            return float("nan")
        model.eval()
        num = den = 0.0
        with torch.no_grad():
            for b in val:
                _, closs, _, n, _, _ = loss_of(b, torch.Generator().manual_seed(0))
                num += closs.item() * n.item()
                den += n.item()
        model.train()
        return num / max(den, 1)

    csv = open(os.path.join(a.out, "loss.csv"), "w")
    csv.write("step,tokens,lr,loss,completion_loss,aux,val_completion_loss,seconds,tok_per_s\n")
    epoch, cursor, batches = 0, 0, []
    t0 = time.time()
    seen = 0  # real (unpadded) tokens computed, shared prefixes once
    examples = 0
    for step in range(steps):
        if cursor == len(batches):
            batches = make_batches(train_groups, off, a.batch_tokens, random.Random(a.seed * 1000 + epoch))
            epoch, cursor = epoch + 1, 0
        batch = batches[cursor]
        cursor += 1
        lr = lr_at(step, steps, warmup, a.lr, a.min_lr)
        for g in opt.param_groups:
            g["lr"] = lr
        loss, closs, aux, _, real, nex = loss_of(batch, torch.Generator().manual_seed(a.seed * 1000003 + step))
        opt.zero_grad(set_to_none=True)
        (loss + a.aux_weight * aux).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        seen += real
        examples += nex
        last = step == steps - 1
        if step % 10 == 0 or last:
            el = time.time() - t0
            vl = evaluate() if (step % a.eval_every == 0 or last) else float("nan")
            csv.write(f"{step},{seen},{lr:.6g},{loss.item():.5f},{closs.item():.5f},{float(aux):.4f},{vl:.5f},"
                      f"{el:.1f},{seen/el:.0f}\n")
            csv.flush()
            say(f"step {step:5d}/{steps} loss {loss.item():.4f} completion {closs.item():.4f} aux {float(aux):.3f} "
                f"val {vl:.4f} lr {lr:.2e} {seen/el:.0f} tok/s {examples/el:.2f} ex/s {el:.0f}s")
        if a.checkpoint_every and step > 0 and step % a.checkpoint_every == 0 and not last:
            ck = os.path.join(a.out, "checkpoint")
            os.makedirs(ck, exist_ok=True)
            write_weights(model, ck, a.weights_dtype)
            with open(os.path.join(ck, "step.txt"), "w") as f:
                f.write(f"{step + 1} of {steps} steps, {seen} tokens\n")
    el = time.time() - t0
    say(f"done {steps} steps, {seen} tokens ({examples} examples) in {el:.0f}s = {seen/el:.0f} tok/s "
        f"({epoch} epochs started)")

    # Write the weights, then compute the logits dump from exactly those
    # values (rounded to the stored dtype), in float32, on the CPU.
    model = model.float().cpu().eval()
    files = write_weights(model, a.out, a.weights_dtype)
    if a.weights_dtype == "f16":
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.half().float())
    n = min(a.logits_tokens, off[1] - off[0])
    prompt = ids[off[0]:off[0] + n].clone()[None]
    with torch.no_grad():
        logits, _ = model(prompt)
    with open(os.path.join(a.out, "logits.json"), "w") as f:
        json.dump({"tokens": prompt[0].tolist(), "vocab": c.vocab,
                   "logits": [[float(v) for v in row] for row in logits[0].tolist()]}, f)
    say(f"wrote {files} weight files ({a.weights_dtype}), index.json, loss.csv, logits.json to {a.out}")


if __name__ == "__main__":
    main()
