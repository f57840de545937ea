"""A plain PyTorch training script, as a user writes it, knowing nothing of scalediag: a small CNN on Fashion-MNIST
read straight from its IDX files, Adam, an evaluation after each epoch. Run it under scalediag without changing it:

    scalediag run scripts/plain_train.py              # pixels / 255
    scalediag run --dir runs/raw scripts/plain_train.py --raw   # raw pixels 0..255
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np
import torch
from torch import nn


def idx(path: Path) -> np.ndarray:
    data = gzip.decompress(path.read_bytes())
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    parser.add_argument("--raw", action="store_true", help="feed the raw pixels (the bug)")
    parser.add_argument("--functional", action="store_true", help="F.cross_entropy instead of nn.CrossEntropyLoss")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train", type=int, default=20_000, help="training images used")
    args = parser.parse_args()
    scale = 1.0 if args.raw else 255.0
    x = torch.tensor(idx(args.data / "train-images-idx3-ubyte.gz")[: args.train], dtype=torch.float32) / scale
    y = torch.tensor(idx(args.data / "train-labels-idx1-ubyte.gz")[: args.train], dtype=torch.long)
    xt = torch.tensor(idx(args.data / "t10k-images-idx3-ubyte.gz"), dtype=torch.float32) / scale
    yt = torch.tensor(idx(args.data / "t10k-labels-idx1-ubyte.gz"), dtype=torch.long)
    x, xt = x.unsqueeze(1), xt.unsqueeze(1)

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = torch.nn.functional.cross_entropy if args.functional else nn.CrossEntropyLoss()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=64, shuffle=True)
    for epoch in range(args.epochs):
        model.train()
        for xb, yb in loader:
            loss = criterion(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            out = model(xt)
            print(f"epoch {epoch + 1}: test loss {criterion(out, yt).item():.4f}, "
                  f"accuracy {(out.argmax(1) == yt).float().mean().item():.4f}")


if __name__ == "__main__":
    main()
