"""The bugs that scalediag names in a program's code, its data and its schedule, each in a short plain-PyTorch
program on the real Fashion-MNIST (10,000 training images, 3 epochs unless said), with fixed twins; every run
watched, then reported.

    python scripts/bug_examples.py [--out outputs/bug_examples] [--epochs 3]

The README's table of these causes comes from this command; its report is copied to scripts/results/bugs/.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import nn

import scalediag
from scalediag.run.data import load

TRAIN, TEST, BATCH = 10_000, 2_000, 64


def mlp(*tail, activation=nn.ReLU):
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), activation(), nn.Linear(128, 10), *tail)


def cnn():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Dropout(0.25), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 7 * 7, 10))


class RowGRU(nn.Module):
    """An image as a sequence of its 28 rows."""

    def __init__(self, batch_first=True):
        super().__init__()
        self.rnn, self.fc = nn.GRU(28, 64, batch_first=batch_first), nn.Linear(64, 10)

    def forward(self, x):  # [batch, 1, 28, 28] -> [batch, 28 rows, 28 pixels]
        out, _ = self.rnn(x.squeeze(1))
        return self.fc(out[:, -1])


class Detached(nn.Module):
    def __init__(self, cut=True):
        super().__init__()
        self.cut = cut
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 256), nn.Linear(256, 64), nn.Linear(64, 10)

    def forward(self, x):
        h = F.relu(self.fc1(x.flatten(1)))
        if self.cut:
            h = h.detach()  # BUG: fc1 is cut off from the loss
        return self.fc3(F.relu(self.fc2(h)))


class OverBatch(nn.Module):
    def __init__(self, dim=0):
        super().__init__()
        self.net, self.dim = mlp(), dim

    def forward(self, x):
        return F.log_softmax(self.net(x), dim=self.dim)  # BUG at dim=0: over the samples, not the classes


def replaced_head():
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model[3] = nn.Linear(128, 10)  # BUG: a new head after the optimizer was built
    return model, opt


# name -> (build: () -> model or (model, optimizer), optimizer, loop options)
PROGRAMS = {
    "zero_grad_forgotten": (mlp, lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9), {"zero_grad": False}),
    "zero_grad_fixed": (mlp, lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9), {}),
    "zero_grad_between_backward_and_step": (mlp, lambda p: torch.optim.Adam(p, lr=1e-3), {"zero_grad": "late"}),
    "train_mode_not_restored": (cnn, lambda p: torch.optim.Adam(p, lr=1e-3), {"train_again": False}),
    "train_mode_restored": (cnn, lambda p: torch.optim.Adam(p, lr=1e-3), {}),
    "head_replaced_after_optimizer": (replaced_head, None, {}),
    "first_layer_detached": (Detached, lambda p: torch.optim.Adam(p, lr=1e-3), {}),
    "no_activation": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.Linear(256, 64), nn.Linear(64, 10)),
                      lambda p: torch.optim.Adam(p, lr=1e-3), {}),
    "sigmoid_on_output": (lambda: mlp(nn.Sigmoid()), lambda p: torch.optim.Adam(p, lr=1e-3), {}),
    "relu_on_output": (lambda: mlp(nn.ReLU()), lambda p: torch.optim.Adam(p, lr=1e-3), {}),
    "gru_without_batch_first": (lambda: RowGRU(batch_first=False), lambda p: torch.optim.Adam(p, lr=2e-3), {}),
    "gru_batch_first": (RowGRU, lambda p: torch.optim.Adam(p, lr=2e-3), {}),
    "log_softmax_over_batch": (OverBatch, lambda p: torch.optim.Adam(p, lr=1e-3), {"loss": F.nll_loss}),
    # the data and the schedule
    "labels_shuffled_apart": (mlp, lambda p: torch.optim.Adam(p, lr=1e-3), {"labels": "misaligned"}),
    "class_sorted_never_shuffled": (mlp, lambda p: torch.optim.Adam(p, lr=1e-3), {"sorted": True}),
    "exponential_lr_every_batch": (mlp, lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
                                   {"scheduler": lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9)}),
    "cosine_lr_to_the_end": (mlp, lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
                             {"scheduler": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 3 * 157)}),
    "clip_at_1e-4": (mlp, lambda p: torch.optim.SGD(p, lr=0.1), {"clip": 1e-4}),
    "adamw_clip_1_decay_1e-2": (mlp, lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=1e-2), {"clip": 1.0}),
    "adamw_decay_200": (mlp, lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=200), {}),
    "test_fed_raw_pixels": (mlp, lambda p: torch.optim.Adam(p, lr=1e-3), {"test_scale": 255.0}),
    "500_images_40_epochs": (mlp, lambda p: torch.optim.Adam(p, lr=1e-3), {"train": 500, "epochs": 40}),
}


def run(name: str, out: Path, data, epochs: int) -> None:
    build, make_opt, options = PROGRAMS[name]
    torch.manual_seed(0)
    built = build()
    model, opt = built if isinstance(built, tuple) else (built, make_opt(built.parameters()))
    loss_fn = options.get("loss", F.cross_entropy)
    n = options.get("train", len(data.train.y))
    x, y = data.train.x[:n].float().div(255).unsqueeze(1), data.train.y[:n].long()
    if options.get("labels") == "misaligned":  # BUG: the images shuffled once, the labels not
        x = x[torch.randperm(n, generator=torch.Generator().manual_seed(1))]
    if options.get("sorted"):  # BUG: stored by class, and the loop never shuffles
        order = torch.argsort(y, stable=True)
        x, y = x[order], y[order]
    # BUG where test_scale is given: the test set skips the training set's / 255
    xt, yt = data.test.x.float().div(255).mul(options.get("test_scale", 1.0)).unsqueeze(1), data.test.y.long()
    scheduler = options["scheduler"](opt) if "scheduler" in options else None
    epochs = options.get("epochs", epochs)
    gen = torch.Generator().manual_seed(0)
    with scalediag.watch(model, opt, out / name, every=50, probe=(x[:256], y[:256])) as w:
        model.train()
        for epoch in range(epochs):
            if options.get("train_again", True):
                model.train()
            order = torch.arange(len(y)) if options.get("sorted") else torch.randperm(len(y), generator=gen)
            total = 0.0
            for i in range(0, len(y), BATCH):
                idx = order[i : i + BATCH]
                loss = loss_fn(model(x[idx]), y[idx])
                if options.get("zero_grad", True) is True:
                    opt.zero_grad()
                loss.backward()
                if options.get("zero_grad") == "late":  # BUG: clears what backward just computed
                    opt.zero_grad()
                if "clip" in options:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), options["clip"])
                opt.step()
                if scheduler is not None:  # stepped every batch (the exponential one was meant per epoch)
                    scheduler.step()
                total += loss.item()
            model.eval()
            with torch.no_grad():
                logits = model(xt)
            w.epoch_end(train_loss=total / -(-len(y) // BATCH), test_loss=loss_fn(logits, yt).item(),
                        test_acc=(logits.argmax(1) == yt).float().mean().item())
    print(f"{name}: done", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/bug_examples"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--root", default="data", help="where Fashion-MNIST is (or is put)")
    parser.add_argument("--results", type=Path, default=Path("scripts/results/bugs"))
    args = parser.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)  # this script's own output folder: every run starts afresh
    data = load(OmegaConf.create({"root": args.root, "debian_dir": "/usr/share/datasets/fashion-mnist",
                                  "download": True, "verify": True, "train_limit": TRAIN, "test_limit": TEST}),
                torch.device("cpu"))
    torch.set_num_threads(1)
    for name in PROGRAMS:
        run(name, args.out, data, args.epochs)
    code = subprocess.run([sys.executable, "-m", "scalediag", "report", str(args.out)]).returncode
    args.results.mkdir(parents=True, exist_ok=True)
    for f in ("summary.md", "summary.csv"):
        shutil.copy(args.out / f, args.results / f)
    sys.exit(code)


if __name__ == "__main__":
    main()
