"""scalediag.watch around a plain PyTorch loop: a small CNN on Fashion-MNIST (torchvision + DataLoader), then the
report that names the cause.

    python scripts/watch_example.py                 # pixels / 255: healthy
    python scripts/watch_example.py --raw           # raw pixels 0..255: input_scale
    python scripts/watch_example.py --lr 1          # Adam at lr 1: lr_too_high
    python scripts/watch_example.py --out runs/cnn --epochs 3

Each run writes into its own directory under --out (TensorBoard events and metrics.json), then `scalediag report`
runs on --out and prints every run's diagnosis.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

import scalediag
from scalediag.run.data import prepare  # imports Debian's files into data/ where torchvision finds them


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", action="store_true", help="feed the raw pixels 0..255 (no ToTensor scaling)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("outputs/watch_example"))
    parser.add_argument("--root", default="data", help="where Fashion-MNIST is (or is put)")
    args = parser.parse_args()
    prepare(OmegaConf.create({"root": args.root, "debian_dir": "/usr/share/datasets/fashion-mnist",
                              "download": True, "verify": True}))
    to_input = [transforms.PILToTensor(), transforms.Lambda(lambda x: x.float())] if args.raw else \
        [transforms.ToTensor()]
    tf = transforms.Compose(to_input)
    train = datasets.FashionMNIST(args.root, train=True, transform=tf)
    test = datasets.FashionMNIST(args.root, train=False, transform=tf)
    loader = DataLoader(train, batch_size=64, shuffle=True)
    x_test, y_test = next(iter(DataLoader(test, batch_size=len(test))))
    x_probe, y_probe = next(iter(DataLoader(train, batch_size=256)))  # the first 256 training images

    torch.manual_seed(0)
    model = small_cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    name = "raw_pixels" if args.raw else "scaled"
    run_dir = args.out / (name + (f"_lr{args.lr:g}" if args.lr != 1e-3 else ""))
    with scalediag.watch(model, optimizer, run_dir, every=50, probe=(x_probe, y_probe)) as w:
        for epoch in range(args.epochs):
            total, batches = 0.0, 0
            for x, y in loader:  # the loop as anyone writes it
                loss = F.cross_entropy(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total, batches = total + loss.item(), batches + 1
            model.eval()
            with torch.no_grad():
                logits = model(x_test)
            model.train()
            test_loss = F.cross_entropy(logits, y_test).item()
            test_acc = (logits.argmax(1) == y_test).float().mean().item()
            w.epoch_end(train_loss=total / batches, test_loss=test_loss, test_acc=test_acc)
            print(f"epoch {epoch + 1}: train loss {total / batches:.4f}, test loss {test_loss:.4f}, "
                  f"test acc {test_acc:.4f}", flush=True)
    sys.exit(subprocess.run([sys.executable, "-m", "scalediag", "report", str(args.out)]).returncode)


if __name__ == "__main__":
    main()
