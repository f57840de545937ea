"""Events written by the training thread (scalediag's writer) against TensorBoard's writer thread; histograms."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from scalediag.measure.writer import HIST_BINS, RunWriter, histogram
from scalediag.run.threads import choose_threads

from .common import alternate, per_call_us, real_data, scalediag_variant, threads_as_a_run


class ThreadedRunWriter(RunWriter):
    """The alternative to scalediag's writer: the same events through TensorBoard's own EventFileWriter (what
    torch's SummaryWriter uses), which hands each one to a writer thread."""

    def __init__(self, log_dir: Path):
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self.events = EventFileWriter(str(log_dir))

    def _write(self, event) -> None:
        event.wall_time = time.time()
        self.events.add_event(event)

    def flush(self) -> None:
        self.events.flush()

    def close(self) -> None:
        self.events.close()


def writer_suite(args) -> dict:
    """Diagnostics every 50 steps with scalediag's writer (events written by the training thread) against
    TensorBoard's writer thread, alternated as in the epoch suite; and one histogram, torch against numpy."""
    threads_as_a_run(choose_threads(args.threads, 32))
    data = real_data()
    tmp = Path(tempfile.mkdtemp(prefix="scalediag-bench-"))
    variants = {"training thread (scalediag.measure.writer.RunWriter)": scalediag_variant(data, 50, tmp / "a"),
                "writer thread (TensorBoard's EventFileWriter)": scalediag_variant(data, 50, tmp / "b",
                                                                                   ThreadedRunWriter)}
    wall, cpu, faults = alternate(variants, args.reps)
    a, b = variants
    from torch.utils.tensorboard.summary import histogram as tensorboard_histogram

    weight = torch.randn(128, 784)  # fc1's weight: the probe's largest histograms are of this size
    histogram_us = {"TensorBoard's (numpy, float64 copy)": per_call_us(
                        lambda: tensorboard_histogram("w", weight.numpy(), bins=HIST_BINS), 500),
                    "scalediag.measure.writer.histogram (torch)": per_call_us(lambda: histogram("w", weight), 500)}
    print(json.dumps({"histogram_us": histogram_us}), flush=True)
    return {"what": "seconds per epoch, batch 32, diagnostics every 50 steps, by how events reach the file",
            "histogram_us_128x784": histogram_us,
            "median_seconds": {n: statistics.median(t) for n, t in wall.items()},
            "median_ratio": statistics.median(y / x for x, y in zip(wall[a], wall[b])),
            "median_cpu_seconds": {n: statistics.median(t) for n, t in cpu.items()},
            "seconds": wall, "cpu_seconds": cpu, "minor_faults": faults, "reps": args.reps}
