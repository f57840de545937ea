# bench: family=recurrent | data=markers | optimizer=Adam | causes=none
"""A GRU on the synthetic marker task whose output layer is tied to the embedding of the marker tokens (the classes
are tokens: logits = h . E[marker]), Adam: healthy."""
import torch
import torch.nn.functional as F
from torch import nn

import markers


class TiedGRU(nn.Module):
    def __init__(self, d=48):
        super().__init__()
        self.embed = nn.Embedding(markers.VOCAB, d)
        self.rnn = nn.GRU(d, d, batch_first=True)
        self.proj = nn.Linear(d, d)

    def forward(self, tokens):
        out, _ = self.rnn(self.embed(tokens))
        h = torch.tanh(self.proj(out.mean(1)))
        return h @ self.embed.weight[: markers.CLASSES].t()  # the classifier shares the markers' embeddings


torch.manual_seed(6)
(x, y), (xt, yt) = markers.load()
model = TiedGRU()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(5):
    model.train()
    for idx in torch.randperm(len(x)).split(50):
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(xt)
    print(epoch, F.cross_entropy(out, yt).item(), (out.argmax(1) == yt).float().mean().item())
