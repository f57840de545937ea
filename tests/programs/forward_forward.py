# bench: family=forward-forward | data=synthetic clusters | optimizer=Adam per layer | causes=none
# bench: family=forward-forward | data=synthetic clusters | optimizer=Adam per layer | causes=grad_accumulation | args=bug
"""Forward-forward training in the style of its public examples: each layer learns on its own, with an Adam of its
own, to give positive samples (the label embedded in the input) a high goodness (the sum of squared activations) and
negative ones (a wrong label embedded) a low one; no backward pass crosses layers (each layer's input is detached).
Classification: the label whose embedding gives the highest total goodness.
    python forward_forward.py [bug]    bug: no layer zeroes its gradients"""
import sys

import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(0)
CLASSES, DIM = 4, 16
centres = 2 * torch.randn(CLASSES, DIM)


def data(n):
    y = torch.randint(0, CLASSES, (n,))
    return centres[y] + torch.randn(n, DIM), y


def embed(x, y):
    """The label written into the first CLASSES features as a one-hot."""
    x = x.clone()
    x[:, :CLASSES] = F.one_hot(y, CLASSES).float() * x.abs().max()
    return x


class Layer(nn.Linear):
    def __init__(self, n_in, n_out):
        super().__init__(n_in, n_out)
        self.opt = torch.optim.Adam(self.parameters(), lr=0.01)

    def forward(self, x):
        x = x / (x.norm(dim=1, keepdim=True) + 1e-4)
        return F.relu(super().forward(x))

    def train_step(self, pos, neg, threshold=2.0):
        g_pos, g_neg = self(pos).pow(2).mean(1), self(neg).pow(2).mean(1)
        loss = F.softplus(torch.cat([threshold - g_pos, g_neg - threshold])).mean()
        if "bug" not in sys.argv:
            self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return self(pos).detach(), self(neg).detach(), loss.item()


layers = [Layer(DIM, 64), Layer(64, 64)]
x_train, y_train = data(2048)
x_test, y_test = data(512)
for epoch in range(4):
    for i in range(0, 2048, 64):
        x, y = x_train[i : i + 64], y_train[i : i + 64]
        pos, neg = embed(x, y), embed(x, (y + torch.randint(1, CLASSES, y.shape)) % CLASSES)
        for layer in layers:
            pos, neg, loss = layer.train_step(pos, neg)
    with torch.no_grad():
        goodness = []
        for label in range(CLASSES):
            h, total = embed(x_test, torch.full_like(y_test, label)), 0
            for layer in layers:
                h = layer(h)
                total = total + h.pow(2).mean(1)
            goodness.append(total)
        accuracy = (torch.stack(goodness, 1).argmax(1) == y_test).float().mean().item()
    print(f"epoch {epoch + 1}: last layer loss {loss:.4f} accuracy {accuracy:.3f}")
