# bench: family=Transformer | data=markers | optimizer=AdamW | causes=eval_mode
"""A Transformer encoder with dropout on the synthetic marker task, AdamW. BUG: evaluate() switches to eval mode and
the loop never switches back: dropout is off for every epoch after the first."""
import torch
from torch import nn

import markers


class Encoder(nn.Module):
    def __init__(self, d=48):
        super().__init__()
        self.embed = nn.Embedding(markers.VOCAB, d)
        layer = nn.TransformerEncoderLayer(d, nhead=4, dim_feedforward=96, dropout=0.2, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2)
        self.drop = nn.Dropout(0.2)
        self.out = nn.Linear(d, markers.CLASSES)

    def forward(self, tokens):
        return self.out(self.drop(self.encoder(self.embed(tokens)).mean(1)))


def evaluate(model, x, y):
    model.eval()
    with torch.no_grad():
        out = model(x)
        return nn.functional.cross_entropy(out, y).item()


torch.manual_seed(26)
(x, y), (xt, yt) = markers.load()
model = Encoder()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
model.train()
for epoch in range(4):
    for idx in torch.randperm(len(x)).split(64):  # BUG: model.train() missing
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(epoch, evaluate(model, xt, yt))
