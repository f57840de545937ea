# bench: family=LBFGS | data=synthetic sine | optimizer=LBFGS | causes=none
# bench: family=LBFGS | data=synthetic sine | optimizer=LBFGS | causes=not_optimized | args=bug
"""Two stacked LSTMCells learn to continue sine waves, trained by LBFGS with a closure (each step evaluates the model
up to max_iter times), MSE loss; as the canonical time-sequence example is written, smaller.
    python lbfgs_sine.py [bug]   bug: the optimizer built from the two LSTM cells only, the output layer left out"""
import sys

import torch
from torch import nn

torch.manual_seed(0)
T, N = 40, 32
t = torch.arange(T).float() + torch.randint(-20, 20, (N, 1)).float()
data = torch.sin(t / 4.0)
x, y = data[:, :-1], data[:, 1:]


class Sequence(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm1, self.lstm2, self.linear = nn.LSTMCell(1, 24), nn.LSTMCell(24, 24), nn.Linear(24, 1)

    def forward(self, seq):
        h1 = c1 = h2 = c2 = torch.zeros(seq.size(0), 24)
        outputs = []
        for step in seq.split(1, dim=1):
            h1, c1 = self.lstm1(step, (h1, c1))
            h2, c2 = self.lstm2(h1, (h2, c2))
            outputs.append(self.linear(h2))
        return torch.cat(outputs, dim=1)


model = Sequence()
criterion = nn.MSELoss()
trained = [*model.lstm1.parameters(), *model.lstm2.parameters()] if "bug" in sys.argv else model.parameters()
opt = torch.optim.LBFGS(trained, lr=0.5, max_iter=10)
for i in range(8):
    def closure():
        opt.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        return loss
    opt.step(closure)
    with torch.no_grad():
        print(f"step {i}: loss {criterion(model(x), y).item():.6f}")
