# bench: family=Transformer | data=markers | optimizer=AdamW | causes=grad_accumulation
"""A Transformer encoder on the synthetic marker task, AdamW. BUG: zero_grad() once per epoch, outside the batch
loop."""
import torch
import torch.nn.functional as F
from torch import nn

import markers


class Classifier(nn.Module):
    def __init__(self, d=32):
        super().__init__()
        self.tok = nn.Embedding(markers.VOCAB, d)
        self.body = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, 4, 64, dropout=0.0, batch_first=True), 2)
        self.cls = nn.Linear(d, markers.CLASSES)

    def forward(self, x):
        return self.cls(self.body(self.tok(x)).mean(dim=1))


torch.manual_seed(24)
(x, y), (xt, yt) = markers.load()
model = Classifier()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
for epoch in range(4):
    model.train()
    opt.zero_grad()  # BUG: belongs inside the loop
    for idx in torch.randperm(len(x)).split(64):
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, F.cross_entropy(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
