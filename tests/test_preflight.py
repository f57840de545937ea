"""`scalediag run --preflight` (#36): the script stopped after N optimizer steps, the bugs already visible named with
their lines and fix (exit 1), nothing found on the healthy twin (exit 0), the causes that need the whole run named
as such and never guessed from a loss that is merely still high."""

import pytest

from conftest import run_cli
from scalediag.explain.preflight import EARLY, LATER
from test_where import MARKED, SCRIPT

EARLY_BUGS = sorted({c for _, causes in MARKED for c in causes} & EARLY)


def _preflight(tmp_path, bug, *extra):
    return run_cli(["run", "--preflight", "--steps", "30", "--every", "4", "--dir", str(tmp_path / bug), *extra,
                    str(SCRIPT), bug], cwd=tmp_path)


@pytest.mark.parametrize("bug", EARLY_BUGS)
def test_a_bug_visible_in_the_first_steps_is_named_with_its_lines(bug, tmp_path):
    p = _preflight(tmp_path, bug)
    assert p.returncode == 1, p.stderr
    assert "where_bugs.py stopped after 30 optimizer steps in " in p.stderr
    first = next(line for line in p.stderr.splitlines() if line.startswith("- **"))
    assert f"({bug})" in first, p.stderr
    for n in (n for n, causes in MARKED if bug in causes):
        assert f"where_bugs.py:{n} `" in p.stderr
    assert "epoch 1:" not in p.stdout  # stopped within its second epoch (16 steps an epoch)


def test_the_healthy_twin_passes_and_the_later_causes_are_listed(tmp_path):
    p = _preflight(tmp_path, "none")
    assert p.returncode == 0, p.stderr
    assert "- nothing found in the first 30 steps: checked " in p.stderr and "- where:" not in p.stderr
    assert f"- needs the full run: {', '.join(LATER)}" in p.stderr
    assert p.stdout.splitlines()[0].startswith("epoch 0:") and "epoch 1:" not in p.stdout


def test_a_schedule_that_acts_later_is_not_guessed_early(tmp_path):
    """The learning rate falls below 1e-3 of its start by step 12 here, but whether that harms the run is the full
    run's to tell: the pre-flight names nothing and lists lr_schedule as needing it."""
    p = _preflight(tmp_path, "lr_schedule")
    assert p.returncode == 0 and "lr_schedule" in p.stderr.split("needs the full run:")[1]


def test_steps_go_with_preflight(tmp_path):
    p = run_cli(["run", "--steps", "30", str(SCRIPT)], cwd=tmp_path)
    assert p.returncode == 2 and p.stderr.strip() == "scalediag run: error: --steps N (N >= 1) goes with --preflight"


def test_a_script_shorter_than_the_preflight_is_judged_on_all_it_did(tmp_path):
    p = run_cli(["run", "--preflight", "--steps", "1000", "--every", "4", "--dir", str(tmp_path / "r"), str(SCRIPT),
                 "grad_cleared"], cwd=tmp_path)
    assert p.returncode == 1 and "where_bugs.py ended by itself after 64 optimizer steps" in p.stderr
    assert "(grad_cleared)" in p.stderr
    assert p.stdout.count("epoch ") == 4  # it ran to its end
