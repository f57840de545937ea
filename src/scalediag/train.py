"""The training loop: epochs of shuffled batches drawn by index from tensors on the device, evaluation, metrics.json.

Host syncs (.item(), printing) happen only at epoch ends, and within an epoch only where diagnostics have held
captured steps for FLUSH_SECONDS (StepMonitor.drain); never at a plain step.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from threadpoolctl import threadpool_info, threadpool_limits

from . import __version__
from .config import resolve_device
from .data import Data, Split, load
from .diagnostics import Diagnostics, Pending
from .files import write_bytes_atomic, write_json_atomic
from .losses import KERAS_EPSILON, get_loss
from .model import build_model
from .optim import FusedAdamStep, make_optimizer
from .writer import FLUSH_SECONDS, RunWriter, to_floats, to_rows

log = logging.getLogger(__name__)
EVAL_BATCH = 8192  # evaluation needs no gradient: large chunks, bounded memory
SMALL_BATCH = 128  # below this, one thread per job is fastest (see choose_threads)


def choose_threads(requested: int | None, batch_size: int, budget: int | None = None) -> int:
    """Torch threads for one job: train.threads if set; else 1 below batch 128; else the job's share of the cores
    (budget: cores / parallel jobs, or what the scheduler gave the task; default all cores). Measured on 2 cores
    (scripts/bench.py choices), s/epoch with 1 and 2 threads: batch 32: 0.83, and 0.83-0.88 or up to 1.9 (two
    threads wait whenever the second core is busy); batch 4096: 0.38-0.43 and 0.22-0.25."""
    if requested is not None:
        return requested
    if batch_size < SMALL_BATCH:
        return 1
    return max(1, budget or os.cpu_count() or 1)


def blas_threads() -> int | None:
    """The most threads any loaded BLAS library (numpy's OpenBLAS, an MKL) will use now; None if none is loaded."""
    return max((pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"), default=None)


def scaled(x: torch.Tensor, divisor: float) -> torch.Tensor:
    return x.div(divisor)  # uint8 [B, 28, 28] -> float32, what the network sees; as x.float() / divisor, one kernel


DIVERGENCE_TAGS = ("loss/", "logits/", "weights/", "bias/")  # non-finite here: the run has diverged


class StepMonitor:
    """Every n-th step: arm the diagnostics before the forward pass, capture the step after the update. Statistics,
    the host transfer and the TensorBoard events come in bulk at drain(): at each epoch's end (epoch_means) and every
    FLUSH_SECONDS, so that a long epoch's steps still reach TensorBoard while it runs.

    Also keeps, per epoch, the mean of each statistic over its logging steps (for metrics.json and the report).
    """

    def __init__(self, diag: Diagnostics, writer: RunWriter, every: int, step: int = 0):
        self.diag, self.writer, self.every = diag, writer, every
        self.step = step
        self.pending = Pending()
        self.drained = time.monotonic()
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def start_step(self, target: torch.Tensor) -> bool:
        self.step += 1
        if self.step % self.every:
            return False
        self.diag.arm(target)
        return True

    def end_step(self, loss: torch.Tensor) -> None:
        capture = self.diag.collect()
        capture.tensors["loss"] = loss.detach()
        if not self.pending.add(self.step, capture):
            self.drain()
            self.pending.add(self.step, capture)
        if time.monotonic() - self.drained > FLUSH_SECONDS:
            self.drain()

    def drain(self) -> None:
        """The pending steps' statistics, one transfer to the host, one event per step. Raises Diverged at the first
        step with a non-finite loss, logit or weight statistic, after writing that step's event."""
        self.drained = time.monotonic()
        steps, capture = self.pending.take()
        if not steps:
            return
        stats = {"loss/train_step": capture.tensors["loss"], **self.diag.statistics(capture)}
        for step, values in zip(steps, to_rows(stats)):
            self.writer.scalars(values, step)
            for tag, v in values.items():
                if tag.startswith(DIVERGENCE_TAGS) and not math.isfinite(v):
                    raise Diverged(tag, step)
                self.sums[tag] = self.sums.get(tag, 0.0) + v
                self.counts[tag] = self.counts.get(tag, 0) + 1

    def epoch_means(self) -> dict[str, float]:
        self.drain()
        means = {tag: self.sums[tag] / self.counts[tag] for tag in self.sums}
        self.sums, self.counts = {}, {}
        return means


def train_epoch(model, optimizer, loss_fn, split: Split, divisor: float, batch_size: int, gen,
                monitor: StepMonitor | None = None, progress=None):
    """One pass over split in a fresh random order; returns the mean of the batch losses (a 0-dim tensor)."""
    model.train()
    fast = FusedAdamStep(optimizer)
    order = torch.randperm(len(split.y), generator=gen)  # drawn on the CPU: the same order on every device
    if split.y.device.type == "cuda":  # pinned + non_blocking: the copy does not make the host wait
        order = order.pin_memory().to(split.y.device, non_blocking=True)
    n_batches = (len(order) + batch_size - 1) // batch_size
    # one tensor, summed once at the end. Not a list of 0-dim tensors: 1,875 small blocks kept all epoch split the
    # 400 KB blocks glibc frees each step, and fresh heap pages cost up to 50k page faults and 0.3 s in an epoch
    losses = torch.empty(n_batches, device=split.y.device)
    for i in range(n_batches):
        idx = order[i * batch_size : (i + 1) * batch_size]
        # index_select: 3 us where x[idx] (advanced indexing) takes 20 us, 4% of a step at batch 32
        x, y = scaled(split.x.index_select(0, idx), divisor), split.y.index_select(0, idx)  # [B,28,28], [B]
        measured = monitor is not None and monitor.start_step(y)
        loss = loss_fn(model(x), y, reduction="mean")
        fast.zero_grad()
        loss.backward()
        fast()
        losses[i] = loss.detach()
        if measured:
            monitor.end_step(loss)
        if progress is not None:
            progress(i + 1, n_batches)
    return losses.mean()


@torch.no_grad()
def evaluate(model, loss_fn, split: Split, divisor: float) -> dict:
    """Mean loss, accuracy, and how many classes the model predicts for no sample at all (a collapsed model's k)."""
    model.eval()
    loss_sum = torch.zeros((), device=split.y.device)
    predicted = torch.zeros(10, device=split.y.device, dtype=torch.long)
    correct = torch.zeros((), device=split.y.device, dtype=torch.long)
    for start in range(0, len(split.y), EVAL_BATCH):
        x, y = split.x[start : start + EVAL_BATCH], split.y[start : start + EVAL_BATCH]
        logits = model(scaled(x, divisor))
        loss_sum += loss_fn(logits, y, reduction="sum")
        guess = logits.argmax(dim=1)
        correct += (guess == y).sum()
        predicted += torch.bincount(guess, minlength=10)
    n = len(split.y)
    return {"test_loss": loss_sum.item() / n, "test_acc": correct.item() / n,
            "never_predicted": int((predicted == 0).sum())}


class ProgressBar:
    """A one-line bar on a terminal, redrawn a few dozen times per epoch; silent when output is not a terminal."""

    def __init__(self, label: str, stream=sys.stderr, redraws: int = 40):
        self.label, self.stream, self.redraws = label, stream, redraws

    def __call__(self, done: int, total: int) -> None:
        if done % max(1, total // self.redraws) and done != total:
            return
        width = 30
        filled = width * done // total
        self.stream.write(f"\r{self.label} [{'=' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done == total:
            self.stream.write("\r" + " " * (len(self.label) + width + 20) + "\r")
        self.stream.flush()


def versions() -> dict:
    import hydra
    import numpy
    import torchvision

    return {
        "scalediag": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "hydra": hydra.__version__,
    }


CHECKPOINT = "checkpoint.pt"
# what a checkpoint must agree on with the run that resumes it (train.epochs may grow, data/device/diag may change)
RESUME_KEYS = ("divisor", "seed", "model", "optimizer", "loss", "train.batch_size")


class Diverged(RuntimeError):
    def __init__(self, what: str, step: int):
        super().__init__(f"non-finite {what} at step {step}")
        self.step = step


def run(cfg: DictConfig, out_dir: Path, name: str = "run", thread_budget: int | None = None) -> dict:
    """Train one configuration; write TensorBoard events, metrics.json and a checkpoint per epoch into out_dir.

    Returns metrics.json's content. Status: completed, or diverged (both return); interrupted (KeyboardInterrupt,
    also raised for SIGTERM) or failed (any other exception): recorded with the epochs done, then re-raised.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = {"status": "running", "name": name, "config": OmegaConf.to_container(cfg, resolve=True), "init": None,
               "history": [], "final": None, "device": None, "threads": None, "blas_threads": None,
               "versions": versions()}
    try:
        _train(cfg, out_dir, name, metrics, thread_budget)
    except Diverged as e:
        metrics.update(status="diverged", step=e.step, epoch=metrics.pop("epoch", None), error=str(e))
        log.warning(f"[{name}] diverged: {e} (epoch {metrics['epoch']}); kept {len(metrics['history'])} epochs")
    except BaseException as e:
        interrupted = isinstance(e, KeyboardInterrupt)
        metrics.update(status="interrupted" if interrupted else "failed",
                       error="interrupted" if interrupted else f"{type(e).__name__}: {e}")
        _write_metrics(out_dir, metrics)
        raise
    _write_metrics(out_dir, metrics)
    return metrics


def _write_metrics(out_dir: Path, metrics: dict) -> None:
    history = metrics["history"]
    if history:
        metrics["final"] = {k: history[-1][k] for k in ("train_loss", "test_loss", "test_acc", "never_predicted")}
    write_json_atomic(out_dir / "metrics.json", metrics)


def _train(cfg: DictConfig, out_dir: Path, name: str, metrics: dict, thread_budget: int | None) -> None:
    device = resolve_device(cfg.device)
    threads = choose_threads(cfg.train.threads, cfg.train.batch_size, thread_budget)
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)  # Adam's moments decay into subnormals where gradients are 0: 2x slower without
    torch.manual_seed(cfg.seed)
    data = load(cfg.data, device)
    model = build_model(cfg.model.hidden, cfg.model.init).to(device)
    optimizer = make_optimizer(model, cfg.optimizer, device)
    loss_fn = get_loss(cfg.loss)
    gen = torch.Generator().manual_seed(cfg.seed)  # the batch order, independent of the init's random draws
    steps_per_epoch = math.ceil(len(data.train.y) / cfg.train.batch_size)
    done = _resume(cfg, out_dir, model, optimizer, gen, metrics) if cfg.train.resume else 0
    metrics.update(device=str(device), threads=torch.get_num_threads())
    log.info(f"[{name}] divisor={cfg.divisor} loss={cfg.loss.name} init={cfg.model.init} eps={cfg.optimizer.eps} "
             f"on {device}: {len(data.train.y)} train / {len(data.test.y)} test samples"
             + (f"; resumed after epoch {done}" if done else ""))
    # purge_step: TensorBoard drops what an interrupted attempt logged after the checkpoint it resumes from
    # numpy's BLAS threads too: left at one per core, each spins ~0.1 s after a call on a core the job does not own
    # (+0.1 CPU s per epoch here while TensorBoard's numpy histograms ran in the loop; in a sweep, another job's core)
    with threadpool_limits(threads, user_api="blas"), \
            RunWriter(out_dir, purge_step=done * steps_per_epoch + 1 if done else None) as writer, \
            contextlib.ExitStack() as stack:
        metrics["blas_threads"] = blas_threads()
        monitor, probe = None, None
        if cfg.diag.enabled:
            diag = stack.enter_context(Diagnostics(model, cfg.loss.get("clip_eps", KERAS_EPSILON)))
            monitor = StepMonitor(diag, writer, cfg.diag.every_n_steps, step=done * steps_per_epoch)
            probe = Probe(diag, data.train, cfg.diag.probe_size, cfg.divisor, loss_fn)
        if probe and not done:
            metrics["init"] = probe.measure(writer, step=0, at_init=True)
        try:
            for epoch in range(done + 1, cfg.train.epochs + 1):
                metrics["epoch"] = epoch  # the epoch in progress, for the record of a fault
                record = _epoch(epoch, cfg, model, optimizer, loss_fn, data, gen, monitor)
                step = epoch * steps_per_epoch
                if probe:
                    record["diag"] = {**monitor.epoch_means(), **probe.measure(writer, step)}
                writer.scalars({"loss/train": record["train_loss"], "loss/test": record["test_loss"],
                                "acc/test": record["test_acc"]}, step)
                writer.flush()  # the epoch's events reach TensorBoard now
                _check_finite(model, record, step)
                metrics["history"].append(record)
                _save_checkpoint(out_dir / CHECKPOINT, epoch, model, optimizer, gen, metrics)
                _write_metrics(out_dir, metrics)  # a run killed outright still leaves the epochs it finished
                # printed once the epoch is on disk: what the console shows as done survives an interrupt
                log.info(f"[{name}] Epoch {epoch}/{cfg.train.epochs} - {record['seconds']:.1f}s - loss: "
                         f"{record['train_loss']:.4f} - test_loss: {record['test_loss']:.4f} - "
                         f"test_acc: {record['test_acc']:.4f}")
            metrics.pop("epoch", None)
            metrics["status"] = "completed"
        finally:
            if metrics["history"]:
                last = metrics["history"][-1]
                writer.hparams(hparams(cfg), {"loss/train": last["train_loss"], "loss/test": last["test_loss"],
                                              "acc/test": last["test_acc"]})


def _check_finite(model: torch.nn.Module, record: dict, step: int) -> None:
    for key in ("train_loss", "test_loss"):
        if not math.isfinite(record[key]):
            raise Diverged(key, step)
    finite = torch.stack([p.detach().isfinite().all() for p in model.parameters()])
    if not bool(finite.all()):
        raise Diverged("parameters", step)


def _save_checkpoint(path: Path, epoch: int, model, optimizer, gen: torch.Generator, metrics: dict) -> None:
    state = {"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "rng": torch.get_rng_state(), "gen": gen.get_state(), "config": metrics["config"],
             "init": metrics["init"], "history": metrics["history"]}
    buf = io.BytesIO()
    torch.save(state, buf)
    write_bytes_atomic(path, buf.getvalue())


def _resume(cfg: DictConfig, out_dir: Path, model, optimizer, gen: torch.Generator, metrics: dict) -> int:
    """Restore the last epoch's checkpoint, if any; return the number of epochs it holds."""
    path = out_dir / CHECKPOINT
    if not path.is_file():
        log.info(f"train.resume=true but {path} does not exist: starting from the beginning")
        return 0
    state = torch.load(path, map_location=next(model.parameters()).device, weights_only=True)
    for key in RESUME_KEYS:
        then, now = OmegaConf.select(OmegaConf.create(state["config"]), key), OmegaConf.select(cfg, key)
        if then != now:
            raise ValueError(f"{path} was made with {key}={_plain(then)}, this run has {key}={_plain(now)}")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    gen.set_state(state["gen"])
    metrics.update(init=state["init"], history=state["history"])
    return state["epoch"]


def _plain(v):
    return OmegaConf.to_container(v) if OmegaConf.is_config(v) else v


class Probe:
    """A fixed set of training images (the first probe_size), measured at init and at each epoch's end."""

    def __init__(self, diag: Diagnostics, split: Split, size: int, divisor: float, loss_fn):
        self.diag, self.loss_fn = diag, loss_fn
        self.x, self.y = scaled(split.x[:size], divisor), split.y[:size]

    def measure(self, writer: RunWriter, step: int, at_init: bool = False) -> dict[str, float]:
        stats, hists = self.diag.probe(self.x, self.y)
        stats["loss/probe"] = self.loss_fn(hists["logits"], self.y, reduction="mean")
        writer.histograms(hists, step)
        if at_init:  # before any update: the scale the network starts from, to hold against ln(10) = 2.303
            stats["loss/init"] = stats.pop("loss/probe")
            return writer.scalars(stats, step)
        values = to_floats(stats)
        writer.scalars({"relu/dead_fraction": values["relu/dead_fraction"]}, step)
        return values


def hparams(cfg: DictConfig) -> dict:
    return {"divisor": float(cfg.divisor), "optimizer.eps": float(cfg.optimizer.eps), "optimizer.lr":
            float(cfg.optimizer.lr), "loss": cfg.loss.name, "model.init": cfg.model.init, "seed": cfg.seed,
            "train.batch_size": cfg.train.batch_size}


def _epoch(epoch, cfg, model, optimizer, loss_fn, data: Data, gen, monitor) -> dict:
    epochs = cfg.train.epochs
    bar = ProgressBar(f"Epoch {epoch}/{epochs}") if sys.stderr.isatty() else None
    start = time.perf_counter()
    train_loss = train_epoch(model, optimizer, loss_fn, data.train, cfg.divisor, cfg.train.batch_size, gen,
                             monitor, bar)
    train_loss = train_loss.item()  # the epoch's one sync: also makes the timing include queued device work
    seconds = time.perf_counter() - start
    test = evaluate(model, loss_fn, data.test, cfg.divisor)
    return {"epoch": epoch, "train_loss": train_loss, **test, "seconds": seconds}
