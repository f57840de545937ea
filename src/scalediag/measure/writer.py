"""The run's TensorBoard event file: scalars, histograms and HParams, all in the run's own directory.

One writer per run, closed at the end of the run (also on error), so that a second run of the same process (a
sweep) never writes into the first one's files. Events are written by the training thread itself into a buffered
file, flushed at each epoch's end, every FLUSH_SECONDS and on close: what is on disk is known at each point, with no
thread to join. torch's SummaryWriter hands every event to a writer thread instead, which must take the interpreter
lock from the training loop (scripts/bench.py writer: 0.851 against 0.849 s per epoch; 0.921 against 0.903 s when
each logging step wrote its own event).
"""

from __future__ import annotations

import itertools
import math
import os
import socket
import time
from pathlib import Path

import torch
from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary
from torch.utils.tensorboard.summary import custom_scalars
from torch.utils.tensorboard.summary import hparams as hparams_summaries

from .. import tags
from ..events import record, text_summary

FLUSH_SECONDS = 10  # besides each epoch's end: a long epoch's steps still reach TensorBoard while it runs
_files = itertools.count()  # a process's event files get distinct names even within one second


HIST_BINS = 64  # fixed bins: 1.3 ms for a 128x784 weight through numpy, against 6.6 ms for TensorBoard's default


def histogram(tag: str, values: torch.Tensor, bins: int = HIST_BINS) -> Summary | None:
    """TensorBoard's histogram summary (torch.utils.tensorboard.summary.histogram: `bins` equal bins from min to max,
    the empty outer bins dropped), computed in torch with one transfer to the host, without numpy's float64 copy of
    the values; None where a value is NaN or infinite (a diverging run keeps its scalars). tests/test_tensorboard.py
    checks it against TensorBoard's own."""
    v = values.detach().reshape(-1).float()
    wide = v.double()  # sum and sum of squares as TensorBoard's: a float32 square over- or underflows at 1e+-19
    vmin, vmax, total, squares = torch.stack([wide.amin(), wide.amax(), wide.sum(), wide.dot(wide)]).tolist()
    if not (math.isfinite(vmin) and math.isfinite(vmax)):  # amin and amax propagate NaN
        return None
    low, high = (vmin - 0.5, vmax + 0.5) if vmin == vmax else (vmin, vmax)  # as numpy.histogram does
    counts = [int(c) for c in torch.histc(v, bins, min=low, max=high).tolist()]
    edges = torch.linspace(low, high, bins + 1, dtype=torch.float64).tolist()
    nonzero = [i for i, c in enumerate(counts) if c]
    first, last = nonzero[0], nonzero[-1]
    # TensorBoard keeps only right bin edges: an empty bin before the first full one carries the leftmost edge
    buckets = [0, *counts[first : last + 1]]
    proto = HistogramProto(min=vmin, max=vmax, num=v.numel(), sum=total, sum_squares=squares,
                           bucket_limit=edges[first : last + 2], bucket=buckets)
    return Summary(value=[Summary.Value(tag=tag, histo=proto)])


def to_floats(stats: dict) -> dict[str, float]:
    """Bring a dict of 0-dim tensors (and plain numbers) to the host with one transfer: the logging cadence's sync."""
    tensors = {k: v.detach() for k, v in stats.items() if torch.is_tensor(v)}
    values = torch.stack([v if v.dtype == torch.float32 else v.float() for v in tensors.values()]).tolist() \
        if tensors else []
    out = {k: float(v) for k, v in stats.items() if not torch.is_tensor(v)}
    out.update(zip(tensors, values))
    return out


def to_rows(stats: dict[str, torch.Tensor]) -> list[dict[str, float]]:
    """{tag: [n] tensor} -> n dicts {tag: float}, with one transfer to the host."""
    columns = torch.stack([v.float() for v in stats.values()]).tolist()  # [tags, n]
    return [dict(zip(stats, row)) for row in zip(*columns)]


class RunWriter:
    def __init__(self, log_dir: Path, purge_step: int | None = None):
        """purge_step: TensorBoard drops the events this directory already holds from that step on (a resumed run
        rewrites the steps after its checkpoint)."""
        log_dir = Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{next(_files)}"
        self.file = open(log_dir / name, "wb")
        self.flushed = time.time()
        self._write(Event(file_version="brain.Event:2", step=purge_step or 0))
        if purge_step is not None:
            self._write(Event(step=purge_step, session_log=SessionLog(status=SessionLog.START)))
        self.flush()

    def __enter__(self) -> "RunWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()

    def flush(self) -> None:
        """Hand what is buffered to the operating system: TensorBoard sees it from then on."""
        self.file.flush()
        self.flushed = time.time()

    def _write(self, event: Event) -> None:
        event.wall_time = time.time()
        self.file.write(record(event.SerializeToString()))
        if event.wall_time - self.flushed > FLUSH_SECONDS:
            self.flush()

    def _summary(self, summary: Summary, step: int = 0) -> None:
        self._write(Event(summary=summary, step=step))

    def scalars(self, stats: dict, step: int) -> dict[str, float]:
        """All in one event: an add_scalar call per tag costs ~25 us each, most of a logging step's cost."""
        values = to_floats(stats)
        self._summary(Summary(value=[Summary.Value(tag=tag, simple_value=v) for tag, v in values.items()]), step)
        return values

    def histograms(self, tensors: dict[str, torch.Tensor], step: int) -> None:
        for tag, t in tensors.items():
            summary = histogram(tag, t)
            if summary is not None:
                self._summary(summary, step)

    def text(self, tag: str, text: str, step: int) -> None:
        """Markdown for TensorBoard's Text dashboard."""
        self._summary(text_summary(tag, text), step)

    def layout(self) -> None:
        """TensorBoard's Custom Scalars dashboard: the tags that answer one question on one chart."""
        self._summary(custom_scalars(tags.LAYOUT))

    def hparams(self, hparams: dict, metrics: dict[str, float]) -> None:
        """HParams into this run's own event file (SummaryWriter.add_hparams would open a new sub-run)."""
        metrics = {k: v for k, v in metrics.items() if v is not None and math.isfinite(v)}
        for summary in hparams_summaries(hparams, metrics):
            self._summary(summary)
        self.flush()
