"""Hydra callbacks: check every job's input before anything trains, and summarise the sweep at its end."""

from __future__ import annotations

import sys
from pathlib import Path

from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from hydra.experimental.callback import Callback
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from omegaconf import DictConfig

from . import data
from .checkpoint import refusal
from .config import ConfigError, output_problem, validate
from ..explain.report import record_jobs, run_name, write_report


def check_or_exit(cfgs: list[DictConfig], check_data: bool = True) -> None:
    """Validate every configuration and make sure the data is there; on bad input, one line each and exit."""
    problems = []
    for cfg in cfgs:
        try:
            validate(cfg)
        except ConfigError as e:
            problems += [p for p in e.problems if p not in problems]
    if problems:
        for p in problems:
            print(f"scalediag: error: {p}", file=sys.stderr)
        sys.exit(2)
    if not check_data:
        return
    try:
        for root in {c.data.root: c.data for c in cfgs}.values():
            data.prepare(root)
    except data.DataError as e:
        print(f"scalediag: error: {e}", file=sys.stderr)
        sys.exit(1)


def sweep_configs(config: DictConfig) -> list[DictConfig] | None:
    """Compose each job's configuration as the basic sweeper will; None where it cannot be known in advance."""
    loader = GlobalHydra.instance().config_loader()
    params = [f"{k}={v}" for k, v in (config.hydra.sweeper.get("params") or {}).items()]
    try:
        overrides = OverridesParser.create(config_loader=loader).parse_overrides(
            params + list(config.hydra.overrides.task))
        jobs = BasicSweeper.split_arguments(overrides, None)[0]
    except HydraException:  # range or interval sweeps: each job validates itself when it starts
        return None
    return [loader.load_sweep_config(config, list(job)) for job in jobs]


def check_output_or_exit(key: str, where: Path, jobs: list[tuple[DictConfig, Path]]) -> None:
    """Before Hydra writes anything: the output directory can be written, and no job would overwrite a finished
    run's results or resume from a checkpoint that is damaged or does not match; else one line and exit 1."""
    problem = output_problem(key, where)
    found = [problem] if problem else [p for cfg, out_dir in jobs if (p := refusal(cfg, out_dir))]
    if found:
        for p in dict.fromkeys(found):
            print(f"scalediag: error: {p}", file=sys.stderr)
        sys.exit(1)


class ScalediagCallback(Callback):
    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        check_or_exit([config])
        run_dir = Path(config.hydra.run.dir)
        check_output_or_exit("hydra.run.dir", run_dir, [(config, run_dir)])

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        jobs = sweep_configs(config)
        check_or_exit(jobs or [config])
        check_output_or_exit("hydra.sweep.dir", Path(config.hydra.sweep.dir),
                             [(job, Path(job.hydra.sweep.dir) / job.hydra.sweep.subdir) for job in jobs or []])
        if jobs:
            record_jobs(Path(config.hydra.sweep.dir), [job.hydra.job.override_dirname for job in jobs])

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            text, runs = write_report(sweep_dir)
        except FileNotFoundError as e:
            print(f"scalediag: error: no report: {e}", file=sys.stderr)
            sys.exit(1)
        print(f"\nSweep summary ({sweep_dir}, also in summary.md, summary.csv and the plots):\n{text}")
        failed = [run_name(r) for r in runs if r["status"] == "failed"]
        if failed:
            print(f"scalediag: error: {len(failed)} job(s) failed: {', '.join(failed)}", file=sys.stderr)
            sys.exit(1)
