# bench: family=Transformer | data=markers | optimizer=Adam | causes=eval_mode | held_out=2
"""A Transformer encoder with dropout on the synthetic marker task, Adam. BUG: every 20 batches the loop logs a
validation loss, calling model.eval() for it and never model.train() after. Held out (second round): written after
the rules were fixed again."""
import torch
import torch.nn.functional as F
from torch import nn

import markers


class Encoder(nn.Module):
    def __init__(self, d=32):
        super().__init__()
        self.embed = nn.Embedding(markers.VOCAB, d)
        self.block = nn.TransformerEncoderLayer(d, 2, 64, dropout=0.3, batch_first=True)
        self.head = nn.Linear(d, markers.CLASSES)

    def forward(self, x):
        return self.head(self.block(self.embed(x)).mean(1))


torch.manual_seed(207)
(x, y), (xv, yv) = markers.load()
model = Encoder()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(4):
    model.train()
    for k, idx in enumerate(torch.randperm(len(x)).split(32)):
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if k % 20 == 0:
            model.eval()  # BUG: model.train() never follows
            with torch.no_grad():
                val = F.cross_entropy(model(xv[:200]), yv[:200]).item()
    print(epoch, val)
