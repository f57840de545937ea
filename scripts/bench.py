"""Benchmarks on the real Fashion-MNIST; each suite prints its results and writes them to scripts/results/.

    python scripts/bench.py epoch [--reps 15]  # diagnostics' cost, against a typical loop -> bench_epoch.json
    python scripts/bench.py batch              # seconds per epoch, batch 32 to 4096       -> bench_batch.json
    python scripts/bench.py sweep              # the 3-divisor sweep, sequential vs joblib -> bench_sweep.json
    python scripts/bench.py choices            # each speed choice against its alternative -> bench_choices.json
    python scripts/bench.py writer [--reps 15] # events from the training thread vs a writer thread -> bench_writer.json
    python scripts/bench.py optimizer [--reps 15]  # optimizer=keras against optimizer=torch -> bench_optimizer.json
    python scripts/bench.py startup [--reps 5]     # whole processes against import torch -> bench_startup.json
    python scripts/bench.py doctor             # injected faults, four doctors scored        -> bench_doctor.json
    python scripts/bench.py watch [--reps 15]  # scalediag.watch's cost on a small CNN's loop -> bench_watch.json
    python scripts/bench.py integrations [--reps 3]  # scalediag run, Lightning's callback -> bench_integrations.json
    python scripts/bench.py programs [--only a,b]  # faulty programs, scalediag and its peers -> bench_programs.json
    python scripts/bench.py families [--reps 5]  # `scalediag run` on the task-family programs: CPU time -> bench_families.json

epoch: seconds per training epoch at batch 32, variants alternated within one run.
Variants: scalediag's loop with diagnostics off, on at the default cadence (every 50 steps, plus the per-epoch
probe and histograms), on at every step; and the loop a user would typically write (torchvision FashionMNIST +
ToTensor + DataLoader, the same model, torch's default Adam, loss.item() each step). Each variant keeps training its
own model across repetitions; one epoch of each per repetition, in turn (the order reversed every other
repetition), so machine noise hits all alike; off and every-50 first in a round of their own (see epoch_suite).
Prints and writes medians and median ratios (per repetition, then the median), in wall seconds and in the
process's CPU seconds (this VM's wall clock jumps by up to 60% when its host is busy; CPU time does not).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import torch

from benchmarks import doctor, epoch, families, integrations, loop, processes, programs_suite, watch, writer

ISA_VARIABLES = ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA")  # scripts/test_variants.sh
SUITES = {"epoch": epoch.epoch_suite, "batch": loop.batch_suite, "sweep": processes.sweep_suite,
          "choices": loop.choices_suite, "writer": writer.writer_suite, "optimizer": epoch.optimizer_suite,
          "startup": processes.startup_suite, "doctor": doctor.doctor_suite, "watch": watch.watch_suite,
          "integrations": integrations.integrations_suite, "programs": programs_suite.programs_suite,
          "families": families.families_suite}


def machine() -> dict:
    """Which CPU a figure was measured on: speed does not carry across CPU kinds (an epoch 0.53 s on an AMD EPYC,
    1.35 s on an Intel Xeon), nor do the kernels torch, MKL and oneDNN pick on it (the ISA variables hold them)."""
    cpu = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("vendor_id", "model name", "cpu family", "model") and key.strip() not in cpu:
                cpu[key.strip()] = value.strip()
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu.get("model name") or platform.processor() or platform.machine(),
            "vendor": cpu.get("vendor_id"), "family": cpu.get("cpu family"), "model": cpu.get("model"),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "isa_env": {k: os.environ[k] for k in ISA_VARIABLES if k in os.environ},
            "torch": torch.__version__, "python": platform.python_version()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", choices=tuple(SUITES))
    parser.add_argument("--reps", type=int, default=15, help="epoch suite: repetitions")
    parser.add_argument("--epochs", type=int, default=3, help="batch suite: epochs per batch size")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: as scalediag chooses)")
    parser.add_argument("--probe", type=int, default=1000, help="watch suite: probe images")
    parser.add_argument("--only", default="", help="programs suite: these programs only (comma-separated)")
    parser.add_argument("--fraction", type=float, default=1.0, help="programs suite: share of each data set used")
    parser.add_argument("--rescore", default=None, help="programs suite: judge the records kept in this directory "
                                                        "again (a run's, as it printed), running no program")
    parser.add_argument("--out", type=Path, default=None, help="default scripts/results/bench_<suite>.json")
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    result = SUITES[args.suite](args)
    result["machine"] = machine()
    out = args.out or Path(f"scripts/results/bench_{args.suite}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    shown = {k: v for k, v in result.items() if k not in ("seconds", "cpu_seconds", "rows", "cases", "peer_rules")}
    print(json.dumps(shown, indent=2))
    print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
