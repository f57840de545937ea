"""The program benchmark: plain PyTorch training scripts (scripts/benchmarks/programs/, one bug each, marked `BUG`, or
healthy), each run unchanged under `scalediag run` (the real scalediag.watch) and under each peer tool
(peers.py: torchtest2, torch-audit), two jobs at a time; every tool scored on detected (anything said to be wrong),
named (it points at the bug's location) and false alarms (anything said of a healthy program). The published
Keras-era rule sets (scalediag.explain.baselines) are scored on scalediag's records of the same runs.

The programs were written together with scalediag's rules (several rules were fixed on them); the held-out ones were
written after the rules were fixed, in rounds: the last round (HELD_OUT) is scored apart, an earlier round's
programs count with the others once a rule has changed for them. Each program is a user's standalone script: they
repeat each other's loops on purpose, so that each reads whole.

The task families (tests/programs/: language models, a GAN, a VAE, regression, binary classification, hand-written
updates, LBFGS, a policy gradient) are scored apart, as the families: their programs run by the test suite too, each
variant a header line of its own with the arguments that make it (`args=bug`).

    python scripts/bench.py programs [--only a,b] [--fraction 1]   -> scripts/results/bench_programs.json
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import NamedTuple

from scalediag.explain import preflight
from scalediag.explain.chain import explain
from scalediag.explain.scoring import location, verdicts

from . import traincheck_probe

HERE = Path(__file__).resolve().parent
PROGRAMS_DIR = HERE / "programs"
FAMILIES_DIR = HERE.parents[1] / "tests" / "programs"
PEERS = ("torchtest2", "torch-audit")
BASELINES = ("autotrainer", "deepdiagnosis", "sagemaker")  # scalediag.explain.baselines.TOOLS
PREFLIGHT = "preflight"  # `scalediag run --preflight`: the first 100 steps, then the script stopped
TOOLS = ("scalediag", PREFLIGHT, *PEERS, *BASELINES)


class Program(NamedTuple):
    family: str
    data: str
    optimizer: str
    causes: tuple[str, ...]  # the scalediag causes that name its bug; () for a healthy program
    held_out: int = 0  # the round it was written in, after the rules were fixed (0: written with them)
    path: Path | None = None  # the script
    args: tuple[str, ...] = ()  # the arguments that make this variant of it
    task_family: bool = False  # one of the task families (tests/programs/), scored apart

    @property
    def faulty(self) -> bool:
        return bool(self.causes)


HELD_OUT = 2  # the round scored apart: written after the rules were last changed; the earlier rounds are developed
# a program's first line: family=... | data=... | optimizer=... | causes=a,b or none[ | held_out=N][ | args=a b]; a
# task family's script has one such line per variant, at its top
HEADER = "# bench: "


def read_headers(path: Path, task_family: bool = False) -> list[tuple[str, Program]]:
    """A program's variants as its own first lines declare them: what each is, the causes that name its bug, the
    arguments that make it; named after the script, and its arguments where it has any (lm_tokens-bug)."""
    lines = path.read_text().split("\n")
    if not lines[0].startswith(HEADER):
        raise ValueError(f"{path.name}: its first line must be '{HEADER}family=... | data=... | optimizer=... | "
                         f"causes=...'")
    found = []
    for line in lines:
        if not line.startswith(HEADER):
            break
        fields = dict(part.strip().split("=", 1) for part in line[len(HEADER):].split("|"))
        causes = () if fields["causes"] == "none" else tuple(fields["causes"].split(","))
        args = tuple(fields.get("args", "").split())
        found.append(("-".join([path.stem, *args]),
                      Program(fields["family"], fields["data"], fields["optimizer"], causes,
                              int(fields.get("held_out", 0)), path, args, task_family)))
    return found


# every script with a header in programs/ (fmnist.py and markers.py are their data), developed ones first; then the
# task families' variants
PROGRAMS = dict(sorted((v for p in PROGRAMS_DIR.glob("*.py") if p.read_text().startswith(HEADER)
                        for v in read_headers(p)), key=lambda kv: (kv[1].held_out, kv[0])))
PROGRAMS |= dict(sorted(v for p in FAMILIES_DIR.glob("*.py") if p.read_text().startswith(HEADER)
                        for v in read_headers(p, task_family=True)))


def _command(name: str) -> list[str]:
    """The script and its variant's arguments, as a command line's tail."""
    program = PROGRAMS[name]
    return [str(program.path), *program.args]
# (peer, its rule or check) -> (the location its message points at, or None: detection only; whether it says the
# training is wrong at all; why). A finding counts as detecting where the second field holds, as naming a program's
# bug where its location is one of the program's (scoring.location of the program's causes).
PEER_RULES = {
    ("torchtest2", "optimizer_coverage"): ("optimizer", True, "names trainable parameters the optimizer does not hold"),
    ("torchtest2", "gradient_flow"): ("layers", True, "names parameters that get no gradient: a cut graph"),
    ("torchtest2", "params_change"): ("layers", True, "names parameters a step left unchanged"),
    ("torchtest2", "batch_independence"): ("layers", True, "one sample's gradient reaches others: samples mix"),
    ("torchtest2", "initial_loss"): (None, True, "initial loss off ln C: input scale, init or output alike"),
    ("torchtest2", "overfit_batch"): (None, True, "cannot fit one batch: any cause"),
    ("torchtest2", "gradient_magnitude"): (None, True, "gradient large against the weights: any cause"),
    ("torchtest2", "output_finite"): (None, True, "NaN or inf outputs: a symptom"),
    ("torchtest2", "output_varies"): (None, True, "outputs identical across samples: a symptom"),
    ("torchtest2", "input_dependency"): (None, True, "outputs ignore the inputs: a symptom"),
    ("torchtest2", "eval_determinism"): (None, True, "eval outputs vary between calls"),
    ("torchtest2", "loss"): (None, True, "the loss is not a finite scalar"),
    ("torchtest2", "output_range"): (None, True, "outputs beyond a range given by the caller"),
    ("torch-audit", "TA100"): (None, True, "NaN or inf in weights or gradients: a symptom"),
    ("torch-audit", "TA102"): (None, True, "global gradient norm above 100: any cause"),
    ("torch-audit", "TA103"): ("activation", True, "parameters with all-zero gradients: dead units"),
    ("torch-audit", "TA104"): ("layers", True, "no gradient anywhere after backward: a cut graph"),
    ("torch-audit", "TA105"): ("activation", True, "most units output 0: dead ReLUs"),
    ("torch-audit", "TA301"): ("preprocessing", True, "input range like raw pixels 0..255"),
    ("torch-audit", "TA302"): ("preprocessing", True, "inputs with almost no variance"),
    ("torch-audit", "TA305"): ("preprocessing", True, "invalid input values"),
    ("torch-audit", "TA300"): (None, True, "inputs on another device than the model"),
    ("torch-audit", "TA304"): (None, True, "batch under 8 with BatchNorm"),
    ("torch-audit", "TA401"): ("optimizer", True, "Adam with weight decay instead of AdamW"),
    ("torch-audit", "TA402"): ("optimizer", True, "weight decay on norms and biases"),
    ("torch-audit", "TA403"): ("optimizer", True, "weight decay on embeddings"),
    ("torch-audit", "TA500"): ("layers", True, "a layer never called in forward"),
    ("torch-audit", "TA501"): ("layers", True, "a stateful layer (BatchNorm) called twice"),
    # advice about speed or style, not a claim that training is wrong: not counted
    ("torch-audit", "TA200"): (None, False, "tensor-core alignment: speed advice"),
    ("torch-audit", "TA201"): (None, False, "channels-last layout: speed advice"),
    ("torch-audit", "TA202"): (None, False, "model on the CPU while a GPU exists: placement advice"),
    ("torch-audit", "TA203"): (None, False, "full FP32: speed advice (AMP)"),
    ("torch-audit", "TA400"): (None, False, "bias before a norm layer: redundant parameters, harmless"),
    ("torch-audit", "TA404"): (None, False, "even conv kernel: style advice"),
    ("torch-audit", "TA405"): (None, False, "conv filters of zero weights"),
}


def _locations(program: Program) -> list[str]:
    return sorted({loc for c in program.causes if (loc := location(c))})


def _run(cmd: list[str], env: dict, cwd: Path = PROGRAMS_DIR) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env)
    return time.perf_counter() - start, done.stderr[-3000:]


def _scalediag(name: str, out: Path, env: dict) -> dict:
    run_dir = out / name / "scalediag"
    seconds, stderr = _run([sys.executable, "-m", "scalediag", "run", "--dir", str(run_dir), *_command(name)], env,
                           PROGRAMS[name].path.parent)
    return _judged(run_dir / "metrics.json", seconds, stderr)


def _judged(record: Path, seconds: float, stderr: str = "") -> dict:
    """scalediag's and the rule sets' verdicts on one program's record."""
    if not record.is_file():
        return {"seconds": seconds, "error": stderr, "verdicts": {}}
    run = json.loads(record.read_text())
    try:
        diagnosis, said = explain(run), verdicts(run)
    except Exception as e:  # one record's failure is that program's result, not the benchmark's end
        return {"seconds": seconds, "error": f"{type(e).__name__}: {e}", "verdicts": {}}
    found = {tool: {"problems": list(v.problems), "locations": [v.location] if v.location else []}
             for tool, v in said.items()}
    found["scalediag"]["cause"] = diagnosis.cause
    found["scalediag"]["message"] = diagnosis.causes[0].evidence if diagnosis.causes else ""
    return {"seconds": seconds, "final": run.get("final"), "status": run.get("status"),
            "watch_error": run.get("watch_error"), "verdicts": found}


def _preflight(name: str, out: Path, env: dict) -> dict:
    """The pre-flight's verdict: its primary cause's location, as scalediag's; the seconds are the whole process's,
    to the verdict."""
    run_dir = out / name / PREFLIGHT
    seconds, stderr = _run([sys.executable, "-m", "scalediag", "run", "--preflight", "--dir", str(run_dir),
                            *_command(name)], env, PROGRAMS[name].path.parent)
    return _preflight_judged(run_dir / "metrics.json", seconds, stderr)


def _preflight_judged(record: Path, seconds: float, stderr: str = "") -> dict:
    if not record.is_file():
        return {"seconds": seconds, "error": stderr, "problems": [], "locations": []}
    run = json.loads(record.read_text())
    found = preflight.diagnose(run)
    primary = found.causes[0].id if found.causes else None
    return {"seconds": seconds, "steps": run.get("steps"), "cause": primary or "nothing found",
            "problems": [c.id for c in found.causes], "locations": [loc] if primary and (loc := location(primary))
            else [], "message": found.causes[0].evidence if found.causes else ""}


def _peer(tool: str, name: str, out: Path, env: dict) -> dict:
    result_file = out / name / f"{tool}.json"
    result_file.parent.mkdir(parents=True, exist_ok=True)
    seconds, stderr = _run([sys.executable, str(HERE / "peers.py"), tool, str(result_file), *_command(name)], env,
                           PROGRAMS[name].path.parent)
    if not result_file.is_file():
        return {"seconds": seconds, "error": stderr, "problems": [], "locations": [], "findings": []}
    result = json.loads(result_file.read_text())
    counted = [f for f in result["findings"] if PEER_RULES.get((tool, f["rule"]), (None, True))[1]]
    return {"seconds": seconds, "tool_seconds": result.get("seconds"), "error": result.get("error"),
            "problems": sorted({f["rule"] for f in counted}),
            "locations": sorted({loc for f in counted if (loc := PEER_RULES.get((tool, f["rule"]), (None,))[0])}),
            "findings": _distinct(result["findings"])}


def _job(tool: str, name: str, out: Path, env: dict) -> dict:
    if tool == PREFLIGHT:
        return _preflight(name, out, env)
    return _scalediag(name, out, env) if tool == "scalediag" else _peer(tool, name, out, env)


def _distinct(findings: list[dict]) -> list[dict]:
    """One finding per rule and place (a runtime rule repeats at every audit), with how often it came."""
    seen: dict[tuple, dict] = {}
    for f in findings:
        key = (f["rule"], f.get("where"))
        seen.setdefault(key, {**f, "times": 0})["times"] += 1
    return list(seen.values())


def _case_named(case: dict, tool: str) -> bool:
    """The tool pointed at the bug's location (scalediag: its primary cause's; a peer: any counted finding's)."""
    return bool(set((case["verdicts"].get(tool) or {}).get("locations") or []) & set(case["locations"]))


def _said(case: dict, tool: str) -> bool:
    return bool((case["verdicts"].get(tool) or {}).get("problems"))


def score(cases: list[dict]) -> dict[str, dict]:
    scores = {}
    faulty, healthy = [c for c in cases if c["locations"]], [c for c in cases if not c["locations"]]
    for tool in TOOLS:
        scores[tool] = {"faulty": len(faulty), "healthy": len(healthy),
                        "detected": sum(_said(c, tool) for c in faulty),
                        "named": sum(_case_named(c, tool) for c in faulty),
                        "false_alarms": sum(_said(c, tool) for c in healthy)}
    scores["scalediag"]["cause_exact"] = sum((c["verdicts"].get("scalediag") or {}).get("cause") in c["causes"]
                                             for c in faulty)
    return scores


def _scores(cases: list[dict]) -> tuple[dict, dict, dict]:
    """The classifier programs developed with the rules, the held-out round, and the task families, each apart."""
    classifiers = [c for c in cases if not c.get("task_family")]
    return (score([c for c in classifiers if c["held_out"] < HELD_OUT]),
            score([c for c in classifiers if c["held_out"] == HELD_OUT]),
            score([c for c in cases if c.get("task_family")]))


def rescore(args) -> dict:
    """The last run's records (in args.rescore, the directory it printed) judged again by the current explain code,
    the programs not run again: after a change of the rules, the same records against the same verdicts. The peers'
    results and every run's seconds are kept from the JSON it wrote."""
    path = args.out or Path("scripts/results/bench_programs.json")
    kept, root = json.loads(path.read_text()), Path(args.rescore)
    for case in kept["cases"]:
        name = case["program"]
        own = _judged(root / name / "scalediag" / "metrics.json", case["scalediag_run"]["seconds"])
        peers = {t: case["verdicts"][t] for t in PEERS if t in case["verdicts"]}
        early = _preflight_judged(root / name / PREFLIGHT / "metrics.json",
                                  (case["verdicts"].get(PREFLIGHT) or {}).get("seconds") or 0.0)
        case["verdicts"] = {**own.pop("verdicts"), PREFLIGHT: early, **peers}
    cases = kept["cases"]
    tools, held_out, families = _scores(cases)
    _print(cases, tools, held_out, families)
    return {**kept, "tools": tools, "held_out": held_out, "families": families, "median_seconds": _medians(cases),
            "rescored": {"records": str(root), "at": time.strftime("%Y-%m-%d %H:%M"),
                         "why": "the rules changed after the run; the same records judged again"}}


def programs_suite(args) -> dict:
    if getattr(args, "rescore", None):
        return rescore(args)
    names = [n for n in PROGRAMS if not args.only or n in args.only.split(",")]
    unknown = set(args.only.split(",")) - set(PROGRAMS) if args.only else set()
    if unknown:
        raise SystemExit(f"bench programs: no such program: {', '.join(sorted(unknown))}")
    out = Path(tempfile.mkdtemp(prefix="scalediag-bench-programs-"))
    env = {**os.environ, "PROGRAMS_FRACTION": str(args.fraction), "OMP_NUM_THREADS": "1",
           "SCALEDIAG_TEST_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    jobs = [(name, tool) for name in names for tool in ("scalediag", PREFLIGHT, *PEERS)]
    print(f"{len(names)} programs x {2 + len(PEERS)} tools = {len(jobs)} runs into {out}, 2 at a time", flush=True)
    start = time.perf_counter()
    results: dict[tuple[str, str], dict] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {pool.submit(_job, tool, name, out, env): (name, tool) for name, tool in jobs}
        for i, future in enumerate(as_completed(futures), 1):
            key = futures[future]
            results[key] = future.result()
            print(f"[{i}/{len(jobs)}] {key[0]} / {key[1]}: {results[key]['seconds']:.1f} s", flush=True)
    wall = time.perf_counter() - start
    cases = []
    for name in names:
        program, own = PROGRAMS[name], results[(name, "scalediag")]
        found = dict(own.pop("verdicts"))
        for tool in (PREFLIGHT, *PEERS):
            found[tool] = results[(name, tool)]
        cases.append({"program": name, "family": program.family, "data": program.data,
                      "optimizer": program.optimizer, "causes": list(program.causes),
                      "locations": _locations(program), "held_out": program.held_out, "scalediag_run": own,
                      "task_family": program.task_family, "args": list(program.args), "verdicts": found})
    tools, held_out, families = _scores(cases)
    _print(cases, tools, held_out, families)
    traincheck = {"installed": traincheck_probe.available()}
    if traincheck["installed"] and not args.only:
        print("\nTrainCheck: its reference trace and invariants on one healthy program (traincheck_probe.py)",
              flush=True)
        traincheck.update(traincheck_probe.probe(PROGRAMS_DIR, env))
        print(json.dumps(traincheck, indent=1))
    return {"traincheck": traincheck, "held_out": held_out, "families": families,
            "what": f"program benchmark: {len(names)} plain PyTorch programs, scalediag and its peers on each",
            "tools": tools, "cases": cases, "wall_seconds": wall, "fraction": args.fraction,
            "peer_rules": {f"{t} {r}": {"location": loc, "counted": c, "why": why}
                           for (t, r), (loc, c, why) in PEER_RULES.items()},
            "seconds": {t: sum((c["verdicts"].get(t) or {}).get("seconds") or 0 for c in cases)
                        for t in (PREFLIGHT, *PEERS)}
            | {"scalediag": sum(c["scalediag_run"]["seconds"] for c in cases)},
            "median_seconds": _medians(cases)}


def _medians(cases: list[dict]) -> dict:
    """Each tool's median seconds per program to its verdict (whole processes), and the pre-flight's median share of
    the full run's time, per program."""
    import statistics

    per = {t: [s for c in cases if (s := (c["verdicts"].get(t) or {}).get("seconds"))] for t in (PREFLIGHT, *PEERS)}
    per["scalediag"] = [c["scalediag_run"]["seconds"] for c in cases]
    out = {t: statistics.median(v) for t, v in per.items() if v}
    shares = [c["verdicts"][PREFLIGHT]["seconds"] / c["scalediag_run"]["seconds"] for c in cases
              if (c["verdicts"].get(PREFLIGHT) or {}).get("seconds") and c["scalediag_run"]["seconds"]]
    if shares:
        out["preflight_share_of_full_run"] = statistics.median(shares)
    return out


def _mark(case: dict, tool: str) -> str:
    if not case["locations"]:
        return "ALARM" if _said(case, tool) else "ok"
    return "named" if _case_named(case, tool) else "seen" if _said(case, tool) else "--"


def _print(cases: list[dict], tools: dict, held_out: dict, families: dict) -> None:
    print(f"\n{'program':36s} {'expected':22s} " + " ".join(f"{t[:13]:>13s}" for t in TOOLS) + "  scalediag's cause")
    for c in cases:
        cells = [_mark(c, t) for t in TOOLS]
        expected = (f"round {c['held_out']}: " if c["held_out"] else "") + ("/".join(c["causes"]) or "healthy")
        print(f"{c['program'][:36]:36s} {expected[:22]:22s} " + " ".join(f"{x:>13s}" for x in cells)
              + f"  {(c['verdicts'].get('scalediag') or {}).get('cause', '?')}")
    for title, scores in ((f"written before round {HELD_OUT}", tools), (f"held out: round {HELD_OUT}", held_out),
                          ("task families (tests/programs/)", families)):
        if not any(s["faulty"] + s["healthy"] for s in scores.values()):
            continue
        print(f"\n{title}\n{'tool':14s} faulty healthy detected named false_alarms")
        for t, s in scores.items():
            print(f"{t:14s} {s['faulty']:6d} {s['healthy']:7d} {s['detected']:8d} {s['named']:5d} "
                  f"{s['false_alarms']:12d}")
