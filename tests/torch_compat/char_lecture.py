"""A lecture-style script: a character-level language model trained end to end, in plain PyTorch.

Written the way course notebooks write it: the whole text as one long tensor, random batches
with `torch.randint` and `torch.stack`, a small attention model with a `tril` mask buffer and
`masked_fill`, an `estimate_loss` under `@torch.no_grad()` that fills a `torch.zeros` tensor by
item assignment, and a loop of `zero_grad(set_to_none=True)`, `backward`, `step`. The tests run
it on PyTorch and on tinytorch (see conftest.py for how).
"""

import torch
import torch.nn as nn
from torch.nn import functional as F


class Vocabulary:
    def __init__(self, text):
        self.chars = sorted(set(text))
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}

    def encode(self, s):
        return [self.stoi[c] for c in s]

    def decode(self, ids):
        return "".join(self.chars[i] for i in ids)


class Head(nn.Module):
    def __init__(self, width, head_size, context):
        super().__init__()
        self.key = nn.Linear(width, head_size, bias=False)
        self.query = nn.Linear(width, head_size, bias=False)
        self.value = nn.Linear(width, head_size, bias=False)
        self.register_buffer("tril", torch.tril(torch.ones(context, context)))

    def forward(self, x):
        B, T, C = x.shape
        k, q = self.key(x), self.query(x)
        wei = q @ k.transpose(-2, -1) * k.shape[-1] ** -0.5
        wei = wei.masked_fill(self.tril[:T, :T] == 0, float("-inf"))
        wei = F.softmax(wei, dim=-1)
        return wei @ self.value(x)


class CharModel(nn.Module):
    def __init__(self, vocab_size, width=32, heads=4, context=8):
        super().__init__()
        self.context = context
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.position_embedding = nn.Embedding(context, width)
        self.heads = nn.ModuleList([Head(width, width // heads, context) for _ in range(heads)])
        self.ffwd = nn.Sequential(
            nn.Linear(width, 4 * width), nn.ReLU(), nn.Linear(4 * width, width)
        )
        self.ln = nn.LayerNorm(width)
        self.lm_head = nn.Linear(width, vocab_size)

    def forward(self, idx, targets=None):
        B, T = idx.shape
        x = self.token_embedding(idx) + self.position_embedding(torch.arange(T))
        x = x + torch.cat([h(x) for h in self.heads], dim=-1)
        x = x + self.ffwd(x)
        logits = self.lm_head(self.ln(x))
        if targets is None:
            return logits, None
        B, T, C = logits.shape
        return logits, F.cross_entropy(logits.view(B * T, C), targets.view(B * T))

    def generate(self, idx, max_new_tokens):
        for _ in range(max_new_tokens):
            logits, _ = self(idx[:, -self.context :])
            probs = F.softmax(logits[:, -1, :], dim=-1)
            idx = torch.cat((idx, torch.multinomial(probs, num_samples=1)), dim=1)
        return idx


def get_batch(data, batch_size, context):
    ix = torch.randint(len(data) - context, (batch_size,))
    x = torch.stack([data[i : i + context] for i in ix])
    y = torch.stack([data[i + 1 : i + context + 1] for i in ix])
    return x, y


@torch.no_grad()
def estimate_loss(model, splits, eval_iters, batch_size, context):
    out = {}
    model.eval()
    for name, data in splits.items():
        losses = torch.zeros(eval_iters)
        for k in range(eval_iters):
            x, y = get_batch(data, batch_size, context)
            _, loss = model(x, y)
            losses[k] = loss.item()
        out[name] = losses.mean().item()
    model.train()
    return out


def main(text, steps=300, batch_size=16, context=8, lr=1e-2, seed=1337):
    """Train on `text`; return (vocabulary, model, losses before and after, a sample)."""
    torch.manual_seed(seed)
    vocab = Vocabulary(text)
    data = torch.tensor(vocab.encode(text), dtype=torch.long)
    n = int(0.9 * len(data))
    splits = {"train": data[:n], "val": data[n:]}
    model = CharModel(len(vocab.chars), context=context)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    before = estimate_loss(model, splits, 10, batch_size, context)
    for _ in range(steps):
        xb, yb = get_batch(splits["train"], batch_size, context)
        _, loss = model(xb, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    after = estimate_loss(model, splits, 10, batch_size, context)
    prompt = torch.zeros((1, 1), dtype=torch.long)
    sample = vocab.decode(model.generate(prompt, max_new_tokens=40)[0].tolist())
    return vocab, model, before, after, sample
