"""The epoch's progress bar (tqdm): on a terminal only, so that log files and CI output stay one line per epoch."""

from __future__ import annotations

import sys

from tqdm import tqdm


class ProgressBar:
    """train_epoch's progress(done, total) callback: moves tqdm's bar a few dozen times per epoch, not at every step
    (tqdm's update costs ~1 us; 40 updates an epoch cost nothing measurable)."""

    def __init__(self, label: str, redraws: int = 40):
        self.label, self.redraws, self.bar = label, redraws, None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.label, unit="step", leave=False, file=sys.stderr, mininterval=0.2)
        if done % max(1, total // self.redraws) and done != total:
            return
        self.bar.update(done - self.bar.n)
        if done == total:
            self.bar.close()


def progress_bar(label: str) -> ProgressBar | None:
    return ProgressBar(label) if sys.stderr.isatty() else None
