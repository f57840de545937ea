"""A sequence-first language model in 10 steps: [T, B] tokens in, [T, B, V] log-probabilities out, flattened to
[T*B, V] for nll_loss outside the model."""
import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(0)
V, T, B = 50, 20, 8
data = torch.randint(0, V, (1700,))


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.rnn, self.out = nn.Embedding(V, 32), nn.GRU(32, 32), nn.Linear(32, V)

    def forward(self, x):
        h, _ = self.rnn(self.emb(x))
        return F.log_softmax(self.out(h), -1)


model = LM()
opt = torch.optim.SGD(model.parameters(), lr=0.5)
for i in range(0, 1500, T * B):
    chunk = data[i : i + T * B + 1]
    x, y = chunk[:-1].view(B, T).t(), chunk[1:].view(B, T).t()
    loss = F.nll_loss(model(x).view(-1, V), y.reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    print(f"loss {loss.item():.6f}")
