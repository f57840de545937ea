"""What TrainCheck (OSDI'25; `pip install traincheck==0.2.0`, not in the bench extra: numba, pandas, polars) does on
this machine, measured on one healthy program of the benchmark, one epoch: its documented workflow's first two steps,
collecting a reference trace (`traincheck-collect --pyscript P --models-to-track model`) and inferring invariants
from it (`traincheck-infer`). Run by `scripts/bench.py programs` where traincheck is installed; its result goes into
bench_programs.json as "traincheck"."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROGRAM = "mlp_adam_healthy"  # its model is the variable `model`, at the top level, as TrainCheck's tracker wants
TIMEOUT = 900


def _tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _timed(cmd: list[str], cwd: Path, env: dict) -> dict:
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
        code, text = done.returncode, re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    except subprocess.TimeoutExpired:
        code, text = None, f"timed out after {TIMEOUT} s"
    errors = [line.strip() for line in text.splitlines() if "Error" in line and ":" in line]
    return {"command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd)), "exit_code": code,
            "seconds": round(time.perf_counter() - start, 1), "error": errors[-1] if errors else None}


def probe(programs_dir: Path, env: dict) -> dict:
    work = Path(tempfile.mkdtemp(prefix="scalediag-traincheck-"))
    for f in ("fmnist.py", f"{PROGRAM}.py"):
        shutil.copy(programs_dir / f, work / f)
    script = work / f"{PROGRAM}.py"
    script.write_text(script.read_text().replace("for epoch in range(4)", "for epoch in range(1)"))
    env = {**env, "PROGRAMS_FRACTION": "1"}
    found = {"program": PROGRAM, "epochs": 1}
    plain = _timed([sys.executable, script.name], work, env)
    found["plain"] = plain
    # as documented: every torch API instrumented
    found["collect_default"] = _timed([_tool("traincheck-collect"), "--pyscript", script.name, "--models-to-track",
                                       "model", "--output-dir", "full"], work, env)
    # restricted to torch.nn and torch.optim, the narrowest that the collector accepts here
    found["collect_nn_optim"] = _timed([_tool("traincheck-collect"), "--pyscript", script.name, "--models-to-track",
                                        "model", "--modules-to-instr", "torch.nn", "torch.optim", "--output-dir",
                                        "narrow"], work, env)
    if found["collect_nn_optim"]["exit_code"] == 0:
        found["infer"] = _timed([_tool("traincheck-infer"), "-f", "narrow", "-o", "invariants.json"], work, env)
        lines = (work / "invariants.json").read_text().splitlines() if (work / "invariants.json").is_file() else []
        found["invariants"] = [json.loads(line).get("text_description") for line in lines if line.strip()]
    shutil.rmtree(work, ignore_errors=True)
    return found


def available() -> bool:
    return Path(_tool("traincheck-collect")).is_file() and os.access(_tool("traincheck-collect"), os.X_OK)
