# bench: family=recurrent | data=markers | optimizer=Adam | causes=no_gradient
"""A GRU encoder and an MLP head on the synthetic marker task, Adam. BUG: the encoder's output is detached
("to save memory"), so no gradient reaches the embedding or the GRU."""
import torch
from torch import nn

import markers


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(markers.VOCAB, 32)
        self.gru = nn.GRU(32, 64, batch_first=True)
        self.head = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, markers.CLASSES))

    def forward(self, x):
        out, _ = self.gru(self.emb(x))
        return self.head(out[:, -1].detach())  # BUG


torch.manual_seed(29)
(x, y), (xt, yt) = markers.load()
model = Model()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
crit = nn.CrossEntropyLoss()
for epoch in range(4):
    model.train()
    for idx in torch.randperm(len(x)).split(32):
        opt.zero_grad()
        crit(model(x[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, crit(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
