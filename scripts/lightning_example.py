"""scalediag's Lightning callback on a LightningModule: a small CNN on the real Fashion-MNIST (read from Debian's IDX
files), 2 epochs, then the report.

    python scripts/lightning_example.py             # healthy
    python scripts/lightning_example.py --lr 1      # Adam at lr 1: lr_too_high
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import warnings
from pathlib import Path

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import nn

from scalediag.integrations.lightning import WatchCallback
from scalediag.run.data import load


class CNN(pl.LightningModule):
    def __init__(self, lr: float):
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                                 nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                 nn.Dropout(0.25), nn.Linear(32 * 7 * 7, 10))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        loss = F.cross_entropy(self(batch[0]), batch[1])
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        out = self(batch[0])
        self.log("val_loss", F.cross_entropy(out, batch[1]))
        self.log("val_acc", (out.argmax(1) == batch[1]).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train", type=int, default=20_000, help="training images used")
    parser.add_argument("--out", type=Path, default=Path("outputs/lightning_example"))
    args = parser.parse_args()
    data = load(OmegaConf.create({"root": "data", "debian_dir": "/usr/share/datasets/fashion-mnist",
                                  "download": True, "verify": True, "train_limit": args.train, "test_limit": None}),
                torch.device("cpu"))

    def loader(split, shuffle):
        x, y = split.x.float().div(255).unsqueeze(1), split.y.long()
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=64, shuffle=shuffle)

    torch.manual_seed(0)
    run_dir = args.out / f"lr{args.lr:g}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice on dataloader workers
        trainer = pl.Trainer(max_epochs=args.epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                             callbacks=[WatchCallback(log_dir=run_dir)])
        trainer.fit(CNN(args.lr), loader(data.train, True), loader(data.test, False))
    sys.exit(subprocess.run([sys.executable, "-m", "scalediag", "report", str(args.out)]).returncode)


if __name__ == "__main__":
    main()
