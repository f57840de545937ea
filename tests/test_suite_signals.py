"""The test suite itself stops on SIGTERM and SIGINT, also inside a Lightning fit (which catches an interrupt and
makes it one failed test): a CI time-out ends the job instead of letting it run on to SIGKILL."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("lightning.pytorch", reason="Lightning is not installed (pip install -e '.[test]')")

SUITE = textwrap.dedent("""
    import pathlib
    import torch
    import lightning.pytorch as pl
    from torch import nn

    class Slow(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Linear(4, 1)

        def training_step(self, batch, batch_idx):
            pathlib.Path("started").touch()
            return self.net(batch[0]).pow(2).mean()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=1e-3)

    def test_a_long_fit():
        data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(64, 4)), batch_size=8)
        pl.Trainer(max_epochs=100000, accelerator="cpu", logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False).fit(Slow(), data)

    def test_after_it():
        pathlib.Path("second").touch()
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_inside_a_lightning_fit_ends_the_session(tmp_path, sig):
    (tmp_path / "test_slow.py").write_text(SUITE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "stop_on_signal", "-p", "no:cacheprovider",
                             "test_slow.py"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "started").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert (tmp_path / "started").exists(), proc.communicate()[0][-2000:]
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=120)  # it used to run on: the next test, and the next
    assert proc.returncode == 128 + sig, out[-2000:]
    assert f"stopped by {sig.name}" in out
    assert not (tmp_path / "second").exists()
