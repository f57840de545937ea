# bench: family=language model | data=synthetic tokens | optimizer=hand-written SGD | causes=none
# bench: family=language model | data=synthetic tokens | optimizer=SGD | causes=none | args=optim
# bench: family=language model | data=synthetic tokens | optimizer=hand-written SGD | causes=grad_accumulation | args=bug
"""A word-level language model in the canonical examples' style: the token stream batchified into [T, B] columns,
sequence-first GRU with its hidden state carried (detached) from batch to batch, log_softmax over the vocabulary,
nn.NLLLoss on [T*B, V], gradient clipping and the update written by hand (`p.data.add_(p.grad, alpha=-lr)`), a
validation pass each epoch. The text: each token follows from the one before it 90% of the time.
    python lm_tokens.py [optim] [bug]
optim: torch.optim.SGD in place of the hand-written update; bug: model.zero_grad() never called."""
import math
import sys

import torch
import torch.nn.functional as F
from torch import nn

V, BPTT, BATCH, LR, CLIP = 50, 20, 16, 2.0, 0.25


def corpus(n, generator):
    tokens = torch.empty(n, dtype=torch.long)
    tokens[0] = 0
    noise = torch.randint(0, V, (n,), generator=generator)
    keep = torch.rand(n, generator=generator) < 0.9
    for i in range(1, n):
        tokens[i] = (3 * tokens[i - 1] + 1) % V if keep[i] else noise[i]
    return tokens


def batchify(data, columns):
    rows = len(data) // columns
    return data[: rows * columns].view(columns, rows).t().contiguous()  # [T, B]


class RNNModel(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.encoder = nn.Embedding(V, hidden)
        self.rnn = nn.GRU(hidden, hidden)
        self.decoder = nn.Linear(hidden, V)
        self.hidden = hidden

    def forward(self, tokens, h):
        output, h = self.rnn(self.encoder(tokens), h)
        decoded = self.decoder(output).view(-1, V)
        return F.log_softmax(decoded, dim=1), h

    def init_hidden(self, columns):
        return torch.zeros(1, columns, self.hidden)


def get_batch(source, i):
    length = min(BPTT, len(source) - 1 - i)
    return source[i : i + length], source[i + 1 : i + 1 + length].reshape(-1)


g = torch.Generator().manual_seed(0)
train_data, val_data = batchify(corpus(20000, g), BATCH), batchify(corpus(4000, g), BATCH)
torch.manual_seed(0)
model = RNNModel()
criterion = nn.NLLLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=LR) if "optim" in sys.argv else None

for epoch in range(1, 4):
    model.train()
    hidden = model.init_hidden(BATCH)
    for i in range(0, train_data.size(0) - 1, BPTT):
        data, targets = get_batch(train_data, i)
        hidden = hidden.detach()
        if "bug" not in sys.argv:
            model.zero_grad()
        output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        if optimizer is not None:
            optimizer.step()
        else:
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-LR)
    model.eval()
    total, hidden = 0.0, model.init_hidden(BATCH)
    with torch.no_grad():
        for i in range(0, val_data.size(0) - 1, BPTT):
            data, targets = get_batch(val_data, i)
            output, hidden = model(data, hidden)
            total += len(data) * criterion(output, targets).item()
    val_loss = total / (len(val_data) - 1)
    print(f"epoch {epoch}: valid loss {val_loss:.3f} ppl {math.exp(val_loss):.2f}")
