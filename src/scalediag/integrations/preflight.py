"""`scalediag run --preflight [--steps N] script.py`: the script under scalediag.watch until its watched optimizer
has taken N steps, then stopped, and what is already visible said: the code's bugs (gradients, modes, the graph,
the structure), the inputs' and weights' scale, a learning rate that blows up, samples mixed in a batch, each with
its lines and fix (explain/preflight.py). Exit 1 where a cause was found, 0 where none: usable as a CI gate."""

from __future__ import annotations

import sys
import time

from torch.optim.optimizer import register_optimizer_step_post_hook

from ..explain import issue
from ..explain.preflight import diagnose, lines
from ..record import METRICS, read

STEPS = 100  # enough for the measured early steps (1-32) and two cadence steps at the default every=50


class Stopped(BaseException):
    """Raised from an optimizer step post-hook once the script took its N steps. A BaseException, as
    KeyboardInterrupt is: a script's `except Exception` does not swallow it."""


class Preflight:
    def __init__(self, watcher, steps: int):
        self.watcher, self.steps, self.count = watcher, steps, 0
        self.started = time.perf_counter()
        self.seconds: float | None = None
        self.handle = register_optimizer_step_post_hook(self._after)

    def _after(self, optimizer, args, kwargs) -> None:
        # after the optimizer's own post-hooks (torch runs those first), so watch has counted this step
        watched = self.watcher.watch
        if watched is not None:
            if optimizer is not watched.optimizers[0]:
                return
            done = watched.steps.step
        else:  # nothing watched (yet): the script's steps, so that it stops all the same
            self.count += 1
            done = self.count
        if done >= self.steps:
            self.close()
            self.seconds = time.perf_counter() - self.started
            raise Stopped(done)

    def close(self) -> None:
        self.handle.remove()


def report(watcher, script, steps: int, seconds: float | None) -> int:
    """Close the watch on the steps taken, print the pre-flight's verdict; the exit code: 1 where a cause was found."""
    if watcher.watch is not None:
        watcher.watch.record.update(preflight={"steps": watcher.watch.steps.step, "asked": steps,
                                               "seconds": seconds})
    watcher.close(None)
    if watcher.watch is None:
        print("scalediag run --preflight: nothing was watched (no optimizer step of a called model): nothing to "
              "check", file=sys.stderr)
        return 0
    run = read(watcher.watch.dir / METRICS)
    found = diagnose(run)
    text = lines(run, found)
    issue.write(run, watcher.watch.dir, script.name, found)
    how = f"stopped after {run.get('steps')} optimizer steps in {seconds:.1f} s" if seconds is not None else \
        f"ended by itself after {run.get('steps')} optimizer steps"
    print(f"scalediag run --preflight: {script} {how} "
          f"({watcher.watch.dir}):\n" + "\n".join(f"- {line}" for line in text), file=sys.stderr)
    return 1 if found.causes else 0
