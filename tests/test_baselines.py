"""The three published rule sets on crafted records: each rule fires on its symptom, stays silent on a healthy run,
and points where its source says; the scoring counts what it should. Statistics they read, on hand-made tensors."""

import pytest
import torch

from scalediag.explain import baselines as b
from scalediag.explain.scoring import score, scalediag
from test_causes import healthy


def _epochs(run, **values):
    for h in run["history"]:
        h["diag"].update(values)


def _healthy():
    run = healthy()
    run["init"].update({"weights/fc1/var": 0.0022, "weights/fc2/var": 0.0145, "input/min": 0.0, "input/max": 1.0,
                        "act/fc1/preact_mean": 0.02})
    accs = (0.80, 0.84, 0.86, 0.87, 0.88)
    for h, acc in zip(run["history"], accs):
        h["test_acc"] = acc - 0.01
        h["diag"].update({"acc/probe": acc, "grad/fc1/zero_fraction": 0.1, "grad/fc2/zero_fraction": 0.0,
                          "grad/fc1/mean_abs": 1e-4, "grad/fc2/mean_abs": 1e-3, "act/fc1/rarely_active": 0.05,
                          "act/fc1/beyond_5": 0.0, "weights/fc1/var": 0.003, "weights/fc2/var": 0.02,
                          "act/fc1/preact_mean": 0.1, "weights/fc1/norm": 14.0, "weights/fc2/norm": 1.5})
    return run


@pytest.mark.parametrize("tool", ["autotrainer", "deepdiagnosis", "sagemaker"])
def test_a_healthy_run_raises_no_problem(tool):
    assert b.TOOLS[tool](_healthy()) == b.Verdict((), None)


def test_autotrainer_dying_relu_only_in_a_failing_run():
    run = _healthy()
    _epochs(run, **{"grad/fc1/zero_fraction": 0.75})
    assert b.autotrainer(run).problems == ()  # it converges: not reported
    for h in run["history"]:
        h["test_acc"], h["diag"]["acc/probe"] = 0.1, 0.1
    v = b.autotrainer(run)
    assert v.problems[0] == "dying_relu" and v.location == "activation" and "slow_convergence" in v.problems


def test_autotrainer_vanishing_and_exploding_from_the_gradient_rate():
    run = _healthy()
    for h in run["history"]:
        h["test_acc"] = 0.3
    _epochs(run, **{"grad/fc1/norm": 5e-5, "grad/fc2/norm": 0.1})  # rate 5e-4 < 1e-3, first norm < 1e-4
    assert "vanishing_gradient" in b.autotrainer(run).problems
    _epochs(run, **{"grad/fc1/norm": 8.0, "grad/fc2/norm": 0.1})  # rate 80 > 70
    assert "exploding_gradient" in b.autotrainer(run).problems


def test_autotrainer_oscillation_and_slow_convergence():
    run = _healthy()
    for h, acc in zip(run["history"], (0.5, 0.6, 0.5, 0.6, 0.5)):
        h["test_acc"] = acc
    assert "oscillating_loss" in b.autotrainer(run).problems
    for h in run["history"]:
        h["test_acc"], h["diag"]["acc/probe"] = 0.5, 0.5
    v = b.autotrainer(run)
    assert "slow_convergence" in v.problems and v.location == "optimizer"


def test_deepdiagnosis_symptoms_and_its_decision_list():
    run = _healthy()
    _epochs(run, **{"act/fc1/saturated_fraction": 0.75})  # ReLU outputs <= 0
    assert b.deepdiagnosis(run) == b.Verdict(("dead_node",), "activation")
    run["init"]["input/max"] = 255.0
    assert b.deepdiagnosis(run).location == "preprocessing"
    run["init"]["weights/fc1/var"] = 0.0
    v = b.deepdiagnosis(run)
    assert v.location == "init" and "numerical_error" not in v.problems  # a variance of 0 is not a zero mean
    run["init"]["act/fc1/preact_mean"] = 0.0  # zero init: a layer-mean output of exactly 0
    assert "numerical_error" in b.deepdiagnosis(run).problems


def test_deepdiagnosis_vanishing_saturation_unchanged_and_flat_loss():
    run = _healthy()
    _epochs(run, **{"grad/fc1/mean_abs": 5e-8})
    assert b.deepdiagnosis(run).problems == ("vanishing_gradient",)
    run = _healthy()
    run["config"]["model"]["activation"] = "tanh"
    _epochs(run, **{"act/fc1/beyond_5": 0.6})
    assert b.deepdiagnosis(run).problems == ("saturated_activation",)
    run = _healthy()
    _epochs(run, **{"update/fc1/ratio": 0.0, "update/fc2/ratio": 0.0})
    for h in run["history"]:
        h["train_loss"] = 2.3
    v = b.deepdiagnosis(run)
    assert v.problems == ("unchanged_weights", "loss_not_decreasing") and v.location == "lr"  # ratio 0 < 1e-5


def test_sagemaker_rules():
    run = _healthy()
    _epochs(run, **{"act/fc1/rarely_active": 0.6})
    assert b.sagemaker(run) == b.Verdict(("DeadRelu",), "activation")
    run = _healthy()
    run["init"]["weights/fc2/var"] = 0.03  # 13.6x fc1's
    assert b.sagemaker(run) == b.Verdict(("PoorWeightInitialization",), "init")
    run = _healthy()
    run["early"]["1"]["update/fc1/ratio"] = 20.0
    assert b.sagemaker(run) == b.Verdict(("WeightUpdateRatio",), "lr")
    run = _healthy()
    _epochs(run, **{"grad/fc2/mean_abs": 1e-8})
    assert b.sagemaker(run) == b.Verdict(("VanishingGradient",), None)  # detection only
    run = _healthy()
    run["status"] = "diverged"
    assert "ExplodingTensor" in b.sagemaker(run).problems


def test_scoring_counts_detected_located_and_false_alarms():
    def case(fault, accepts, **found):
        verdicts = {t: {"problems": [], "location": None} for t in ("scalediag", *b.TOOLS)}
        verdicts.update({t: {"problems": ["x"], "location": loc} for t, loc in found.items()})
        return {"fault": fault, "accepts": accepts, "verdicts": verdicts}

    cases = [case("lr 1", ["lr"], scalediag="lr", autotrainer="activation", sagemaker=None),
             case("zero init", ["init"], scalediag="init", deepdiagnosis="init"),
             case(None, [], autotrainer="optimizer")]
    s = score(cases)
    assert s["scalediag"] == {"faulty": 2, "healthy": 1, "detected": 2, "located": 2, "false_alarms": 0}
    assert s["autotrainer"] == {"faulty": 2, "healthy": 1, "detected": 1, "located": 0, "false_alarms": 1}
    assert s["sagemaker"]["detected"] == 1 and s["sagemaker"]["located"] == 0
    assert s["deepdiagnosis"]["located"] == 1


def test_scalediag_s_verdict_is_its_cause_s_location():
    run = _healthy()
    assert scalediag(run) == b.Verdict((), None)
    run["init"].update({"act/fc1/preact_std": 150.0, "input/rms": 115.0})
    assert scalediag(run).location == "preprocessing"


def test_the_unit_statistics_the_rule_sets_read():
    from scalediag.measure.stats import rule_unit_stats

    z = torch.full((200, 4), -1.0)
    z[:1, 0] = 1.0  # unit 0 active for 0.5% of the samples: rarely active
    z[:10, 1] = 1.0  # unit 1 for 5%
    z[:, 2] = 6.0  # unit 2 always, beyond 5
    found = rule_unit_stats(z, "relu")
    assert found["rarely_active"].item() == pytest.approx(2 / 4)  # units 0 and 3
    assert found["beyond_5"].item() == pytest.approx(1 / 4)
    tanh = rule_unit_stats(torch.full((200, 2), 10.0), "tanh")
    assert tanh["smd_saturated"].item() == 1.0 and "smd_saturated" not in found


def test_gradient_zero_share_and_mean_abs_on_the_probe_set_leave_grad_alone():
    from scalediag.measure.hooks import Diagnostics

    model = torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    model[0].weight.grad = torch.full((2, 3), 7.0)  # what the training loop left
    x = torch.tensor([[1.0, 0.0, 2.0]])

    def loss_fn(out, target, reduction):  # d/dW of sum(W x) is x for each row: [[1, 0, 2], [1, 0, 2]]
        return out.sum()

    with Diagnostics(model) as diag:
        stats = diag.gradients(x, None, loss_fn)
    assert stats["grad/0/zero_fraction"].item() == pytest.approx(2 / 6)
    assert stats["grad/0/mean_abs"].item() == pytest.approx(6 / 6)
    assert torch.equal(model[0].weight.grad, torch.full((2, 3), 7.0)) and model.training
