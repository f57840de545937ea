# bench: family=Transformer | data=markers | optimizer=AdamW | causes=none
"""A Transformer encoder on the synthetic marker task, AdamW with a linear warm-up then cosine decay stepped each
batch, gradient norm clipped at 1: healthy."""
import math

import torch
from torch import nn

import markers


class Encoder(nn.Module):
    def __init__(self, d=48):
        super().__init__()
        self.embed = nn.Embedding(markers.VOCAB, d)
        self.pos = nn.Parameter(torch.zeros(1, markers.LENGTH, d))
        layer = nn.TransformerEncoderLayer(d, nhead=4, dim_feedforward=96, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2)
        self.out = nn.Linear(d, markers.CLASSES)

    def forward(self, tokens):
        return self.out(self.encoder(self.embed(tokens) + self.pos).mean(1))


torch.manual_seed(4)
(x, y), (xt, yt) = markers.load()
model = Encoder()
opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
epochs, batch = 5, 64
total, warmup = epochs * math.ceil(len(x) / batch), 50
sched = torch.optim.lr_scheduler.LambdaLR(
    opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
crit = nn.CrossEntropyLoss()
for epoch in range(epochs):
    model.train()
    for i in range(0, len(x), batch):
        idx = torch.randint(0, len(x), (batch,))
        loss = crit(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
        print(epoch, crit(out, yt).item(), (out.argmax(-1) == yt).float().mean().item())
