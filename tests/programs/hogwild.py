"""Hogwild: two processes train one shared model (share_memory), each its own SGD, as torch's mnist_hogwild does."""
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn


def train(rank, model):
    torch.manual_seed(rank)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    x = torch.randn(512, 20)
    y = x[:, :4].argmax(1)
    for epoch in range(3):
        for i in range(0, 512, 32):
            opt.zero_grad()
            F.cross_entropy(model(x[i:i + 32]), y[i:i + 32]).backward()
            opt.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 4))
    model.share_memory()
    procs = [mp.Process(target=train, args=(r, model)) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    x = torch.randn(256, 20)
    print(f"accuracy {(model(x).argmax(1) == x[:, :4].argmax(1)).float().mean().item():.3f}")
