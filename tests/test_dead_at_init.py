"""dead_at_init, the first cause added as one module (explain/causes/dead_at_init.py) with nothing else changed:
a hidden layer dead for every probe sample before any step, with the weights at their design scale."""

import torch
from torch import nn

from scalediag.explain import chain
from scalediag.explain.causes import CAUSES, ORDER, said
from test_causes import healthy
from watched_loop import loop


def _dead_at_init(run, dead=1.0, mean=-5.0, later=None):
    run["init"].update({"act/fc1/dead_fraction": dead, "act/fc1/preact_mean": mean})
    for h in run["history"]:
        h["diag"]["act/fc1/dead_fraction"] = dead if later is None else later
    return run


def failing(run):
    run["history"] = [{**h, "train_loss": 2.30} for h in run["history"]]
    run["final"].update(train_loss=2.30, test_acc=0.10)
    return run


def test_registered_in_its_place_with_its_declarations():
    cause = CAUSES["dead_at_init"]
    assert (cause.location, cause.fix) == ("init", "model")
    assert ORDER.index("bad_init") < ORDER.index("dead_at_init") < ORDER.index("dead_units")


def test_a_layer_dead_at_init_in_a_failing_run_is_the_cause_and_its_dead_units_the_consequence():
    run = failing(_dead_at_init(healthy()))
    d = chain.explain(run)
    assert d.cause == "dead_at_init"
    assert "fc1: 100% of its units are dead for every probe sample at initialisation" in d.causes[0].evidence
    assert "centred far below 0 (mean -5" in d.causes[0].evidence
    assert [f.rule for f in d.consequences] == ["dead_units"]  # no longer a cause of its own
    assert d.causes[0].found.closeness > 1


def test_silent_below_its_threshold_on_a_run_that_learns_and_on_zero_initialised_weights():
    assert said("dead_at_init", failing(_dead_at_init(healthy(), dead=0.5))) is None  # another cause's 0.5
    assert said("dead_at_init", _dead_at_init(healthy(), later=0.1)) is None  # it learned: loss 0.29
    run = failing(_dead_at_init(healthy()))
    run["init"]["weights/fc1/gain"] = 0.0  # zero init: bad_init's, which the chain tries first
    assert said("dead_at_init", run) is None and chain.explain(run).cause == "bad_init"


def _train(out, bias):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 4))
    nn.init.constant_(model[0].bias, bias)
    # 4 epochs, 64 steps: past the 50 under which a run is too short to judge (facts.SHORT_STEPS)
    return loop(out, model, torch.optim.SGD(model.parameters(), lr=0.1), epochs=4)


def test_a_bias_initialised_at_minus_5_is_named_and_its_twin_at_0_is_not(tmp_path):
    bug, twin = _train(tmp_path / "bug", -5.0), _train(tmp_path / "twin", 0.0)
    assert chain.explain(bug).cause == "dead_at_init", chain.explain(bug).causes
    assert "dead_at_init" not in chain.explain(twin).ids
