"""Read the runs of a sweep directory and answer "why": summary.csv, summary.md (table + diagnoses), PNG plots.

It reads only files (each job's metrics.json, and jobs.json, the list of jobs the sweep was to run), so it works
after any launcher, after a crash, and again later: `scalediag report DIR`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
from pathlib import Path

from omegaconf import OmegaConf

from .. import tags
from ..files import write_json_atomic, write_text_atomic
from ..events import write_text_events
from ..record import METRICS, RecordError, alive, experiment, optimizer_name, read
from .compare import best_runs, divisor_order, slower
from .question import answer
from .chain import Diagnosis, explain, lines as cause_lines
from .facts import last_diag
from .rules import diagnose

ITEM = re.compile(r",(?=[\w.+~/]+=)")  # a comma that starts the next key=value of an override_dirname
JOBS_FILE = "jobs.json"
# sorts after the run's own event file (events.out.tfevents...); a later report replaces it
REPORT_EVENTS = "tfevents.scalediag-report"  # TensorBoard reads every file with "tfevents" in its name
# summary.csv: these, then per layer (layer_columns), then the last two
COLUMNS = ("run", "status", "seed", "divisor", "loss", "activation", "init", "optimizer", "eps", "epochs",
           "train_loss", "test_loss", "test_acc", "never_predicted", "init_loss", "clipped_fraction")
LAST_COLUMNS = ("seconds_per_epoch", "findings", "cause", "causes")


def collect(sweep_dir: Path) -> tuple[list[dict], dict[str, str]]:
    """The records below sweep_dir, and {file: what is wrong} for those that cannot be read."""
    runs, unreadable = [], {}
    for path in sorted(Path(sweep_dir).rglob(METRICS)):
        try:
            metrics = read(path)
        except RecordError as e:
            unreadable[str(path.relative_to(sweep_dir))] = str(e)
            continue
        metrics["dir"] = str(path.parent.relative_to(sweep_dir))
        metrics["path"] = str(path.parent)  # for the command that continues it
        runs.append(metrics)
    return runs, unreadable


def record_jobs(sweep_dir: Path, names: list[str]) -> None:
    """Written when the sweep starts, so that a report can name the jobs that never wrote their results."""
    Path(sweep_dir).mkdir(parents=True, exist_ok=True)
    write_json_atomic(Path(sweep_dir) / JOBS_FILE, {"jobs": names})


def missing(sweep_dir: Path, runs: list[dict], unreadable: dict[str, str]) -> list[str]:
    path = Path(sweep_dir) / JOBS_FILE
    if not path.is_file():
        return []
    present = {r.get("name") for r in runs} | {r["dir"] for r in runs} | {str(Path(f).parent) for f in unreadable}
    return [name for name in json.loads(path.read_text())["jobs"] if name not in present]


def label(run: dict, without: tuple[str, ...] = ("seed",), empty: str = "all") -> str:
    """The run's name (Hydra's override_dirname) without its seed: runs of one label differ by seed only. Without
    other keys too: the configuration that stays when those vary."""
    items = [i for i in ITEM.split(run_name(run)) if i and i.partition("=")[0] not in without]
    return ",".join(items) or empty


def context(run: dict) -> str:
    """What stays when divisor, eps and seed vary ("" when nothing else was set)."""
    return label(run, ("seed", "divisor", "optimizer.eps"), empty="")


def _sort_key(text: str):
    """divisor=1 < divisor=255 < divisor=1000: numbers compare as numbers."""
    key = []
    for item in ITEM.split(text):
        k, _, v = item.partition("=")
        try:
            key.append((k, 0, float(v), ""))
        except ValueError:
            key.append((k, 1, 0.0, v))
    return key


def run_layers(runs: list[dict]) -> tuple[list[str], list[str]]:
    """Every layer, and every hidden layer, measured in any run's last epoch, in model order."""
    seen = list(dict.fromkeys(tag for run in runs for tag in last_diag(run)))  # in the order the records list them
    return tags.layers(seen), tags.hidden_layers(seen)


def layer_columns(layers: tuple[list[str], list[str]]) -> list[str]:
    every, hidden = layers
    return [*(f"{c}_{layer}" for layer in hidden for c in ("init_preact_std", "dead_fraction", "saturated_fraction")),
            *(f"update_ratio_{layer}" for layer in every)]


def row(run: dict, diagnosis: Diagnosis, layers: tuple[list[str], list[str]]) -> dict:
    cfg, final, history = run["config"], run.get("final") or {}, run.get("history") or []
    init, last, question = run.get("init") or {}, last_diag(run), experiment(run) or {}
    seconds = [h["seconds"] for h in history if h.get("seconds") is not None]
    return {
        "run": run["dir"], "status": run["status"], "seed": question.get("seed"), "divisor": question.get("divisor"),
        "loss": cfg["loss"]["name"], "activation": cfg["model"].get("activation", "relu"),
        "init": cfg["model"].get("init"), "optimizer": optimizer_name(cfg["optimizer"]),
        "eps": cfg["optimizer"].get("eps"),
        "epochs": len(history), "train_loss": final.get("train_loss"), "test_loss": final.get("test_loss"),
        "test_acc": final.get("test_acc"), "never_predicted": final.get("never_predicted"),
        "init_loss": init.get(tags.LOSS_INIT), "clipped_fraction": last.get(tags.CLIPPED),
        **{f"init_preact_std_{layer}": init.get(tags.preact_std(layer)) for layer in layers[1]},
        **{f"dead_fraction_{layer}": last.get(tags.dead(layer)) for layer in layers[1]},
        **{f"saturated_fraction_{layer}": last.get(tags.saturated(layer)) for layer in layers[1]},
        **{f"update_ratio_{layer}": last.get(tags.update_ratio(layer)) for layer in layers[0]},
        "seconds_per_epoch": statistics.median(seconds) if seconds else None,
        "findings": ";".join(f.rule for f in diagnosis.consequences + diagnosis.others) or "healthy",
        "cause": diagnosis.cause, "causes": diagnosis.ids,
    }


def aggregate(rows: list[dict], labels: list[str]) -> list[dict]:
    """Mean, standard deviation and n of the final metrics per configuration (runs that differ only by seed)."""
    groups: dict[str, list[dict]] = {}
    for lab, r in zip(labels, rows):
        groups.setdefault(lab, []).append(r)
    out = []
    for name in sorted(groups, key=_sort_key):
        members = groups[name]
        entry = {"config": name, "n": len(members), "seeds": [r["seed"] for r in members]}
        for key in ("train_loss", "test_loss", "test_acc", "seconds_per_epoch"):
            values = [r[key] for r in members if r[key] is not None]
            entry[key] = statistics.fmean(values) if values else None
            entry[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else None  # one run: no spread
        out.append(entry)
    return out


def _pm(mean, std, digits=4) -> str:
    if mean is None:
        return "-"
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None else "")


def table(groups: list[dict]) -> str:
    head = "| configuration | n | train loss | test loss | test acc | s/epoch |\n|---|---|---|---|---|---|\n"
    lines = [
        f"| {g['config']} | {g['n']} | {_pm(g['train_loss'], g['train_loss_std'])} | "
        f"{_pm(g['test_loss'], g['test_loss_std'])} | {_pm(g['test_acc'], g['test_acc_std'])} | "
        f"{_pm(g['seconds_per_epoch'], g['seconds_per_epoch_std'], 2)} |"
        for g in groups
    ]
    return head + "\n".join(lines) + "\n"


def run_name(run: dict) -> str:
    return run.get("name") or run["dir"]


def has_results(run: dict) -> bool:
    """Completed or diverged, or stopped (interrupted, failed) after finishing an epoch: diagnosed on its epochs."""
    return run["status"] in ("completed", "diverged") or \
        (run["status"] in ("interrupted", "failed") and bool(run.get("history")))


def diagnoses(runs: list[dict], found: dict[int, Diagnosis]) -> dict[str, list[str]]:
    """Run name -> lines: the cause, its evidence and consequences, each finding with its number and threshold; or
    why the run has no numbers."""
    out = {}
    for run in sorted(runs, key=lambda r: _sort_key(run_name(r))):
        if run["status"] == "running":
            out[run_name(run)] = [status_line(run)]
        elif run["status"] in ("interrupted", "failed") and run.get("history"):
            out[run_name(run)] = cause_lines(run, found[id(run)])  # its state first, then its finished epochs'
        elif run["status"] != "completed":
            where = f" at epoch {run['epoch']}, step {run['step']}" if run.get("step") is not None else ""
            out[run_name(run)] = [f"{run['status'].upper()}{where}: {run.get('error', 'no detail recorded')}"]
            if run["status"] == "diverged" and found[id(run)].causes:
                out[run_name(run)] += cause_lines(run, found[id(run)])
        else:
            out[run_name(run)] = cause_lines(run, found[id(run)])
    return out


def status_line(run: dict) -> str:
    """A "running" record: still running, or stopped without saying so (killed outright), with how to continue."""
    kept = len(run["history"])
    state = alive(run)
    if state:
        return f"RUNNING (pid {run['pid']} on {run['host']}), {kept} epoch(s) done"
    how = "stopped without recording why (killed outright: SIGKILL, out of memory, a lost node)"
    if state is None:
        how = f"not running here: still running on {run.get('host', 'another host')}, or {how}"
    return (f"DID NOT FINISH: {how}; kept {kept} epoch(s) of {run['config'].get('train', {}).get('epochs', '?')}; "
            f"continue it with: {resume_command(run)}")


def resume_command(run: dict) -> str:
    """The command that continues a run in its own directory: its overrides, hydra.run.dir and train.resume=true."""
    run_dir = Path(run.get("path", run["dir"]))
    overrides = []
    path = run_dir / ".hydra" / "overrides.yaml"
    if path.is_file():
        overrides = [o for o in OmegaConf.to_container(OmegaConf.load(path))
                     if not o.startswith(("hydra.run.dir=", "hydra.sweep.dir=", "train.resume="))]
    return " ".join(["python -m scalediag", *overrides, f"hydra.run.dir={run_dir}", "train.resume=true"])


def _csv(rows: list[dict], layers: tuple[list[str], list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[*COLUMNS, *layer_columns(layers), *LAST_COLUMNS])
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _bullets(lines_by_name: dict[str, list[str]], bold: str = "") -> str:
    return "\n".join(f"- {bold}{name}{bold}\n" + "\n".join(f"  - {line}" for line in lines)
                     for name, lines in lines_by_name.items())


def write_report(sweep_dir: Path) -> tuple[str, list[dict]]:
    """Write summary.csv, summary.md and the plots into sweep_dir; return the text to print and the runs read."""
    from .plots import write_plots, write_sweep_plots

    sweep_dir = Path(sweep_dir)
    runs, unreadable = collect(sweep_dir)
    absent = missing(sweep_dir, runs, unreadable)
    if not runs:
        raise FileNotFoundError(f"{sweep_dir}: no run with a metrics.json below it"
                                + (f" (expected: {', '.join(absent)})" if absent else "")
                                + "".join(f"; {f} is {why}" for f, why in unreadable.items()))
    best = best_runs(runs)
    found = {id(r): explain(r, diagnose(r) + slower(r, best.get(id(r)))) if has_results(r)
             else Diagnosis(r["status"], []) for r in runs}
    layers = run_layers(runs)
    rows = [row(r, found[id(r)], layers) for r in runs]
    labels = [label(r) for r in runs]
    write_text_atomic(sweep_dir / "summary.csv", _csv(rows, layers))
    completed = [(r, lab) for r, lab, run in zip(rows, labels, runs) if has_results(run) and
                 run["status"] != "diverged"]
    text = table(aggregate([r for r, _ in completed], [lab for _, lab in completed]))
    per_run = diagnoses(runs, found)
    problems = {n: ["MISSING: no metrics.json (the job never started or was killed)"] for n in absent}
    problems.update({f: [f"UNREADABLE: {why}; the other runs are reported without it"]
                     for f, why in unreadable.items()})
    problems.update({run_name(r): [status_line(r) if r["status"] == "running" else r["status"].upper()]
                     for r in runs if not has_results(r)})
    contexts = [context(r) for r in runs]
    order = divisor_order(runs, contexts)
    by_divisor = [label(r, ("seed", "divisor")) for r in runs]  # one line per other configuration
    plots = write_plots(runs, labels, sweep_dir, layers) + write_sweep_plots(runs, by_divisor, contexts, sweep_dir)
    # a sweep by its directory; a report of one run by its run's name (a directory intr or version_0 says nothing)
    title = f"scalediag run {run_name(runs[0])}" if len(runs) == 1 and not absent and not unreadable else \
        f"scalediag sweep {sweep_dir.name}"
    intro = answer(runs)
    write_text_atomic(sweep_dir / "summary.md", _markdown(title, intro, text, per_run, order, problems, plots))
    for run in runs:  # the sweep's view of each run, next to its own events: TensorBoard's Text dashboard
        sweep_text = "\n".join(f"- {line}" for line in [*per_run[run_name(run)], *order])
        write_text_events(Path(run["path"]) / REPORT_EVENTS, {tags.DIAGNOSIS_SWEEP: sweep_text})
    opening = "".join(f"{line}\n" for line in intro) + ("\n" if intro else "")
    return opening + _printed(text, per_run, order, problems), runs


def _markdown(title: str, intro: list[str], table_md: str, lines: dict, order: list[str], problems: dict,
              plots: list[str]) -> str:
    md = [f"# {title}\n", *(["\n".join(intro) + "\n"] if intro else []), "Final metrics of the runs with finished epochs (a stopped run: its last "
          "finished epoch), mean ± standard deviation over seeds (n runs).\n", table_md, "## Diagnosis per run\n", _bullets(lines, "**") + "\n"]
    if order:
        md += ["## The divisor against Adam's epsilon\n", "\n".join(f"- {line}" for line in order) + "\n"]
    if problems:
        md += ["## Runs without results\n", _bullets(problems, "**") + "\n"]
    md += [f"![{p}]({p})\n" for p in plots]
    return "\n".join(md)


def _printed(table_md: str, lines: dict, order: list[str], problems: dict) -> str:
    out = table_md + "\n" + _bullets(lines)
    if order:
        out += "\n\nThe divisor against Adam's epsilon:\n" + "\n".join(f"- {line}" for line in order)
    if problems:
        out += "\n\nRuns without results:\n" + _bullets(problems)
    return out + "\n"
