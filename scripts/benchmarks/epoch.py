"""Seconds per epoch, variants alternated within one run: the diagnostics' cost against a typical loop (epoch), and
optimizer=keras against optimizer=torch (optimizer)."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import torch

from scalediag.run.optim import torch_adam
from scalediag.run.threads import choose_threads

from .common import DATA, alternate, real_data, scalediag_variant, threads_as_a_run, typical_variant


def epoch_suite(args) -> dict:
    """Two rounds. The diagnostics' cost: off against every 50 steps, alternated, args.reps epochs each. Then all four
    variants alternated (args.reps // 3 epochs each) for the every-step and typical-loop ratios: an epoch that
    followed an every-step epoch ran ~7% slower here (measured while each logging step still allocated fresh
    weight copies), which would otherwise be charged to the variant that happens to come next."""
    threads_as_a_run(choose_threads(args.threads, 32))
    data = real_data()
    tmp = Path(tempfile.mkdtemp(prefix="scalediag-bench-"))
    off, every50 = scalediag_variant(data, None, tmp / "off"), scalediag_variant(data, 50, tmp / "every50")
    wall, cpu, faults = alternate({"diag_off": off, "diag_every_50": every50}, args.reps)
    four = {"diag_off": off, "diag_every_50": every50, "diag_every_step": scalediag_variant(data, 1, tmp / "every1"),
            "typical_dataloader": typical_variant(DATA["root"])}
    wall4, cpu4, faults4 = alternate(four, max(3, args.reps // 3))

    def ratios(two, all4):  # median over repetitions of the same-repetition ratio
        def r(times, a, b):
            return statistics.median(x / y for x, y in zip(times[a], times[b]))

        return {"diag_every_50 / diag_off": r(two, "diag_every_50", "diag_off"),
                "diag_every_step / diag_off": r(all4, "diag_every_step", "diag_off"),
                "typical_dataloader / diag_every_50": r(all4, "typical_dataloader", "diag_every_50")}

    def medians(two, all4):
        return {**{n: statistics.median(t) for n, t in two.items()},
                **{n: statistics.median(all4[n]) for n in ("diag_every_step", "typical_dataloader")}}

    return {
        "what": "seconds per training epoch, real Fashion-MNIST (60000 images), batch 32, CPU",
        "threads": torch.get_num_threads(),
        "median_seconds": medians(wall, wall4),
        "ratios": ratios(wall, wall4),
        # CPU seconds of the whole process: what the work costs, blind to time the VM's host takes away
        "median_cpu_seconds": medians(cpu, cpu4),
        "cpu_ratios": ratios(cpu, cpu4),
        "seconds": {"round 1": wall, "round 2": wall4},
        "cpu_seconds": {"round 1": cpu, "round 2": cpu4},
        "median_minor_faults": medians(faults, faults4),
        "minor_faults": {"round 1": faults, "round 2": faults4},
        "reps": args.reps,
    }


def optimizer_suite(args) -> dict:
    """Keras's Adam (the default: torch's fused kernel with a per-step eps) against torch's, diagnostics at the
    default cadence, alternated args.reps epochs each."""
    threads_as_a_run(choose_threads(args.threads, 32))
    data = real_data()
    tmp = Path(tempfile.mkdtemp(prefix="scalediag-bench-"))
    variants = {"keras": scalediag_variant(data, 50, tmp / "keras"),
                "torch": scalediag_variant(data, 50, tmp / "torch", optimizer_class=torch_adam)}
    wall, cpu, _ = alternate(variants, args.reps)
    return {"what": "seconds per epoch, batch 32, diagnostics every 50 steps: optimizer=keras against torch",
            "median_seconds": {n: statistics.median(t) for n, t in wall.items()},
            "ratio keras / torch": statistics.median(k / t for k, t in zip(wall["keras"], wall["torch"])),
            "cpu ratio keras / torch": statistics.median(k / t for k, t in zip(cpu["keras"], cpu["torch"])),
            "seconds": wall, "reps": args.reps}
