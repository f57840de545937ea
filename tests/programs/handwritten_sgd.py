# bench: family=hand-written SGD | data=synthetic rings | optimizer=hand-written SGD | causes=none
# bench: family=hand-written SGD | data=synthetic rings | optimizer=hand-written SGD | causes=none | args=no_grad
# bench: family=hand-written SGD | data=synthetic rings | optimizer=hand-written SGD | causes=grad_accumulation | args=bug
"""A loop without torch.optim: a 3-class MLP on three concentric rings, F.cross_entropy, the update written
by hand after each backward pass (`p.data.add_(p.grad, alpha=-lr)`, .grad set to None), an evaluation each epoch.
    python handwritten_sgd.py [no_grad] [bug]
no_grad: the other common style (`p -= lr * p.grad` under torch.no_grad(), `p.grad.zero_()`); bug: .grad never
cleared, so every step adds all the earlier gradients to its own."""
import math
import sys

import torch
import torch.nn.functional as F


def points(n, generator):
    """Three noisy concentric rings, one class each: no straight line separates them."""
    label = torch.randint(0, 3, (n,), generator=generator)
    angle = torch.rand(n, generator=generator) * 2 * math.pi
    r = 1.0 + label.float() + 0.25 * torch.randn(n, generator=generator)
    return torch.stack([r * torch.cos(angle), r * torch.sin(angle)], 1), label


g = torch.Generator().manual_seed(0)
x_train, y_train = points(3072, g)
x_test, y_test = points(1024, g)
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(),
                          torch.nn.Linear(64, 3))
lr = 0.1
for epoch in range(5):
    order = torch.randperm(len(x_train))
    for i in range(0, len(order), 64):
        batch = order[i : i + 64]
        loss = F.cross_entropy(net(x_train[batch]), y_train[batch])
        loss.backward()
        if "no_grad" in sys.argv:
            with torch.no_grad():
                for p in net.parameters():
                    p -= lr * p.grad
                    if "bug" not in sys.argv:
                        p.grad.zero_()
        else:
            for p in net.parameters():
                p.data.add_(p.grad, alpha=-lr)
                if "bug" not in sys.argv:
                    p.grad = None
    with torch.no_grad():
        logits = net(x_test)
        accuracy = (logits.argmax(1) == y_test).float().mean().item()
    print(f"epoch {epoch + 1}: test loss {F.cross_entropy(logits, y_test).item():.4f} accuracy {accuracy:.3f}")
