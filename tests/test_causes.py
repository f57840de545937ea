"""Each cause fires on a crafted record, with its numbers, and stays silent on a healthy one; the primary cause is the
upstream one and the symptoms it explains are its consequences; on small runs each fault knob gets its cause."""

import csv
import json

import pytest

from conftest import fake_sweep
from scalediag.explain import chain
from scalediag.explain.causes import CAUSES, said


def healthy():
    """A record as a healthy default run leaves it (numbers of the README's /255 runs)."""
    diag = {"act/fc1/dead_fraction": 0.1, "act/fc1/saturated_fraction": 0.1, "probs/clipped_fraction": 0.0,
            "update/fc1/ratio": 2e-3, "update/fc2/ratio": 1e-3, "grad/fc1/norm": 0.05, "grad/fc2/norm": 0.1,
            "grad/fc1/output_rms": 0.004, "grad/fc2/output_rms": 0.01, "acc/probe": 0.90,
            "adam/fc1/eps_fraction": 0.0, "adam/fc1/sqrt_v_median": 1e-3}
    early = {str(s): {"loss/train_step": 2.3 - 0.05 * s, "update/fc1/ratio": 0.02 / s ** 0.5,
                      "update/fc2/ratio": 0.008, "weights/fc1/norm": 13.0, "weights/fc2/norm": 1.4,
                      "grad/fc1/output_rms": 0.004, "grad/fc2/output_rms": 0.01} for s in (1, 2, 4, 8, 16, 32)}
    return {
        "name": "healthy", "status": "completed",
        "config": {"divisor": 255, "seed": 0, "loss": {"name": "cross_entropy", "clip_eps": 1e-7},
                   "model": {"activation": "relu"}, "optimizer": {"lr": 1e-3, "eps": 1e-7}},
        "init": {"loss/init": 2.45, "logits/min": -1.8, "logits/max": 2.2, "logits/sum_dev": 4.0,
                 "act/fc1/preact_std": 0.59, "act/fc1/dead_fraction": 0.0, "input/rms": 0.45,
                 "weights/fc1/gain": 1.31, "weights/fc2/gain": 1.36, "weights/fc1/norm": 13.0},
        "early": early,
        "history": [{"epoch": i + 1, "train_loss": t, "test_loss": t + 0.05, "diag": dict(diag)}
                    for i, t in enumerate((0.50, 0.38, 0.34, 0.31, 0.29))],
        "final": {"train_loss": 0.29, "test_loss": 0.34, "test_acc": 0.87, "never_predicted": 0},
    }


def last(run):
    return run["history"][-1]["diag"]


def test_a_healthy_record_has_no_cause():
    run = healthy()
    d = chain.explain(run)
    assert (d.cause, d.ids, d.causes) == ("healthy", "healthy", [])
    assert not any(said(i, run) for i in CAUSES)
    assert chain.run_text(run).startswith("- healthy: nothing abnormal (initial loss 2.45")


def test_double_softmax_from_outputs_that_are_already_probabilities():
    run = healthy()
    run["init"].update({"logits/min": 0.008, "logits/max": 0.38, "logits/sum_dev": 2e-7})
    run["final"]["train_loss"] = 1.62
    d = chain.explain(run)
    assert d.cause == "double_softmax"
    assert "cannot fall below 1.46" in d.causes[0].evidence and "(final training loss 1.620)" in d.causes[0].evidence
    run["init"]["logits/sum_dev"] = 0.01  # in [0, 1] but not rows of probabilities
    assert said("double_softmax", run) is None


@pytest.mark.parametrize("gains, loss, expected", [((0.0, 0.0), 2.303, "all units identical"),
                                                   ((14.1, 5.69), 0.79, "fc1 14.1, fc2 5.69")])
def test_bad_init_from_weights_off_their_design_scale(gains, loss, expected):
    run = healthy()
    run["init"].update({"weights/fc1/gain": gains[0], "weights/fc2/gain": gains[1], "loss/init": 34.0})
    run["final"]["train_loss"] = loss
    d = chain.explain(run)
    assert d.cause == "bad_init" and expected in d.causes[0].evidence
    assert "inputs in range (RMS 0.45)" in d.causes[0].evidence
    run["init"].update({"weights/fc1/gain": 3.5, "weights/fc2/gain": 1.36})  # 2.7x Glorot: still within
    assert said("bad_init", run) is None


def test_bad_init_needs_harm():
    run = healthy()
    run["init"]["weights/fc2/gain"] = 5.0  # large, but the initial loss is fine and the run learns
    assert said("bad_init", run) is None


@pytest.mark.parametrize("std, rms, way", [(150.0, 115.0, "large"), (0.0015, 0.00115, "small")])
def test_input_scale_from_pre_activations_off_scale_with_weights_at_theirs(std, rms, way):
    run = healthy()
    run["init"].update({"act/fc1/preact_std": std, "input/rms": rms})
    d = chain.explain(run)
    assert d.cause == "input_scale" and f"inputs too {way} (RMS {rms:.3g}" in d.causes[0].evidence
    assert f"start with std {std:.3g}" in d.causes[0].evidence
    run["init"]["weights/fc1/gain"] = 0.0  # the weights are off too: then it is the initialisation's fault
    assert said("input_scale", run) is None
    run["init"].update({"weights/fc1/gain": 1.31, "act/fc1/preact_std": 0.15})  # divisor 1000: within
    assert said("input_scale", run) is None


def test_label_noise_from_agreeing_more_with_the_test_labels():
    run = healthy()
    last(run)["acc/probe"] = 0.552
    run["final"].update({"test_acc": 0.833, "train_loss": 1.72})
    d = chain.explain(run)
    assert d.cause == "label_noise" and "about 38% of the training labels look random" in d.causes[0].evidence
    last(run)["acc/probe"] = 0.80  # a gap of 0.033: within the probe set's noise
    assert said("label_noise", run) is None


def test_eps_dominates_and_the_small_steps_it_causes():
    run = healthy()
    run["config"]["optimizer"]["eps"] = 1.0
    last(run).update({"adam/fc1/eps_fraction": 1.0, "adam/fc1/sqrt_v_median": 0.0037, "update/fc1/ratio": 3.2e-5,
                      "update/fc2/ratio": 6.1e-5})
    run["final"]["train_loss"] = 0.99
    d = chain.explain(run)
    assert d.cause == "eps_dominates" and [x.id for x in d.causes] == ["eps_dominates", "lr_too_low"]
    assert "as a result: learning rate too small" in chain.run_text(run)


def test_lr_too_high_from_a_rising_loss_or_huge_early_steps_in_a_failing_run():
    run = healthy()
    run["early"]["4"]["loss/train_step"] = 7491.0
    assert "rose from 2.45 at init to 7491 (step 4)" in said("lr_too_high", run)
    run = healthy()
    run["early"]["1"]["update/fc1/ratio"] = 0.999
    assert said("lr_too_high", run) is None  # large first steps in a run that learns: Adam at lr 1e-2, say
    run["final"].update({"train_loss": 2.42, "test_acc": 0.1})
    last(run)["act/fc1/dead_fraction"] = 1.0
    d = chain.explain(run)
    assert d.cause == "lr_too_high" and "||dw||/||w|| = 0.999 (fc1, step 1; threshold 0.1" in d.causes[0].evidence
    assert any("100% of the hidden ReLUs are dead" in f.message for f in d.consequences)
    assert "dead_units" in d.ids and not [f for f in d.others if f.rule == "dead_units"]


def test_lr_too_high_ignores_the_ratio_of_weights_that_are_all_zero():
    run = healthy()
    run["early"]["1"].update({"update/fc1/ratio": None, "weights/fc1/norm": 0.0})  # 0/0, written as null
    run["final"]["train_loss"] = 2.3
    assert said("lr_too_high", run) is None


def test_lr_too_low_needs_a_gradient_and_a_loss_still_high():
    run = healthy()
    last(run).update({"update/fc1/ratio": 5.2e-5, "update/fc2/ratio": 2.8e-5})
    assert said("lr_too_low", run) is None  # final training loss 0.29: converged, small steps are fine
    run["final"]["train_loss"] = 0.858
    d = chain.explain(run)
    assert d.cause == "lr_too_low" and "fc1 5.2e-05, fc2 2.8e-05" in d.causes[0].evidence
    assert "the training loss is still 0.858 (above 0.46" in d.causes[0].evidence
    last(run).update({"update/fc1/ratio": 0.0, "update/fc2/ratio": 0.0})  # no step at all: no gradient
    assert said("lr_too_low", run) is None
    assert "did not move in the last epoch (||dw||/||w|| = 0): no gradient reaches them" in chain.run_text(run)


def test_probability_clip_behind_inputs_off_scale():
    """The question's divisor 1 with Keras' clamped loss: input_scale first, the plateau as its consequence."""
    run = healthy()
    run["config"]["loss"]["name"] = "keras_clipped"
    run["init"].update({"act/fc1/preact_std": 150.0, "input/rms": 115.0, "loss/init": 15.1})
    last(run)["probs/clipped_fraction"] = 0.808
    run["final"].update({"train_loss": 12.906, "test_acc": 0.19})
    d = chain.explain(run)
    assert (d.cause, d.ids) == ("input_scale", "input_scale;probability_clip")
    text = chain.run_text(run).splitlines()
    assert text[0].startswith("- **cause: inputs off the scale the weights were initialised for** (input_scale)")
    assert any(line.startswith("- as a result: loss plateau at 12.906") for line in text)
    run["init"].update({"act/fc1/preact_std": 0.59, "input/rms": 0.45})  # nothing upstream: the clip itself
    assert chain.explain(run).cause == "probability_clip"


def _deep(run, rms):
    for i, v in enumerate(rms, start=1):
        run["early"]["1"][f"grad/fc{i}/output_rms"] = v
        run["early"]["1"][f"update/fc{i}/ratio"] = 2e-3
        run["early"]["1"][f"weights/fc{i}/norm"] = 1.0


def test_vanishing_gradient_layer_by_layer_at_an_early_step():
    run = healthy()
    _deep(run, [3.4e-8 * 4.3 ** i for i in range(9)])  # the 8-layer sigmoid MLP at step 1
    d = chain.explain(run)
    assert d.cause == "vanishing_gradient" and "over 9 layers: at step 1" in d.causes[0].evidence
    run = healthy()
    _deep(run, [1e-4, 1e-2, 1e-3, 1e-2, 1e-4, 1e-2, 1e-3, 1e-2, 1e-1])  # small at fc1, but not shrinking steadily
    assert said("vanishing_gradient", run, []) is None


def test_a_vanishing_gradient_is_said_once():
    """The cause quotes the first/last gradient ratio; the symptom with the same ratio is not listed under it."""
    run = healthy()
    _deep(run, [3.4e-8 * 4.3 ** i for i in range(9)])
    for i in range(1, 10):
        last(run)[f"grad/fc{i}/output_rms"] = 3.4e-8 * 4.3 ** (i - 1)
    text = chain.run_text(run)
    assert text.startswith("- **cause: vanishing gradient**") and "gradients vanish towards the input" not in text


def test_a_run_that_learned_with_findings_still_gets_a_verdict():
    """A converged SGD run whose last steps are small: no cause, a healthy verdict first, then the findings."""
    run = healthy()
    last(run).update({"update/fc1/ratio": 5.2e-5, "update/fc2/ratio": 2.8e-5})
    lines = chain.run_text(run).splitlines()
    assert chain.explain(run).cause == "healthy"
    assert lines[0].startswith("- healthy: the run learned and no cause holds (initial loss 2.45")
    assert lines[0].endswith("without harm to the run:") and "steps are too small" in lines[1]


def test_a_shallow_failing_network_s_small_gradient_is_not_vanishing():
    """Below 0.05 in a failing run counts over 4 layers or more: a 3-layer network that fails for another reason
    shrinks the gradient to 0.005-0.04 too (misaligned labels, cleared gradients, label noise in the program
    benchmark's held-out programs); below 1e-4 it has vanished at any depth."""
    run = healthy()
    run["final"]["train_loss"] = 2.3
    _deep(run, [0.0047, 0.03, 0.1])
    assert said("vanishing_gradient", run, []) is None
    _deep(run, [0.0047, 0.01, 0.03, 0.1])
    assert "over 4 layers" in said("vanishing_gradient", run, [])
    run = healthy()
    _deep(run, [5e-6, 1e-3, 0.1])
    assert "over 3 layers" in said("vanishing_gradient", run, [])


def test_saturation_and_dead_units_when_nothing_upstream_explains_them():
    run = healthy()
    run["config"]["model"]["activation"] = "sigmoid"
    for h in run["history"]:
        h["diag"]["act/fc1/saturated_fraction"] = 0.6
    assert chain.explain(run).cause == "saturation"
    run = healthy()
    for h in run["history"]:
        h["diag"]["act/fc1/dead_fraction"] = 0.7
    assert chain.explain(run).cause == "dead_units"


def test_a_divergence_gets_its_cause_where_the_evidence_shows_one():
    run = healthy()
    run.update(status="diverged", epoch=1, step=2, error="non-finite loss/train_step at step 2", history=[],
               final=None, early={"1": {"loss/train_step": 2.4, "update/fc1/ratio": None, "weights/fc1/norm": None}})
    d = chain.explain(run)
    assert d.cause == "lr_too_high" and "diverged" not in d.ids  # the divergence follows from it
    run["early"] = {}
    assert chain.explain(run).cause == "diverged"


@pytest.mark.parametrize("case, overrides, cause", [
    ("default", [], "healthy"),
    ("lr1", ["optimizer.lr=1"], "lr_too_high"),
    ("zeros", ["model.init=zeros"], "bad_init"),
    ("softmax", ["model.output=softmax"], "double_softmax"),
    ("noise", ["data.label_noise=0.4"], "label_noise"),
    ("div1", ["divisor=1"], "input_scale"),
])
def test_each_fault_knob_gets_its_cause_on_a_small_run(tmp_path, case, overrides, cause):
    sweep, p = fake_sweep(tmp_path, *overrides, "train.epochs=3", "diag.every_n_steps=4", "seed=0,1")
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert [r["cause"] for r in rows] == [cause, cause], [(r["causes"], r["findings"]) for r in rows]
    metrics = json.loads(next(sweep.rglob("metrics.json")).read_text())
    assert metrics["early"] and set(metrics["early"]) <= {"1", "2", "4", "8", "16", "32"}
    for key in ("model.init", "model.output", "data.label_noise"):
        group, name = key.split(".")
        assert name in metrics["config"][group]
