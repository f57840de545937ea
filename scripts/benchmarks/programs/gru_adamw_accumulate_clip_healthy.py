# bench: family=recurrent | data=markers | optimizer=AdamW | causes=none | held_out=2
"""A GRU on the synthetic marker task, AdamW, gradients accumulated over 2 batches with the norm clipped at 0.5
before each step: healthy. Held out (second round): written after the rules were fixed again."""
import torch
from torch import nn

import markers


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(markers.VOCAB, 40)
        self.rnn = nn.GRU(40, 40, batch_first=True, bidirectional=True)
        self.out = nn.Linear(80, markers.CLASSES)

    def forward(self, ids):
        states, _ = self.rnn(self.embedding(ids))
        return self.out(states.mean(dim=1))


def main():
    torch.manual_seed(200)
    (x, y), (xv, yv) = markers.load()
    model, loss_fn = Model(), nn.CrossEntropyLoss()
    optim = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    for epoch in range(4):
        model.train()
        optim.zero_grad()
        for k, idx in enumerate(torch.randperm(len(x)).split(32)):
            (loss_fn(model(x[idx]), y[idx]) / 2).backward()
            if k % 2 == 1:
                nn.utils.clip_grad_norm_(model.parameters(), 0.5)
                optim.step()
                optim.zero_grad()
        model.eval()
        with torch.no_grad():
            print(epoch, loss_fn(model(xv), yv).item())


if __name__ == "__main__":
    main()
