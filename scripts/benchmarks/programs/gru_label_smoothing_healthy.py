# bench: family=recurrent | data=markers | optimizer=RMSprop | causes=none
"""A GRU on the synthetic marker task, RMSprop, cross-entropy with label smoothing 0.1: healthy."""
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


def run():
    torch.manual_seed(5)
    (x, y), (xt, yt) = markers.load()
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    net = Tagger()
    optimizer = torch.optim.RMSprop(net.parameters(), lr=2e-3)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    for epoch in range(5):
        net.train()
        for tokens, labels in loader:
            optimizer.zero_grad()
            criterion(net(tokens), labels).backward()
            optimizer.step()
        net.eval()
        with torch.no_grad():
            logits = net(xt)
        print(f"{epoch}: {criterion(logits, yt).item():.3f} {(logits.argmax(1) == yt).float().mean():.3f}")


if __name__ == "__main__":
    run()
