"""The training loop: epochs of shuffled batches drawn by index from tensors on the device, evaluation, and one
run as a short sequence: build, resume, then per epoch train, measure, log, checkpoint, record.

Host syncs (.item(), printing) happen only at epoch ends, and within an epoch only where diagnostics have held
captured steps for FLUSH_SECONDS (measure.monitor.StepMonitor.drain); never at a plain step.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from threadpoolctl import threadpool_limits

from .. import tags
from ..explain import issue
from ..explain.chain import run_text
from ..measure.monitor import Diverged, StepMonitor
from ..measure.writer import RunWriter
from ..record import Record
from . import checkpoint
from .config import resolve_device
from .data import Data, Split, load, scaled, with_label_noise
from .observe import RunMonitor, hparams
from .optim import FusedAdamStep
from .progress import progress_bar
from .threads import blas_threads, choose_threads

log = logging.getLogger(__name__)
EVAL_BATCH = 8192  # evaluation needs no gradient: large chunks, bounded memory


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


def run(cfg: DictConfig, out_dir: Path, name: str = "run", thread_budget: int | None = None) -> dict:
    """Train one configuration; write TensorBoard events, metrics.json and a checkpoint per epoch into out_dir.

    Returns metrics.json's content. Status: completed, or diverged (both return); interrupted (KeyboardInterrupt,
    also raised for SIGTERM) or failed (any other exception): recorded with the epochs done, then re-raised.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = Record(out_dir, name, OmegaConf.to_container(cfg, resolve=True),
                    experiment={"divisor": float(cfg.divisor), "seed": int(cfg.seed)})
    try:
        _train(cfg, out_dir, name, record, thread_budget)
    except Diverged as e:
        record.stopped("diverged", str(e), step=e.step)
        log.warning(f"[{name}] diverged: {e} (epoch {record.data['epoch']}); kept {len(record.history)} epochs")
    except BaseException as e:
        interrupted = isinstance(e, KeyboardInterrupt)
        record.stopped("interrupted" if interrupted else "failed",
                       "interrupted" if interrupted else f"{type(e).__name__}: {e}")
        record.write()
        _issue_block(record, out_dir, name)
        raise
    record.write()
    _issue_block(record, out_dir, name)
    return record.data


def _issue_block(record: Record, out_dir: Path, name: str) -> None:
    """diagnosis.md beside metrics.json: the run's diagnosis to paste into an issue. A failure here is logged, never
    the run's outcome: the record is already on disk."""
    try:
        issue.write(record.data, out_dir)
    except Exception as e:  # noqa: BLE001
        log.warning(f"[{name}] could not write {issue.FILE}: {type(e).__name__}: {e}")


def build(cfg: DictConfig, *args):
    """The group member's _target_ called with its keys; its own error, not Hydra's wrapping of it."""
    try:
        return instantiate(cfg, *args)
    except InstantiationException as e:
        if e.__cause__ is None:
            raise
        raise e.__cause__ from None


@dataclass
class Parts:
    """What one run trains: built from the configuration, restored from a checkpoint on resume."""

    data: Data
    model: torch.nn.Module
    optimizer: object  # KerasAdam or torch.optim.Adam
    loss_fn: object
    gen: torch.Generator  # the batch order, independent of the init's random draws
    steps_per_epoch: int


def _build(cfg: DictConfig, device: torch.device) -> Parts:
    torch.manual_seed(cfg.seed)
    data = load(cfg.data, device)
    data = Data(with_label_noise(data.train, cfg.data.label_noise, cfg.seed), data.test)  # the test labels stay clean
    model = build(cfg.model).to(device)
    return Parts(data, model, build(cfg.optimizer, model.parameters()), build(cfg.loss),
                 torch.Generator().manual_seed(cfg.seed), math.ceil(len(data.train.y) / cfg.train.batch_size))


def _threads(cfg: DictConfig, thread_budget: int | None) -> int:
    threads = choose_threads(cfg.train.threads, cfg.train.batch_size, thread_budget)
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)  # Adam's moments decay into subnormals where gradients are 0: 2x slower without
    return threads


def _resume(cfg: DictConfig, out_dir: Path, parts: Parts, record: Record) -> int:
    """The epochs a checkpoint holds (0 without resume), restored into parts and the record."""
    kept = checkpoint.resume(cfg, out_dir, parts.model, parts.optimizer, parts.gen) if cfg.train.resume else None
    if kept:
        record.restore(kept["init"], kept["history"], kept["early"])
    return kept["epoch"] if kept else 0


def _train(cfg: DictConfig, out_dir: Path, name: str, record: Record, thread_budget: int | None) -> None:
    device, threads = resolve_device(cfg.device), _threads(cfg, thread_budget)
    parts = _build(cfg, device)
    done = _resume(cfg, out_dir, parts, record)
    record.update(device=str(device), threads=torch.get_num_threads())
    log.info(f"[{name}] divisor={cfg.divisor} loss={cfg.loss.name} init={cfg.model.init} eps={cfg.optimizer.eps} "
             f"on {device}: {len(parts.data.train.y)} train / {len(parts.data.test.y)} test samples"
             + (f"; resumed after epoch {done}" if done else ""))
    step = done * parts.steps_per_epoch
    # numpy's BLAS threads too: left at one per core, each spins ~0.1 s after a call on a core the job does not own
    # purge_step: TensorBoard drops what an interrupted attempt logged after the checkpoint it resumes from
    with threadpool_limits(threads, user_api="blas"), \
            RunWriter(out_dir, purge_step=step + 1 if done else None) as writer, \
            RunMonitor(cfg.diag, parts.model, parts.optimizer, writer, parts.data.train, cfg.divisor,
                       parts.loss_fn, parts.loss_fn.clip_eps, step=step) as monitor:
        record.update(blas_threads=blas_threads())
        if not done:
            writer.layout()
            record.update(init=monitor.at_init())
        try:
            for epoch in range(done + 1, cfg.train.epochs + 1):
                _train_measure_record(epoch, cfg, parts, out_dir, name, record, writer, monitor)
            record.completed()
            writer.text(tags.DIAGNOSIS_RUN, run_text(record.data), cfg.train.epochs * parts.steps_per_epoch)
        finally:
            record.add_early(monitor.early())  # also where the run diverged before its first epoch's end
            if record.history:
                last = record.history[-1]
                writer.hparams(hparams(cfg), {tags.LOSS_TRAIN: last["train_loss"], tags.LOSS_TEST: last["test_loss"],
                                              tags.ACC_TEST: last["test_acc"]})


def _train_measure_record(epoch: int, cfg: DictConfig, parts: Parts, out_dir: Path, name: str, record: Record,
                          writer: RunWriter, monitor: RunMonitor) -> None:
    """One epoch: train, measure, log, check, record, checkpoint; the line printed once all of it is on disk."""
    record.start_epoch(epoch)
    result = _epoch(epoch, cfg, parts, monitor)
    step = epoch * parts.steps_per_epoch
    diag = monitor.at_epoch_end(step)
    if diag is not None:
        result["diag"] = diag
    record.add_early(monitor.early())
    writer.scalars({tags.LOSS_TRAIN: result["train_loss"], tags.LOSS_TEST: result["test_loss"],
                    tags.ACC_TEST: result["test_acc"]}, step)
    writer.flush()  # the epoch's events reach TensorBoard now
    _check_finite(parts.model, result, step)
    record.end_epoch(result)
    checkpoint.save(out_dir, epoch, parts.model, parts.optimizer, parts.gen, record.data)
    record.write()  # a run killed outright still leaves the epochs it finished
    _log_epoch(name, cfg.train.epochs, result)  # once the epoch is on disk: it survives an interrupt


def _epoch(epoch: int, cfg: DictConfig, parts: Parts, monitor: RunMonitor) -> dict:
    start = time.perf_counter()
    train_loss = train_epoch(parts.model, parts.optimizer, parts.loss_fn, parts.data.train, cfg.divisor,
                             cfg.train.batch_size, parts.gen, monitor.steps,
                             progress_bar(f"Epoch {epoch}/{cfg.train.epochs}"))
    train_loss = train_loss.item()  # the epoch's one sync: also makes the timing include queued device work
    seconds = time.perf_counter() - start
    test = evaluate(parts.model, parts.loss_fn, parts.data.test, cfg.divisor)
    return {"epoch": epoch, "train_loss": train_loss, **test, "seconds": seconds}


def _check_finite(model: torch.nn.Module, result: dict, step: int) -> None:
    for key in ("train_loss", "test_loss"):
        if not math.isfinite(result[key]):
            raise Diverged(key, step)
    finite = torch.stack([p.detach().isfinite().all() for p in model.parameters()])
    if not bool(finite.all()):
        raise Diverged("parameters", step)


def _log_epoch(name: str, epochs: int, result: dict) -> None:
    log.info(f"[{name}] Epoch {result['epoch']}/{epochs} - {result['seconds']:.1f}s - loss: "
             f"{result['train_loss']:.4f} - test_loss: {result['test_loss']:.4f} - test_acc: {result['test_acc']:.4f}")
