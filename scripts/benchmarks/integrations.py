"""What the integrations cost: `scalediag run` on scripts/plain_train.py against the same script run plainly (whole
processes, 10,000 real Fashion-MNIST images, 1 epoch; with its loss module, and with F.cross_entropy), Lightning's
Trainer with the callback against without (a small
CNN on the same images, 1 epoch, in this process), and Hugging Face's Trainer with its callback against without
(scripts/hf_example.py's BERT, 2 epochs of 2,048 samples); runs alternated so that the machine's drift hits both."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import torch

from .common import alternate, real_data

SCRIPT = ["scripts/plain_train.py", "--epochs", "1", "--train", "10000"]


def _script_variants(tmp: Path, *extra: str) -> dict:
    runs = iter(range(1000))
    label = " (F.cross_entropy)" if extra else ""

    def plain():
        subprocess.run([sys.executable, *SCRIPT, *extra], check=True, capture_output=True)

    def watched():
        subprocess.run([sys.executable, "-m", "scalediag", "run", "--dir", str(tmp / f"run{len(extra)}-{next(runs)}"),
                        *SCRIPT, *extra], check=True, capture_output=True)

    return {f"plain script{label}": plain, f"scalediag run{label}": watched}


def _lightning_variants(tmp: Path) -> dict:
    import lightning.pytorch as pl
    import torch.nn.functional as F
    from torch import nn

    from scalediag.integrations.lightning import WatchCallback

    data = real_data()
    x, y = data.train.x[:10_000].float().div(255).unsqueeze(1), data.train.y[:10_000].long()

    class CNN(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                     nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                     nn.Linear(32 * 7 * 7, 10))

        def forward(self, v):
            return self.net(v)

        def training_step(self, batch, batch_idx):
            loss = F.cross_entropy(self(batch[0]), batch[1])
            self.log("train_loss", loss, on_step=False, on_epoch=True)
            return loss

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    runs = iter(range(1000))

    def fit(callback: bool):
        torch.manual_seed(0)
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=64, shuffle=True)
        callbacks = [WatchCallback(log_dir=tmp / f"lightning{next(runs)}")] if callback else []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                       enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks).fit(CNN(), loader)

    return {"Lightning": lambda: fit(False), "Lightning + WatchCallback": lambda: fit(True)}


def _hf_variants(tmp: Path) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/: the example's model and task
    from hf_example import train

    runs = iter(range(1000))
    return {"HF Trainer": lambda: train(3e-3, tmp / f"hf{next(runs)}", watched=False, epochs=2),
            "HF Trainer + WatchCallback": lambda: train(3e-3, tmp / f"hf{next(runs)}", watched=True, epochs=2)}


def integrations_suite(args) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="scalediag-bench-integrations-"))
    reps = min(args.reps, 5)
    result = {"what": "seconds: scalediag run against the plain script (whole processes), Lightning with the "
                      "callback against without (in-process fits), 10,000 real images, 1 epoch", "reps": reps}
    # the functional loss: scalediag run reads it through a function mode between the model's output and its next call
    for name, variants in (("script", _script_variants(tmp)),
                           ("script_functional", _script_variants(tmp, "--functional")),
                           ("lightning", _lightning_variants(tmp)), ("transformers", _hf_variants(tmp))):
        wall, _, _ = alternate(variants, reps)
        base, watched = list(variants)
        result[name] = {"median_seconds": {n: statistics.median(t) for n, t in wall.items()},
                        "ratio": statistics.median(b / a for a, b in zip(wall[base], wall[watched])),
                        "seconds": wall}
    return result
