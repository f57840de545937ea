"""The `scalediag run` command: its arguments, the script run under ScriptWatch (script.py) until it ends or a
pre-flight stops it (preflight.py), then the diagnosis printed and the script's own exit code returned."""

from __future__ import annotations

import resource
import runpy
import sys
import traceback
from pathlib import Path

from ..explain.issue import diagnose_and_write
from .preflight import STEPS, Preflight, Stopped
from .preflight import report as preflight_report
from .script import ScriptWatch


def run(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="scalediag run", description="run a training script under scalediag.watch")
    parser.add_argument("--every", type=int, default=50, help="measure every N optimizer steps (and the early ones)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the record goes (default: the next runs/<script name>/version_N)")
    parser.add_argument("--epoch-steps", type=int, default=500, help="an epoch every N steps where none is visible")
    parser.add_argument("--preflight", action="store_true",
                        help="stop the script after --steps optimizer steps and say what is visible already (exit 1: "
                             "a bug found, 0: none)")
    parser.add_argument("--steps", type=int, default=None, help=f"the pre-flight's steps (default {STEPS})")
    parser.add_argument("script", type=Path)
    parser.add_argument("args", nargs=argparse.REMAINDER)
    opts = parser.parse_args(argv)
    if not opts.script.is_file():
        print(f"scalediag run: error: {opts.script}: no such script", file=sys.stderr)
        return 2
    log_dir = opts.dir or next_version(Path("runs") / opts.script.stem)
    try:
        from ..measure import arguments

        arguments.every(opts.every)
        arguments.log_dir(log_dir)
    except (TypeError, ValueError) as e:
        said = str(e).replace(f"log_dir {log_dir} already holds a watched run", f"--dir {log_dir} already holds a run")
        if opts.dir is not None and said != str(e):
            said = (f"--dir {log_dir} already holds a run (metrics.json): give another --dir, or leave --dir out to "
                    f"number the runs under runs/{opts.script.stem}/")
        print(f"scalediag run: error: {said}", file=sys.stderr)
        return 2
    if opts.steps is not None and (not opts.preflight or opts.steps < 1):
        print("scalediag run: error: --steps N (N >= 1) goes with --preflight", file=sys.stderr)
        return 2
    watcher = ScriptWatch(log_dir, opts.every, opts.epoch_steps)
    watcher.children_cpu = _children_cpu()
    sys.argv = [str(opts.script), *opts.args]
    sys.path.insert(0, str(opts.script.resolve().parent))
    code, error = 0, None
    check = Preflight(watcher, opts.steps or STEPS) if opts.preflight else None
    watcher.labels_on()
    try:
        runpy.run_path(str(opts.script), run_name="__main__")
    except Stopped:
        return _preflight(watcher, opts, check)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        error = e if code else None
    except KeyboardInterrupt as e:
        code, error = 130, e
    except BaseException as e:  # the script's own error: shown as Python would, then its exit code
        traceback.print_exc()
        code, error = 1, e
    if check is not None and error is None:  # a script shorter than the pre-flight: judged on all it did
        return _preflight(watcher, opts, check)
    if check is not None:
        check.close()
    try:
        _report(watcher, opts.script, error)
    except Exception as e:  # noqa: BLE001  scalediag's own failure never becomes the script's outcome
        print(f"scalediag run: warning: could not finish the diagnosis ({type(e).__name__}: {e}); the script's exit "
              f"code {code} is kept", file=sys.stderr)
    return code


CHILDREN_CPU = 0.5  # seconds of CPU in finished child processes: they did the work (a pip subprocess would not)


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _preflight(watcher: ScriptWatch, opts, check: Preflight) -> int:
    """The pre-flight's verdict and exit code (1: a bug found, 0: none); 2 where scalediag itself failed."""
    check.close()
    try:
        return preflight_report(watcher, opts.script, opts.steps or STEPS, check.seconds)
    except Exception as e:  # noqa: BLE001
        print(f"scalediag run --preflight: error: could not check ({type(e).__name__}: {e})", file=sys.stderr)
        return 2


def next_version(parent: Path) -> Path:
    """parent/version_N with the first N not taken: a script run again gets a directory of its own, as TensorBoard
    and Lightning number theirs."""
    n = 0
    while (parent / f"version_{n}").exists():
        n += 1
    return parent / f"version_{n}"


def _report(watcher: ScriptWatch, script: Path, error: BaseException | None) -> None:
    """Close the watch and print the diagnosis, or why there is none."""
    watcher.close(error)
    if watcher.gave_up:  # its one line is said
        return
    if watcher.watch is None:
        called = [type(m).__name__ for m, _ in watcher.roots.values() if any(q.requires_grad for q in m.parameters())]
        if watcher.orphan_steps and called:
            # the optimizer's model was never called: a model built again after its optimizer, or another model's
            print(f"scalediag run: the optimizer stepped {watcher.orphan_steps} times but holds none of the "
                  f"parameters of the module(s) the script trained ({', '.join(called[:3])}): they never change "
                  f"(build the optimizer from the model that is called, after the model is final)", file=sys.stderr)
        elif (children := _children_cpu() - watcher.children_cpu) >= CHILDREN_CPU:
            print(f"scalediag run: no optimizer step in the script's own process; the training ran in child processes "
                  f"({children:.1f} s of their CPU), which scalediag run does not follow: "
                  f"call scalediag.watch inside the worker function, one log_dir per process", file=sys.stderr)
        else:
            print("scalediag run: no optimizer step was taken and no module's weights changed after a backward pass: "
                  "nothing to diagnose", file=sys.stderr)
        return
    found, block = diagnose_and_write(watcher.watch.dir, script.name)
    model = f", {watcher.watch.model_name}" if watcher.others.watches else ""  # with several models, each named
    print(f"scalediag: diagnosis of {script}{model} ({watcher.watch.dir}, `scalediag report {watcher.watch.dir}`; "
          f"to paste into an issue: {block}):\n{found.text}", file=sys.stderr)
    for other in watcher.others.watches:  # each model trained by an optimizer of its own
        found, block = diagnose_and_write(other.dir, script.name)
        print(f"scalediag: diagnosis of {script}, {other.dir.name} ({other.dir}; to paste into an issue: "
              f"{block}):\n{found.text}", file=sys.stderr)
