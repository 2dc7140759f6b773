"""A small GPT written in plain PyTorch, as reference implementations and lectures write one.

Nothing here knows about tinytorch: tests/torch_compat and benchmarks/bench_torch_style.py load
this file twice, once as it is (PyTorch) and once with `torch` resolved to tinytorch
(`tinytorch.torch_api.as_torch.import_as_torch`), and compare the two. It uses the PyTorch idioms
such code relies on: a ModuleDict of embeddings and blocks, `apply` with `nn.init`, a scaled init
found by parameter name, weight tying by assignment, `size()`, `view`/`transpose`/`contiguous`,
fused attention, cross-entropy over flattened logits with an ignored index, parameter groups by
`dim()`, an AdamW that may be asked for `fused`, and sampling with `topk`, item assignment,
`multinomial` and `cat`.
"""

import inspect
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F


@dataclass
class Settings:
    vocab: int = 40
    context: int = 16
    layers: int = 2
    heads: int = 4
    width: int = 32
    dropout: float = 0.0
    bias: bool = True


class Norm(nn.Module):
    """LayerNorm whose bias can be switched off, through the functional form."""

    def __init__(self, width, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.bias = nn.Parameter(torch.zeros(width)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class SelfAttention(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.qkv = nn.Linear(s.width, 3 * s.width, bias=s.bias)
        self.c_proj = nn.Linear(s.width, s.width, bias=s.bias)
        self.heads, self.width, self.dropout = s.heads, s.width, s.dropout
        self.out_dropout = nn.Dropout(s.dropout)

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.qkv(x).split(self.width, dim=2)
        q = q.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        k = k.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        v = v.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=None, dropout_p=self.dropout if self.training else 0, is_causal=True
        )
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.out_dropout(self.c_proj(y))


class FeedForward(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.fc = nn.Linear(s.width, 4 * s.width, bias=s.bias)
        self.act = nn.GELU()
        self.c_proj = nn.Linear(4 * s.width, s.width, bias=s.bias)
        self.drop = nn.Dropout(s.dropout)

    def forward(self, x):
        return self.drop(self.c_proj(self.act(self.fc(x))))


class Block(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.norm1, self.attn = Norm(s.width, s.bias), SelfAttention(s)
        self.norm2, self.ff = Norm(s.width, s.bias), FeedForward(s)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.ff(self.norm2(x))


class TinyGPT(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(s.vocab, s.width),
                wpe=nn.Embedding(s.context, s.width),
                drop=nn.Dropout(s.dropout),
                h=nn.ModuleList([Block(s) for _ in range(s.layers)]),
                ln_f=Norm(s.width, s.bias),
            )
        )
        self.lm_head = nn.Linear(s.width, s.vocab, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # tied
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * s.layers))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self):
        return sum(p.numel() for p in self.parameters()) - self.transformer.wpe.weight.numel()

    def forward(self, idx, targets=None):
        b, t = idx.size()
        assert t <= self.s.context, f"sequence of {t} exceeds the context of {self.s.context}"
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        if targets is None:
            return self.lm_head(x[:, [-1], :]), None
        logits = self.lm_head(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss

    def shrink_context(self, context):
        assert context <= self.s.context
        self.s.context = context
        self.transformer.wpe.weight = nn.Parameter(self.transformer.wpe.weight[:context])

    def optimizer(self, weight_decay, lr, betas, device_type):
        params = {name: p for name, p in self.named_parameters() if p.requires_grad}
        groups = [
            {"params": [p for p in params.values() if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params.values() if p.dim() < 2], "weight_decay": 0.0},
        ]
        fused = "fused" in inspect.signature(torch.optim.AdamW).parameters
        extra = dict(fused=True) if fused and device_type == "cuda" else dict()
        return torch.optim.AdamW(groups, lr=lr, betas=betas, **extra)

    @torch.no_grad()
    def sample(self, idx, new_tokens, temperature=1.0, top_k=None, generator=None):
        for _ in range(new_tokens):
            window = idx if idx.size(1) <= self.s.context else idx[:, -self.s.context :]
            logits, _ = self(window)
            logits = logits[:, -1, :] / temperature
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("Inf")
            probs = F.softmax(logits, dim=-1)
            idx_next = torch.multinomial(probs, num_samples=1, generator=generator)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx


def train_step(model, optimizer, x, y):
    """One step; returns the loss before the update."""
    _, loss = model(x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()
