"""The epoch's progress bar: on a terminal only, so that log files and CI output stay one line per epoch."""

from __future__ import annotations

import sys


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


def progress_bar(label: str) -> ProgressBar | None:
    return ProgressBar(label) if sys.stderr.isatty() else None
