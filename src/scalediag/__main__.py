"""`python -m scalediag [overrides]` and `scalediag [overrides]`: the Hydra app on conf/ (one run, or one job of a
sweep; the sweep's checks and report are run/callbacks.py); `scalediag report DIR`; `scalediag run script.py [args]`
(integrations/command.py, integrations/script.py)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

log = logging.getLogger("scalediag")


def _sigterm_as_interrupt(signum, frame):
    raise KeyboardInterrupt  # a scheduler's SIGTERM: keep what was done, exactly as for Ctrl-C


def hydra_app():
    """The Hydra app, made when it runs: `scalediag run` and `scalediag report` need neither Hydra nor OmegaConf,
    whose imports (about 0.15 s) are most of what scalediag adds to a short script's start."""
    import hydra

    from .run.overrides import CONF_DIR

    @hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
    def app(cfg) -> float | None:
        return job(cfg)

    return app


def job(cfg) -> float | None:
    """One run of the Hydra app (or one job of a sweep)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from hydra.utils import to_absolute_path
    from omegaconf import open_dict

    from .run.callbacks import check_or_exit
    from .run.checkpoint import refusal
    from .run.threads import thread_budget
    from .run.train import run

    # the configuration again (a launcher may start jobs on another machine); the data is checked as it loads
    check_or_exit([cfg], check_data=False)
    if threading.current_thread() is threading.main_thread():  # a thread-based launcher cannot take signals
        signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    hc = HydraConfig.get()
    with open_dict(cfg):  # a launcher may start the job elsewhere: pin the data to where the user launched from
        cfg.data.root = to_absolute_path(cfg.data.root)
    out_dir = Path(hc.runtime.output_dir)
    name = hc.job.override_dirname or out_dir.name
    refused = refusal(cfg, out_dir)  # checked before the sweep too; again here, where the job runs
    if refused:
        print(f"scalediag: error: {refused}", file=sys.stderr)
        if hc.mode == RunMode.MULTIRUN:
            raise RuntimeError(refused)  # the other jobs go on; the sweep exits 1
        sys.exit(1)
    try:
        metrics = run(cfg, out_dir, name, thread_budget(hc.launcher))
    except KeyboardInterrupt:
        print(f"scalediag: interrupted: {name} kept its finished epochs in {out_dir}; continue it with the same "
              f"command and train.resume=true", file=sys.stderr)
        sys.exit(130)
    except Exception as e:
        log.exception(f"[{name}] failed")  # the traceback goes to the job's log file
        if hc.mode == RunMode.MULTIRUN:
            return None  # recorded as failed in metrics.json; the other jobs go on, the sweep exits 1 at its end
        print(f"scalediag: error: {name} failed: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    if hc.mode == RunMode.RUN:  # a sweep prints its report instead
        from .explain.chain import run_text

        log.info(f"[{name}] diagnosis (also in TensorBoard's Text dashboard, diagnosis/run):\n{run_text(metrics)}")
    return metrics["final"]["test_loss"] if metrics["final"] else None


def report_main(argv: list[str]) -> int:
    from .explain.report import write_report

    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: scalediag report DIR  (a sweep's or a run's directory)", file=sys.stderr)
        return 2
    if not Path(argv[0]).is_dir():
        what = "not a directory" if Path(argv[0]).exists() else "no such directory"
        print(f"scalediag report: error: {argv[0]}: {what}", file=sys.stderr)
        return 2
    try:
        print(write_report(Path(argv[0]))[0])
    except FileNotFoundError as e:
        print(f"scalediag: error: {e}", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):  # scalediag's own, not Hydra's
        from . import __version__

        print(f"scalediag {__version__}")
        sys.exit(0)
    if len(sys.argv) > 1 and sys.argv[1] == "report":
        sys.exit(report_main(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        from .integrations.command import run

        sys.exit(run(sys.argv[2:]))
    from .run.overrides import unknown

    mistyped = unknown(sys.argv[1:])
    if mistyped:
        print(f"scalediag: error: {mistyped}", file=sys.stderr)
        sys.exit(2)
    hydra_app()()


if __name__ == "__main__":
    main()
