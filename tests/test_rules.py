"""Each diagnosis rule fires on crafted metrics, names its number and threshold, and stays silent on a healthy run."""

import copy

import pytest

from scalediag.explain import rules as d


def healthy(name="divisor=255", divisor=255, loss="cross_entropy", seed=0, train=(0.50, 0.38, 0.34, 0.31, 0.29)):
    diag = {"act/fc1/dead_fraction": 0.1, "probs/clipped_fraction": 0.0, "update/fc1/ratio": 2e-3,
            "update/fc2/ratio": 1e-3, "logits/max": 18.0, "logits/min": -19.0}
    return {
        "name": name, "status": "completed",
        "config": {"divisor": divisor, "seed": seed, "loss": {"name": loss},
                   "optimizer": {"_target_": "scalediag.run.optim.KerasAdam", "lr": 1e-3, "eps": 1e-7}},
        "init": {"loss/init": 2.45, "logits/min": -1.8, "logits/max": 2.2, "act/fc1/preact_std": 0.59,
                 "act/fc1/dead_fraction": 0.0},
        "history": [{"epoch": i + 1, "train_loss": t, "test_loss": t + 0.05, "diag": dict(diag)}
                    for i, t in enumerate(train)],
        "final": {"train_loss": train[-1], "never_predicted": 0},
    }


def rules(findings):
    return [f.rule for f in findings]


def test_a_healthy_run_has_no_finding_and_says_so():
    run = healthy()
    assert d.diagnose(run) == []
    assert d.healthy_summary(run).startswith("healthy: nothing abnormal (initial loss 2.45")


def test_initial_loss_far_above_ln10():
    run = healthy()
    run["init"].update({"loss/init": 850.0, "logits/max": 1200.0, "logits/min": -300.0})
    (f,) = d.init_loss(run)
    assert f.value == 850.0 and f.threshold == pytest.approx(4.605, abs=1e-3)
    assert "max |logit| 1.2e+03" in f.message and "ln(10) = 2.303" in f.message
    run["init"]["loss/init"] = 4.0
    assert d.init_loss(run) == []


def test_preactivation_scale():
    run = healthy(divisor=1)
    run["init"]["act/fc1/preact_std"] = 150.0
    (f,) = d.preact_scale(run)
    assert (f.value, f.threshold) == (150.0, 10.0) and "divisor 1" in f.message
    run["init"]["act/fc1/preact_std"] = 9.0
    assert d.preact_scale(run) == []


def test_dead_units_with_the_epoch_they_crossed():
    run = healthy()
    for h, f in zip(run["history"], (0.2, 0.55, 0.7, 0.72, 0.7)):
        h["diag"]["act/fc1/dead_fraction"] = f
    (f,) = d.dead_units(run)
    assert f.value == 0.72 and "first above it at epoch 2 (55%)" in f.message and "threshold 50%" in f.message
    assert d.dead_units(healthy()) == []


def test_clip_plateau_for_the_clamped_loss():
    run = healthy(divisor=1, loss="keras_clipped", train=(14.52, 14.506, 14.506, 14.506, 14.506))
    run["history"][-1]["diag"]["probs/clipped_fraction"] = 0.9
    run["final"]["never_predicted"] = 9
    (f,) = d.clipped(run)
    assert f.rule == "clip_plateau" and f.value == 0.9 and f.threshold == 0.05
    assert "loss plateau at 14.506 = clipped fraction 0.900 x 16.118 (= 14.506)" in f.message
    assert "no gradient" in f.message and "9 of the 10 classes" in f.message


def test_many_clipped_samples_under_the_exact_loss_are_overconfident_not_a_plateau():
    run = healthy(divisor=1, train=(3.4, 0.68, 0.57, 0.54, 0.52))
    run["history"][-1]["diag"]["probs/clipped_fraction"] = 0.08
    (f,) = d.clipped(run)
    assert f.rule == "overconfident" and "still passes them a gradient" in f.message


def test_update_ratio_outside_the_healthy_range():
    run = healthy()
    run["history"][-1]["diag"].update({"update/fc1/ratio": 3e-5, "update/fc2/ratio": 0.05})
    found = d.update_ratio(run)
    assert [(f.value, f.threshold) for f in found] == [(3e-5, 1e-4), (0.05, 1e-2)]
    assert found[0].message.startswith("Adam's steps are too small for the weights of a layer") and \
        "last epoch fc1 3e-05 (healthy range" in found[0].message and "too large" in found[1].message
    run["config"]["optimizer"] = {"_target_": "torch.optim.sgd.SGD", "lr": 0.1}  # a watched SGD run
    assert d.update_ratio(run)[0].message.startswith("SGD's steps are too small")


def test_update_ratio_names_every_layer_once_in_one_finding():
    """A deep stack's layers that are all too slow are one finding; a layer named only by its index gets its class."""
    run = healthy()
    run["history"][-1]["diag"].update({"update/fc1/ratio": 3e-5, "update/fc2/ratio": 2e-6, "update/0/ratio": 0.0})
    run["config"]["model"] = {"kinds": {"0": "Linear", "fc1": "Linear"}}
    still, small = d.update_ratio(run)
    assert still.message.startswith("0 (Linear): its weights did not move")
    assert (small.value, small.threshold) == (2e-6, 1e-4)
    assert "of 2 layers: ||dw||/||w|| per step in the last epoch fc1 3e-05, fc2 2e-06" in small.message


def test_runs_without_diagnostics_are_not_misread():
    run = healthy()
    run["init"] = None
    for h in run["history"]:
        del h["diag"]
    assert d.diagnose(copy.deepcopy(run)) == []


def test_the_plateau_rule_follows_the_run_s_clip_eps():
    """A run clamped at 1e-4 sits at clipped fraction x -ln(1e-4) = x 9.210, not at Keras' x 16.118."""
    run = healthy(divisor=1, loss="keras_clipped", train=(8.4, 8.289, 8.289, 8.289, 8.289))
    run["config"]["loss"]["clip_eps"] = 1e-4
    run["history"][-1]["diag"]["probs/clipped_fraction"] = 0.9
    (f,) = d.clipped(run)
    assert f.rule == "clip_plateau"
    assert "clipped fraction 0.900 x 9.210 (= 8.289)" in f.message and "p_true < 1e-4" in f.message
    run["config"]["loss"]["clip_eps"] = 1e-7  # the same numbers under Keras' clamp: 0.9 x 16.118 = 14.5, no plateau
    assert [g.rule for g in d.clipped(run)] != ["clip_plateau"]


def test_update_ratio_rule_reads_every_layer_of_the_run():
    run = healthy()
    run["history"][-1]["diag"].update({"update/fc3/ratio": 0.5, "update/fc10/ratio": 1e-3})
    (f,) = d.update_ratio(run)
    assert f.message.startswith("Adam's steps are too large") and "epoch fc3 0.5 (healthy" in f.message


def _with_adam(run, eps=1.0, share=0.97, median=0.004, lr=1e-3):
    run["config"]["optimizer"] = {"eps": eps, "lr": lr}
    run["history"][-1]["diag"].update({"adam/fc1/eps_fraction": share, "adam/fc1/sqrt_v_median": median,
                                       "adam/fc2/eps_fraction": 0.2, "adam/fc2/sqrt_v_median": 2.0})
    return run


def test_eps_dominates_names_the_share_the_median_and_what_follows():
    (f,) = d.eps_dominates(_with_adam(healthy(divisor=1000)))
    assert (f.rule, f.value, f.threshold) == ("eps_dominates", 0.97, 0.5)
    assert f.message.startswith("Adam's eps 1 exceeds the sqrt(v) term it is added to for 97% of fc1's (median "
                                "sqrt(v) 0.004) weights (threshold 50%)")
    assert "fc2" not in f.message and "learning rate lr/eps = 0.001" in f.message
    assert d.eps_dominates(_with_adam(healthy(), eps=1e-7, share=0.01)) == []
    assert d.eps_dominates(healthy()) == []  # no Adam statistics recorded: nothing to say


def test_eps_over_vanished_gradients_is_not_blamed_on_eps():
    """A layer stuck at the clip gets no gradient: its sqrt(v) decays towards 0, below any eps."""
    run = _with_adam(healthy(divisor=1, loss="keras_clipped"), eps=1e-7, share=0.58, median=0.0)
    (f,) = d.eps_dominates(run)
    assert f.rule == "no_gradient" and f.message.startswith("fc1: Adam's sqrt(v) has decayed to a median of 0")
    assert "eps is not the cause" in f.message


def test_saturated_units_of_a_saturating_activation_with_the_epoch_crossed():
    run = healthy(divisor=1)
    run["config"]["model"] = {"activation": "tanh"}
    for h, share in zip(run["history"], (0.3, 0.62, 0.8, 0.85, 0.84)):
        h["diag"].update({"act/fc1/saturated_fraction": share, "act/fc1/dead_fraction": 0.4})
    (f,) = d.saturated_units(run)
    assert (f.rule, f.value, f.threshold) == ("saturated", 0.85, 0.5)
    assert f.message.startswith("fc1: tanh is saturated for 85% of the (sample, unit) pairs on the probe set")
    assert "first above it at epoch 2 (62%)" in f.message and "40% of the units for every sample" in f.message
    run["config"]["model"] = {"activation": "relu"}  # half of a ReLU's pairs are zero by design: not a finding
    assert d.saturated_units(run) == [] and d.saturated_units(healthy()) == []


def test_gradients_vanishing_across_layers():
    run = healthy(divisor=1)
    run["history"][-1]["diag"].update({"grad/fc1/output_rms": 2.5e-5, "grad/fc2/output_rms": 4.8e-3})
    (f,) = d.gradient_flow(run)
    assert f.rule == "gradient_flow" and f.value == pytest.approx(2.5e-5 / 4.8e-3) and f.threshold == 0.05
    assert f.message.startswith("gradients vanish towards the input: the RMS of the loss gradient at fc1's output is "
                                "0.0052 x that at fc2's")
    run["history"][-1]["diag"].update({"grad/fc1/output_rms": 1e-3, "grad/fc2/output_rms": 3.9e-3})  # healthy: 0.26
    assert d.gradient_flow(run) == [] and d.gradient_flow(healthy()) == []
