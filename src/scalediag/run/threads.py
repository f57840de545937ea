"""How many threads one job gets: torch's for the model, numpy's BLAS pool held to the same count."""

from __future__ import annotations

import os

from omegaconf import DictConfig
from threadpoolctl import threadpool_info

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


def thread_budget(launcher: DictConfig) -> int:
    """Cores one job may use: all of them, or its share when a launcher runs jobs side by side."""
    cores = os.cpu_count() or 1
    target = launcher.get("_target_", "")
    if "joblib" in target:
        n_jobs = launcher.get("n_jobs") or -1
        parallel = n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)  # joblib: -1 = all cores, -2 = all but one
        return max(1, cores // min(parallel, cores))
    if "submitit" in target and launcher.get("cpus_per_task"):
        return int(launcher.cpus_per_task)  # what the scheduler allotted to the task
    return cores


def blas_threads() -> int | None:
    """The most threads any loaded BLAS library (numpy's OpenBLAS, an MKL) will use now; None if none is loaded."""
    return max((pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"), default=None)
