"""`python -m scalediag [overrides]` and `scalediag [overrides]`: one Hydra app on conf/; `scalediag report DIR`."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")  # the repository's conf/ (editable install)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def app(cfg: DictConfig) -> float:
    from .callbacks import check_or_exit
    from .train import run

    check_or_exit([cfg])  # again here: a launcher may run jobs on another machine
    hc = HydraConfig.get()
    name = hc.job.override_dirname or Path(hc.runtime.output_dir).name
    return run(cfg, Path(hc.runtime.output_dir), name)["final"]["test_loss"]


def report_main(argv: list[str]) -> int:
    from .report import write_report

    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: scalediag report SWEEP_DIR", file=sys.stderr)
        return 2
    try:
        print(write_report(Path(argv[0])))
    except FileNotFoundError as e:
        print(f"scalediag: error: {e}", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "report":
        sys.exit(report_main(sys.argv[2:]))
    app()


if __name__ == "__main__":
    main()
