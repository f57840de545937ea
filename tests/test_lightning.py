"""scalediag's Lightning callback on a small LightningModule (a CNN on the tests' own IDX images, or the real
Fashion-MNIST's first images where Debian's files are installed): the same losses with and without it, a record the
report diagnoses, with gradient accumulation and bf16 mixed precision."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

pl = pytest.importorskip("lightning.pytorch", reason="Lightning is not installed (pip install -e '.[test]')")

from scalediag.explain.chain import explain  # noqa: E402
from scalediag.integrations.lightning import WatchCallback  # noqa: E402
from scalediag.record import read  # noqa: E402


class CNN(pl.LightningModule):
    def __init__(self, lr: float):
        super().__init__()
        self.lr, self.losses = lr, []
        self.net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                 nn.Linear(8 * 14 * 14, 10))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.losses.append(loss.item())
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        out = self(x)
        self.log("val_loss", F.cross_entropy(out, y))
        self.log("val_acc", (out.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


REAL = 2048  # real images trained on where Debian's files are installed (the tests' own 512 otherwise)


@pytest.fixture(scope="module")
def loaders(tmp_path_factory):
    from omegaconf import OmegaConf

    from conftest import DEBIAN_DIR, NAMES, fake_data, write_fashion
    from scalediag.run.data import load

    root = tmp_path_factory.mktemp("lightning") / "data"
    if all((DEBIAN_DIR / f"{n}.gz").is_file() for n in NAMES):
        data = load(OmegaConf.create({"root": str(root), "debian_dir": str(DEBIAN_DIR), "download": False,
                                      "verify": True, "train_limit": REAL, "test_limit": 512}), torch.device("cpu"))
    else:
        write_fashion(root / "FashionMNIST" / "raw")
        data = fake_data(root)

    def loader(split, shuffle):
        x, y = split.x.float().div(255).unsqueeze(1), split.y.long()
        g = torch.Generator().manual_seed(0)
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32, shuffle=shuffle,
                                           generator=g)

    return lambda: (loader(data.train, True), loader(data.test, False))


def fit(loaders, log_dir=None, lr=3e-3, **trainer_args):
    torch.manual_seed(0)
    model = CNN(lr)
    train, val = loaders()
    callbacks = [WatchCallback(log_dir=log_dir, every=4)] if log_dir else []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice on workers and logging
        trainer = pl.Trainer(max_epochs=4, accelerator="cpu", devices=1, callbacks=callbacks, logger=False,
                             enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                             deterministic=True, **trainer_args)
        trainer.fit(model, train, val)
    return model.losses, (read(log_dir / "metrics.json") if log_dir else None)


@pytest.mark.parametrize("args", [{}, {"accumulate_grad_batches": 2}, {"precision": "bf16-mixed"}],
                         ids=["plain", "accumulate_2", "bf16_mixed"])
def test_the_callback_changes_no_loss_and_its_record_is_diagnosed_healthy(loaders, tmp_path, args):
    plain, _ = fit(loaders, **args)
    watched, record = fit(loaders, tmp_path / "run", **args)
    assert watched == plain
    assert record["status"] == "completed" and len(record["history"]) == 4
    batches = -(-len(loaders()[0].dataset) // 32)
    assert record["steps"] == 4 * (batches // args.get("accumulate_grad_batches", 1))
    last = record["history"][-1]
    assert last["train_loss"] is not None and last["test_loss"] is not None and last["test_acc"] is not None
    assert record["config"]["model"]["layers"] == ["net.0", "net.4"]
    assert explain(record).cause == "healthy", explain(record).causes


@pytest.mark.parametrize("args", [{}, {"accumulate_grad_batches": 2}, {"precision": "bf16-mixed"}],
                         ids=["plain", "accumulate_2", "bf16_mixed"])
def test_adam_at_lr_1_is_lr_too_high(loaders, tmp_path, args):
    _, record = fit(loaders, tmp_path / "run", lr=1.0, **args)
    assert explain(record).cause == "lr_too_high", explain(record).causes


def test_an_exception_in_training_is_recorded_as_failed_with_the_epochs_done(loaders, tmp_path):
    class Breaks(CNN):
        def training_step(self, batch, batch_idx):
            if self.current_epoch == 1 and batch_idx == 3:
                raise RuntimeError("the module's own bug")
            return super().training_step(batch, batch_idx)

    callback = WatchCallback(log_dir=tmp_path / "run", every=4)
    with warnings.catch_warnings(), pytest.raises(RuntimeError, match="the module's own bug"):
        warnings.simplefilter("ignore")
        pl.Trainer(max_epochs=3, accelerator="cpu", devices=1, callbacks=[callback], logger=False,
                   enable_checkpointing=False, enable_progress_bar=False,
                   enable_model_summary=False).fit(Breaks(1e-3), loaders()[0])
    record = read(tmp_path / "run" / "metrics.json")
    assert record["status"] == "failed" and record["error"] == "RuntimeError: the module's own bug"
    assert len(record["history"]) == 1


DDP_SCRIPT = '''
import sys, warnings
import torch
import torch.nn.functional as F
from torch import nn
import lightning.pytorch as pl
from scalediag.integrations.lightning import WatchCallback


class Net(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 4))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        loss = F.cross_entropy(self(batch[0]), batch[1])
        self.log("train_loss", loss, on_step=False, on_epoch=True, sync_dist=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 20, generator=g)
    data = torch.utils.data.TensorDataset(x, x[:, :4].argmax(1))
    torch.manual_seed(0)
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", devices=2, strategy="ddp", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[WatchCallback(log_dir=sys.argv[1], every=2)])
    trainer.fit(Net(), torch.utils.data.DataLoader(data, batch_size=32))
'''


def test_ddp_with_two_cpu_processes_gives_each_rank_its_record(tmp_path):
    import csv
    import json
    import subprocess
    import sys

    from conftest import run_cli

    script = tmp_path / "ddp_fit.py"
    script.write_text(DDP_SCRIPT)
    out = tmp_path / "runs"
    p = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=300,
                       cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    for rank in (0, 1):
        record = json.loads((out / f"rank{rank}" / "metrics.json").read_text())
        assert record["status"] == "completed" and len(record["history"]) == 2
        assert record["steps"] == 16  # 512 samples over 2 ranks, batch 32: 8 steps per epoch
    report = run_cli(["report", str(out)], cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert {r["run"] for r in csv.DictReader((out / "summary.csv").open())} == {"rank0", "rank1"}
