"""A qwen3moe decoder in PyTorch with llama.cpp's semantics, so that the
weights it learns, exported to GGUF by `anima train export`, give the same
logits in llama.cpp and in Anima's native decoder (inference/model).

Per layer, exactly as llama.cpp's qwen3moe graph:
  h = RMSNorm(x) * attn_norm
  q, k, v = h Wq, h Wk, h Wv                  (no biases; GQA: fewer k/v heads)
  q, k = RMSNorm_per_head(q) * q_norm, RMSNorm_per_head(k) * k_norm
  q, k = RoPE_neox(q), RoPE_neox(k)            (pairs (i, i+d/2), base 1e6)
  x = x + softmax(q k^T / sqrt(d_head), causal) v Wo
  h = RMSNorm(x) * ffn_norm
  p = softmax(h Wr) over all experts; top-k; weights renormalised to sum 1
  x = x + sum_j w_j * down_j(silu(gate_j h) * up_j h)
logits = RMSNorm(x) * output_norm · Wout      (untied output, no shared expert)

Tensors are stored in the orientation GGUF uses (a Linear's (out, in)
row-major matrix is GGUF shape [in, out]; expert stacks (E, out, in) are
[in, out, E]), and named by gguf_name().
"""

import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    vocab: int = 6144
    dim: int = 256
    layers: int = 8
    heads: int = 4
    kv_heads: int = 2
    head_dim: int = 64
    experts: int = 8
    experts_used: int = 2
    expert_ffn: int = 448
    rope_base: float = 1e6
    eps: float = 1e-6
    context: int = 1024
    arch: str = "qwen3moe"

    def to_dict(self):
        return asdict(self)


def rms_norm(x, w, eps):
    # In float32 whatever the autocast dtype, as llama.cpp computes norms.
    xf = x.float()
    y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return (y * w.float()).to(x.dtype)


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return rms_norm(x, self.weight, self.eps)


def rope_tables(pos, head_dim, base):
    """cos and sin, shape (..., T, head_dim/2), for integer positions pos."""
    half = head_dim // 2
    inv = base ** (-2.0 * torch.arange(half, dtype=torch.float64, device=pos.device) / head_dim)
    ang = pos.to(torch.float64).unsqueeze(-1) * inv
    return ang.cos().float(), ang.sin().float()


def apply_rope(x, cos, sin):
    """NeoX rotation of x (B, H, T, D): value i pairs with i + D/2."""
    half = x.shape[-1] // 2
    a, b = x[..., :half].float(), x[..., half:].float()
    c, s = cos.unsqueeze(1), sin.unsqueeze(1)  # (B, 1, T, half)
    return torch.cat([a * c - b * s, a * s + b * c], dim=-1).to(x.dtype)


def rope_rows(x, cos, sin):
    """NeoX rotation of x (N, H, D) with cos, sin (N, D/2)."""
    half = x.shape[-1] // 2
    a, b = x[..., :half].float(), x[..., half:].float()
    c, s = cos.unsqueeze(1), sin.unsqueeze(1)
    return torch.cat([a * c - b * s, a * s + b * c], dim=-1).to(x.dtype)


def attend(q, k, v, mask):
    """softmax(q k^T / sqrt(d) where mask (None: causal), else -inf) v.
    PyTorch 2's fused kernel where there is one; the same product written
    out for Debian's PyTorch 1.13."""
    if hasattr(F, "scaled_dot_product_attention"):
        if mask is None:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    T = q.shape[-2]
    if mask is None:
        mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    # Scale q rather than the scores and mask in place: the (T, T) score
    # matrices dominate the CPU's time, so every pass over them counts.
    s = (q * (1.0 / math.sqrt(q.shape[-1]))) @ k.transpose(-1, -2)
    s.masked_fill_(~mask, float("-inf"))
    return torch.softmax(s, dim=-1) @ v


class Attention(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.wq = nn.Linear(c.dim, c.heads * c.head_dim, bias=False)
        self.wk = nn.Linear(c.dim, c.kv_heads * c.head_dim, bias=False)
        self.wv = nn.Linear(c.dim, c.kv_heads * c.head_dim, bias=False)
        self.wo = nn.Linear(c.heads * c.head_dim, c.dim, bias=False)
        self.q_norm = RMSNorm(c.head_dim, c.eps)
        self.k_norm = RMSNorm(c.head_dim, c.eps)

    def forward(self, x, cos, sin, mask):
        c = self.c
        B, T, _ = x.shape
        q = self.q_norm(self.wq(x).view(B, T, c.heads, c.head_dim)).transpose(1, 2)
        k = self.k_norm(self.wk(x).view(B, T, c.kv_heads, c.head_dim)).transpose(1, 2)
        v = self.wv(x).view(B, T, c.kv_heads, c.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        g = c.heads // c.kv_heads  # query head h reads kv head h // g, as llama.cpp
        k = k.repeat_interleave(g, dim=1)
        v = v.repeat_interleave(g, dim=1)
        o = attend(q, k, v, mask)
        return self.wo(o.transpose(1, 2).reshape(B, T, c.heads * c.head_dim))


    def forward_tree(self, x, cos, sin, t):
        """Attention for forward_tree: x (N, dim) real tokens, prefix
        tokens first; cos, sin (N, head_dim/2) at their positions."""
        c = self.c
        N = x.shape[0]
        g = c.heads // c.kv_heads
        q = self.q_norm(self.wq(x).view(N, c.heads, c.head_dim))
        k = self.k_norm(self.wk(x).view(N, c.kv_heads, c.head_dim))
        v = self.wv(x).view(N, c.kv_heads, c.head_dim)
        q, k = rope_rows(q, cos, sin), rope_rows(k, cos, sin)

        def pad(z, slots, rows, cols, lo, hi):
            # (rows*cols, H, D) with z[lo:hi] at slots, zeros elsewhere,
            # as (rows, H, cols, D).
            out = z.new_zeros(rows * cols, z.shape[1], z.shape[2]).index_copy(0, slots, z[lo:hi])
            return out.view(rows, cols, z.shape[1], z.shape[2]).transpose(1, 2)

        G, P, B, S, Np = t.groups, t.prefix_len, t.branches, t.branch_len, t.prefix_tokens
        qb = pad(q, t.br_slot, B, S, Np, N)
        kb = pad(k, t.br_slot, B, S, Np, N).repeat_interleave(g, dim=1)
        vb = pad(v, t.br_slot, B, S, Np, N).repeat_interleave(g, dim=1)
        outs = []
        if P > 0:
            qp = pad(q, t.pre_slot, G, P, 0, Np)
            kp = pad(k, t.pre_slot, G, P, 0, Np).repeat_interleave(g, dim=1)
            vp = pad(v, t.pre_slot, G, P, 0, Np).repeat_interleave(g, dim=1)
            op = attend(qp, kp, vp, None)  # (G, H, P, D); right padding needs only causality
            outs.append(op.transpose(1, 2).reshape(G * P, -1).index_select(0, t.pre_slot))
            kb = torch.cat([kp.index_select(0, t.br_group), kb], dim=2)
            vb = torch.cat([vp.index_select(0, t.br_group), vb], dim=2)
        ob = attend(qb, kb, vb, t.br_mask)  # (B, H, S, D)
        outs.append(ob.transpose(1, 2).reshape(B * S, -1).index_select(0, t.br_slot))
        return self.wo(torch.cat(outs, dim=0))


class MoE(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.router = nn.Linear(c.dim, c.experts, bias=False)
        self.gate = nn.Parameter(torch.empty(c.experts, c.expert_ffn, c.dim))
        self.up = nn.Parameter(torch.empty(c.experts, c.expert_ffn, c.dim))
        self.down = nn.Parameter(torch.empty(c.experts, c.dim, c.expert_ffn))
        for p, fan in ((self.gate, c.dim), (self.up, c.dim), (self.down, c.expert_ffn)):
            nn.init.normal_(p, std=1 / math.sqrt(fan))

    def forward(self, x):
        """Returns the output and the load-balancing auxiliary loss."""
        c = self.c
        shape = x.shape
        h = x.reshape(-1, c.dim)
        # The router in float32 even under autocast: top-k picks are
        # discrete, and the exported router stays F32.
        with torch.autocast(h.device.type, enabled=False):
            probs = F.softmax(F.linear(h.float(), self.router.weight.float()), dim=-1)  # (N, E)
        w, sel = torch.topk(probs, c.experts_used, dim=-1)  # (N, K)
        w = w / w.sum(-1, keepdim=True).clamp_min(6.103515625e-5)
        out = torch.zeros_like(h)
        flat = sel.reshape(-1)
        order = torch.argsort(flat, stable=True)
        counts = torch.bincount(flat, minlength=c.experts).tolist()
        tok = order // c.experts_used
        wt = w.reshape(-1)[order]
        start = 0
        for e, n in enumerate(counts):
            if n == 0:
                continue
            idx = tok[start:start + n]
            xe = h.index_select(0, idx)
            ye = F.linear(F.silu(F.linear(xe, self.gate[e])) * F.linear(xe, self.up[e]), self.down[e])
            out.index_add_(0, idx, (ye.float() * wt[start:start + n, None]).to(out.dtype))
            start += n
        # Switch-style balance: experts' share of routed tokens times their
        # mean router probability, scaled so a uniform router scores 1.
        frac = torch.bincount(flat, minlength=c.experts).float() / flat.numel()
        aux = c.experts * (frac * probs.mean(0)).sum()
        return out.view(shape), aux


class Block(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.attn_norm = RMSNorm(c.dim, c.eps)
        self.attn = Attention(c)
        self.ffn_norm = RMSNorm(c.dim, c.eps)
        self.moe = MoE(c)

    def forward(self, x, cos, sin, mask):
        x = x + self.attn(self.attn_norm(x), cos, sin, mask)
        y, aux = self.moe(self.ffn_norm(x))
        return x + y, aux


class Model(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(c.vocab, c.dim)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.layers))
        self.norm = RMSNorm(c.dim, c.eps)
        self.output = nn.Linear(c.dim, c.vocab, bias=False)
        nn.init.normal_(self.embed.weight, std=1.0)
        for name, p in self.named_parameters():
            if p.dim() == 2 and name != "embed.weight":
                nn.init.normal_(p, std=1 / math.sqrt(p.shape[1]))
        # Residual branches start small so the stack begins near identity.
        for b in self.blocks:
            b.attn.wo.weight.data.mul_(1 / math.sqrt(2 * c.layers))
            b.moe.down.data.mul_(1 / math.sqrt(2 * c.layers))

    def forward(self, ids, pos=None, mask=None):
        """ids (B, T); pos (B, T) positions (default 0..T-1); mask (B, 1, T, T)
        boolean, True where attention is allowed (default causal).
        Returns logits (B, T, V) and the mean auxiliary loss."""
        B, T = ids.shape
        if pos is None:
            pos = torch.arange(T, device=ids.device).expand(B, T)
        cos, sin = rope_tables(pos, self.c.head_dim, self.c.rope_base)
        x = self.embed(ids)
        aux = 0.0
        for b in self.blocks:
            x, a = b(x, cos, sin, mask)
            aux = aux + a
        return self.output(self.norm(x)), aux / len(self.blocks)

    def forward_tree(self, t):
        """The forward pass over a batch of prefix trees (a Tree from
        train.py's tree_batch): each group's shared prefix runs once, and
        each of its branches attends to the prefix's keys and values and
        then to its own, causally, at positions that continue the prefix's.
        That is the same function as forward() on every branch's whole
        sequence, for a fraction of the work when branches share long
        prefixes (lore and persona). Only real tokens go through the
        token-wise layers; attention alone sees the padded layouts.
        Returns the final hidden states of the real tokens, in t's order,
        and the mean auxiliary loss."""
        c = self.c
        cos, sin = rope_tables(t.pos, c.head_dim, c.rope_base)  # (N, half)
        x = self.embed(t.ids)
        aux = 0.0
        for b in self.blocks:
            x = x + b.attn.forward_tree(b.attn_norm(x), cos, sin, t)
            y, a = b.moe(b.ffn_norm(x))
            x, aux = x + y, aux + a
        return self.norm(x), aux / len(self.blocks)

    def gguf_tensors(self):
        """(GGUF name, GGUF shape, float32 CPU tensor in GGUF memory order)."""
        c = self.c
        out = [("token_embd.weight", [c.dim, c.vocab], self.embed.weight),
               ("output_norm.weight", [c.dim], self.norm.weight),
               ("output.weight", [c.dim, c.vocab], self.output.weight)]
        q, kv = c.heads * c.head_dim, c.kv_heads * c.head_dim
        for i, b in enumerate(self.blocks):
            p = f"blk.{i}."
            out += [
                (p + "attn_norm.weight", [c.dim], b.attn_norm.weight),
                (p + "attn_q.weight", [c.dim, q], b.attn.wq.weight),
                (p + "attn_k.weight", [c.dim, kv], b.attn.wk.weight),
                (p + "attn_v.weight", [c.dim, kv], b.attn.wv.weight),
                (p + "attn_output.weight", [q, c.dim], b.attn.wo.weight),
                (p + "attn_q_norm.weight", [c.head_dim], b.attn.q_norm.weight),
                (p + "attn_k_norm.weight", [c.head_dim], b.attn.k_norm.weight),
                (p + "ffn_norm.weight", [c.dim], b.ffn_norm.weight),
                (p + "ffn_gate_inp.weight", [c.dim, c.experts], b.moe.router.weight),
                (p + "ffn_gate_exps.weight", [c.dim, c.expert_ffn, c.experts], b.moe.gate),
                (p + "ffn_up_exps.weight", [c.dim, c.expert_ffn, c.experts], b.moe.up),
                (p + "ffn_down_exps.weight", [c.expert_ffn, c.dim, c.experts], b.moe.down),
            ]
        return [(n, s, t.detach().float().cpu().contiguous()) for n, s, t in out]


def count_params(c: Config):
    """All weights, and those one token computes with (the embedding is a
    lookup; only experts_used experts run)."""
    attn = c.dim * c.heads * c.head_dim * 2 + c.dim * c.kv_heads * c.head_dim * 2 + 2 * c.head_dim + 2 * c.dim
    expert = 3 * c.dim * c.expert_ffn
    total = 2 * c.vocab * c.dim + c.dim + c.layers * (attn + c.dim * c.experts + c.experts * expert)
    active = c.vocab * c.dim + c.dim + c.layers * (attn + c.dim * c.experts + c.experts_used * expert)
    return total, active
