"""The causes' registry (explain/causes/): every cause declares what the chain, the report and the scoring read, and
the set is consistent. A cause left out of the order, without a title or with an edge to nothing fails here."""

import ast
from pathlib import Path

import pytest

from scalediag.explain import causes as registry
from scalediag.explain.causes import CAUSES, ORDER, Cause, Evidence, Threshold, check
from scalediag.explain.causes.base import FIXES, LOCATIONS
from scalediag.explain.rules import SYMPTOMS


def test_the_registry_is_consistent():
    assert check(SYMPTOMS) == []


def test_every_cause_has_a_place_in_the_order_once():
    assert sorted(ORDER) == sorted(CAUSES) and len(ORDER) == len(set(ORDER)) == len(CAUSES) >= 27


def test_the_order_keeps_each_declared_edge():
    pos = {c: i for i, c in enumerate(ORDER)}
    for c in CAUSES.values():
        assert all(pos[a] < pos[c.id] for a in c.after), c.id
        assert all(pos[c.id] < pos[e] for e in c.explains - {c.id}), c.id
    assert ORDER[-2:] == ("overfitting", "diverged")  # after_all: the consequences of any other cause


def test_symptom_ids_are_the_ones_the_rules_emit():
    """SYMPTOMS is the namespace check() holds the causes' signs against: exactly the Finding ids in the code."""
    emitted = set()
    for name in ("rules.py", "compare.py"):
        tree = ast.parse((Path(registry.__file__).parent.parent / name).read_text())
        emitted |= {n.args[0].value for n in ast.walk(tree) if isinstance(n, ast.Call)
                    and getattr(n.func, "id", None) == "Finding" and isinstance(n.args[0], ast.Constant)}
    assert emitted == SYMPTOMS


def test_check_names_what_a_broken_cause_lacks(monkeypatch):
    class Broken(Cause):
        id, fix, location = "broken", "nowhere", "the moon"
        after = ("no_such_cause",)
        signs = frozenset({"no_such_symptom"})
        LIMIT = Threshold(1.0, "")

    monkeypatch.setitem(CAUSES, "broken", Broken())
    problems = "\n".join(check(SYMPTOMS))
    for said in ("broken (", "no title", "fix 'nowhere'", "location 'the moon'", "unknown cause 'no_such_cause'",
                 "unknown symptom 'no_such_symptom'", "threshold LIMIT says nothing", "no test",
                 "without a place in the order: ['broken']"):
        assert said in problems, said


def test_a_cycle_of_edges_is_refused():
    class A(Cause):
        id, after = "a", ("b",)

    class B(Cause):
        id, after = "b", ("a",)

    with pytest.raises(RuntimeError, match="cycle among"):
        registry._order({"a": A(), "b": B()})


def test_declarations_are_within_their_vocabularies():
    assert {c.fix for c in CAUSES.values()} <= set(FIXES)
    assert {c.location for c in CAUSES.values()} - {None} <= set(LOCATIONS)
    assert [c.id for c in CAUSES.values() if c.location is None] == ["diverged"]  # a consequence, fixed elsewhere


def test_evidence_closeness_is_the_value_against_the_threshold_on_the_faults_side():
    assert Evidence("x", 0.2, 0.1).closeness == pytest.approx(2.0)  # above the threshold is the fault
    assert Evidence("x", 1e-5, 1e-4, above=False).closeness == pytest.approx(10.0)  # below it is
    assert Evidence("x").closeness is None


def test_a_threshold_is_a_number_with_its_healthy_spread():
    t = Threshold(2, "0 in healthy runs")
    assert t == 2 and t * 1.5 == 3.0 and f"{t}" == "2" and f"{t:.0%}" == "200%" and t.healthy == "0 in healthy runs"
    assert f"{Threshold(0.05, 'x')}" == "0.05"
    assert all(type(c).thresholds() for c in CAUSES.values() if c.id.startswith(("lr_", "input_", "bad_")))
