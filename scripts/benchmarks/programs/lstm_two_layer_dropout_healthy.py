# bench: family=recurrent | data=markers | optimizer=Adam | causes=none | held_out=1
"""A two-layer LSTM with dropout between its layers on the synthetic marker task, Adam with a ReduceLROnPlateau on
the validation loss: healthy. Held out: written after the rules were fixed."""
import torch
from torch import nn

import markers


class Reader(nn.Module):
    def __init__(self, emb=24, hidden=48):
        super().__init__()
        self.tokens = nn.Embedding(markers.VOCAB, emb)
        self.lstm = nn.LSTM(emb, hidden, num_layers=2, dropout=0.2, batch_first=True)
        self.classify = nn.Linear(hidden, markers.CLASSES)

    def forward(self, seq):
        out, (h, c) = self.lstm(self.tokens(seq))
        return self.classify(out.max(dim=1).values)


torch.manual_seed(101)
(train_x, train_y), (val_x, val_y) = markers.load()
model = Reader()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(5):
    model.train()
    for batch in torch.randperm(len(train_x)).split(48):
        optimizer.zero_grad()
        loss = loss_fn(model(train_x[batch]), train_y[batch])
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        val = loss_fn(model(val_x), val_y).item()
    plateau.step(val)
    print(epoch, val)
