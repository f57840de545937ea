"""The program benchmark's harness (scripts/bench.py programs), on two of its programs and a quarter of their data, so
that it cannot rot: each program run under `scalediag run`, its verdicts scored as the benchmark scores them; the
peers' runs where the bench extra is installed."""

import importlib.util
import sys
from pathlib import Path

import pytest

from conftest import requires_real_data

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from benchmarks import programs_suite as suite  # noqa: E402

ENV = {"PROGRAMS_FRACTION": "0.25", "SCALEDIAG_TEST_THREADS": "1", "OMP_NUM_THREADS": "1"}
FAULTY, HEALTHY = "mlp_sgd_no_zero_grad", "mlp_adam_healthy"


def _case(name: str, verdicts: dict) -> dict:
    program = suite.PROGRAMS[name]
    return {"program": name, "causes": list(program.causes), "locations": suite._locations(program),
            "verdicts": verdicts}


def _env():
    import os

    return {**os.environ, **ENV}


def test_every_program_has_its_file_a_marked_bug_and_known_causes():
    from scalediag.explain.causes import CAUSES

    files = {p.stem for p in suite.PROGRAMS_DIR.glob("*.py")} - {"fmnist", "markers"}
    classifiers = {n: p for n, p in suite.PROGRAMS.items() if not p.task_family}
    assert files == set(classifiers)
    for name, program in classifiers.items():
        text = (suite.PROGRAMS_DIR / f"{name}.py").read_text()
        assert ("# BUG" in text) == program.faulty, name  # its bug marked in the code, none in a healthy program
        assert ("Held out" in text) == bool(program.held_out), name
        assert ("second round" in text) == (program.held_out == 2), name
        assert all(c in CAUSES for c in program.causes)
    main = [p for p in classifiers.values() if p.held_out < suite.HELD_OUT]
    assert sum(p.faulty for p in main) >= 30 and sum(not p.faulty for p in main) >= 10
    assert len({p.family for p in main}) >= 5 and len({p.optimizer for p in main}) >= 3
    assert len({p.data for p in main}) >= 2


def test_the_task_families_each_have_a_healthy_program_and_a_bug_made_by_its_arguments():
    """tests/programs/: one header line per variant, its arguments what the script reads from sys.argv; at least 8
    families, each with a healthy variant, and a bug variant for all but the autoencoder."""
    from scalediag.explain.causes import CAUSES

    families: dict[str, list] = {}
    for name, program in suite.PROGRAMS.items():
        if program.task_family:
            families.setdefault(program.family, []).append(program)
            text = program.path.read_text()
            assert all(f'"{a}" in sys.argv' in text or f'"{a}" not in sys.argv' in text for a in program.args), name
            assert name == "-".join([program.path.stem, *program.args]) and all(c in CAUSES for c in program.causes)
    assert len(families) >= 8
    assert all(any(not p.faulty for p in v) for v in families.values())
    assert sum(any(p.faulty for p in v) for v in families.values()) >= len(families) - 1


@requires_real_data
def test_a_faulty_and_a_healthy_program_scored_by_the_benchmark(tmp_path):
    cases = []
    for name in (FAULTY, HEALTHY):
        result = suite._scalediag(name, tmp_path, _env())
        assert result.get("error") is None, result.get("error")
        cases.append(_case(name, result["verdicts"]))
    assert cases[0]["verdicts"]["scalediag"]["cause"] == "grad_accumulation"
    assert cases[1]["verdicts"]["scalediag"]["cause"] == "healthy"
    scores = suite.score(cases)
    assert scores["scalediag"] == {"faulty": 1, "healthy": 1, "detected": 1, "named": 1, "false_alarms": 0,
                                   "cause_exact": 1}
    assert set(scores) == set(suite.TOOLS)
    # the pre-flight on the same program (a quarter of its data: 64 steps, under the pre-flight's 100)
    early = suite._preflight(FAULTY, tmp_path, _env())
    assert early["cause"] == "grad_accumulation" and early["steps"] <= 100, early
    assert suite._case_named(_case(FAULTY, {"preflight": early}), "preflight")


PEERS_MISSING = [t for t, module in (("torchtest2", "torchtest2"), ("torch-audit", "torch_audit"))
                 if importlib.util.find_spec(module) is None]


@requires_real_data
@pytest.mark.skipif(bool(PEERS_MISSING), reason=f"{', '.join(PEERS_MISSING)} not installed: the peers come with "
                                                "the bench extra (pip install -e '.[bench]')")
def test_the_peers_run_on_the_same_programs(tmp_path):
    # torchtest2 checks optimizer coverage: the head replaced after the optimizer was built is its to name
    name = "mlp_head_replaced_after_optimizer"
    tested = suite._peer("torchtest2", name, tmp_path, _env())
    assert tested["error"] is None and "optimizer_coverage" in tested["problems"], tested
    assert suite._case_named(_case(name, {"torchtest2": tested}), "torchtest2")
    audited = suite._peer("torch-audit", FAULTY, tmp_path, _env())
    assert audited["error"] is None and audited["findings"], audited
    for f in audited["findings"]:  # every rule the tool raised is in the table that maps rules to locations
        assert ("torch-audit", f["rule"]) in suite.PEER_RULES, f
