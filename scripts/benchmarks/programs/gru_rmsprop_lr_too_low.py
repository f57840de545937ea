# bench: family=recurrent | data=markers | optimizer=RMSprop | causes=lr_too_low
"""A GRU on the synthetic marker task, RMSprop. BUG: learning rate 1e-6."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import markers


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(markers.VOCAB, 32)
        self.gru = nn.GRU(32, 64, batch_first=True)
        self.fc = nn.Linear(64, markers.CLASSES)

    def forward(self, x):
        _, h = self.gru(self.emb(x))
        return self.fc(h[-1])


torch.manual_seed(43)
(x, y), (xt, yt) = markers.load()
net = Tagger()
optimizer = torch.optim.RMSprop(net.parameters(), lr=1e-6)  # BUG
criterion = nn.CrossEntropyLoss()
for epoch in range(4):
    net.train()
    for tokens, labels in DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True):
        optimizer.zero_grad()
        criterion(net(tokens), labels).backward()
        optimizer.step()
    net.eval()
    with torch.no_grad():
        logits = net(xt)
    print(epoch, criterion(logits, yt).item(), (logits.argmax(1) == yt).float().mean().item())
