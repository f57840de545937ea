"""`scalediag run` on programs that are not classifiers with [samples, classes] outputs: a sequence-first language
model (a probe it cannot take), a policy gradient (a softmax policy, a loss written by hand), a VAE (a sigmoid
decoder, binary cross-entropy plus KL). Each ends as it does unwatched, leaves a record, and gets no cause whose
premise it lacks."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli

PROGRAMS = Path(__file__).parent / "programs"


def _both(tmp_path, name, *args, script_args=()):
    script = PROGRAMS / f"{name}.py"
    plain = subprocess.run([sys.executable, str(script), *script_args], capture_output=True, text=True, cwd=tmp_path)
    watched = run_cli(["run", "--dir", str(tmp_path / "run"), *args, str(script), *script_args], cwd=tmp_path)
    assert plain.returncode == 0 and watched.returncode == plain.returncode, watched.stderr
    assert watched.stdout == plain.stdout  # the script's own printed numbers, unchanged
    assert "Traceback" not in watched.stderr
    return watched, json.loads((tmp_path / "run" / "metrics.json").read_text())


def test_a_probe_that_cannot_be_taken_is_left_out_and_the_steps_still_measured(tmp_path):
    """A physics-informed network differentiates its own output inside forward: without autograd (the probe's
    evaluation) it cannot run. The probe is refused (a refusal used to end the watch, and turn exit 0 into 1: the
    labels' function mode was left twice); the steps are measured, and what was not is said, never 'healthy'."""
    p, record = _both(tmp_path, "pinn_ode")
    assert "measuring without a probe" in p.stderr and "not watching" not in p.stderr
    assert "does not require grad" in p.stderr and "\n" not in p.stderr.split("measuring without a probe")[1][:200]
    assert record["init"] is None and record["steps"] == 120 and {"1", "2", "4", "8"} <= set(record["early"])
    assert "no cause found in what was measured; not measured: the probe" in p.stderr
    assert "- healthy" not in p.stderr


def test_a_sequence_first_model_whose_scores_are_flattened_outside_is_probed_whole(tmp_path):
    """[T, B] tokens in, [T, B, V] log-probabilities out, flattened to [T*B, V] for nll_loss outside the model (it was
    refused: "output for 8 samples is [160, V]"): the first batch is probed whole, its scores flattened as the loss
    does, one label per row. 10 steps: too short to judge, and said so."""
    p, record = _both(tmp_path, "lm_sequence_first")
    assert record["init"] is not None and record["labels"]["classes"] == 50 and record["labels"]["samples"] == 160
    assert record["config"]["loss"]["name"] == "nll_loss" and "measuring without a probe" not in p.stderr
    assert "(too_short): 10 optimizer steps" in p.stderr


@pytest.mark.parametrize("name, premise, loss, task", [
    ("reinforce_bandit", "double_softmax", None, "unknown"),
    ("vae_bce", "output_activation", "binary_cross_entropy", "generative")])
def test_a_loss_that_applies_no_softmax_gets_no_softmax_cause(tmp_path, name, premise, loss, task):
    """A softmax policy feeding Categorical, a sigmoid decoder feeding binary_cross_entropy: their outputs are
    probabilities on purpose. Both were called double_softmax / output_activation when the record said
    cross_entropy for every watched run; the loss is now the one seen (a policy gradient's by hand: none), and the
    task it trains: the VAE's target is its own input, a reconstruction."""
    p, record = _both(tmp_path, name, "--epoch-steps", "16")
    assert (record["config"]["loss"]["name"], record["task"], record["labels"]) == (loss, task, None)
    assert f"- task: {task}" in p.stderr
    assert premise not in p.stderr and "(double_softmax)" not in p.stderr and "(output_activation)" not in p.stderr
    # the epochs' training loss: the scalar backward() was called on, each step
    losses = [h["train_loss"] for h in record["history"]]
    assert len(losses) >= 3 and None not in losses
    if name == "vae_bce":  # its loss falls 7% over 3 epochs: judged against its own start, it learns
        assert "healthy: nothing abnormal" in p.stderr and losses[-1] < 0.97 * losses[0]


@pytest.mark.parametrize("name, task, loss", [("regression_mse", "regression", "mse_loss"),
                                              ("autoencoder_mse", "generative", "mse_loss")])
def test_regression_and_reconstruction_are_their_own_tasks_and_healthy(tmp_path, name, task, loss):
    """nn.MSELoss on targets, F.mse_loss against the input itself: the task from the loss and the target, the
    epochs' losses from the loss seen; a linear bottleneck (16 -> 4 -> 16) is a code, not a missing activation."""
    p, record = _both(tmp_path, name, "--epoch-steps", "32")
    assert (record["task"], record["config"]["loss"]["name"]) == (task, loss)
    assert "healthy: nothing abnormal" in p.stderr and f"- task: {task} (the loss the program trains with: {loss})" \
        in p.stderr
    losses = [h["train_loss"] for h in record["history"]]
    assert len(losses) >= 3 and losses[-1] < losses[0]


def test_a_regression_is_judged_against_predicting_its_targets_mean(tmp_path):
    """Its baseline: the loss of predicting the targets' mean, their variance over the first epoch's training targets.
    The healthy program ends at R² 0.93; with its targets shuffled apart from the inputs it stays at the mean
    (R² -0.03): named as misaligned targets, where judged against its own start (a loss that hardly moves) it was
    not judged at all."""
    p, record = _both(tmp_path, "regression_mse", script_args=["shuffled"])
    targets = record["targets"]
    assert 0.5 < targets["var"] < 0.8 and targets["values"] >= 1024  # y = sin(3 x1) + x2^2, x uniform on [-1, 1]
    assert "(labels_misaligned): the targets carry no information about the inputs" in p.stderr and "R² = " in p.stderr
    (tmp_path / "healthy").mkdir()
    healthy, record = _both(tmp_path / "healthy", "regression_mse")
    assert "- healthy: nothing abnormal (R² 0.9" in healthy.stderr


def test_a_regression_bug_gets_its_cause(tmp_path):
    p, record = _both(tmp_path, "regression_mse", "--epoch-steps", "32", script_args=["bug"])
    assert record["task"] == "regression" and "(grad_accumulation)" in p.stderr


def test_a_gan_s_discriminator_is_not_blamed_for_the_generator_s_backward(tmp_path):
    """The generator's backward reaches the discriminator's weights before the discriminator's own zero_grad: that
    gradient is cleared before its step, so nothing is stale (it was called grad_accumulation); never zeroing it is."""
    p, record = _both(tmp_path, "gan_bce")
    assert "(grad_accumulation)" not in p.stderr and record["program"]["stale_gradient"]["steps"] == 0
    (tmp_path / "bug").mkdir()
    bug, _ = _both(tmp_path / "bug", "gan_bce", script_args=["bug"])
    assert "(grad_accumulation)" in bug.stderr


def test_a_gan_s_two_models_are_each_watched_and_diagnosed(tmp_path):
    """The discriminator's optimizer steps first: D is watched into DIR; the generator's optimizer, stepping a model
    called at the top level that is not watched, gets a watch of its own, named as the program names the model
    (DIR/G), and a diagnosis of its own: its steps and gradients measured, its loss not (which loss is whose is not
    known), so it is never called healthy. Its bug (opt_g.zero_grad() never called) is named in G's diagnosis."""
    p, record = _both(tmp_path, "gan_bce", script_args=["bug_g"])
    g = json.loads((tmp_path / "run" / "G" / "metrics.json").read_text())
    assert g["steps"] == record["steps"] == 96 and g["config"]["model"]["sizes"]["0"] == 8 * 32 + 32
    assert "diagnosis of " in p.stderr and ", D (" in p.stderr and ", G (" in p.stderr
    d_text, g_text = p.stderr.split(", G (")
    assert "(grad_accumulation)" not in d_text and "(grad_accumulation)" in g_text
    (tmp_path / "healthy").mkdir()
    healthy, _ = _both(tmp_path / "healthy", "gan_bce")
    assert "- healthy" not in healthy.stderr.split(", G (")[1] and "not measured: the training loss" in healthy.stderr


def test_an_lbfgs_closure_step_is_one_step(tmp_path):
    """LBFGS evaluates the model up to max_iter times inside each step(closure): one optimizer step each, measured at
    the cost of the step, not of every evaluation. The model is first called inside the first step's closure, after
    that step's pre-hook, so watch attaches at the second: 7 of the 8 steps are counted."""
    p, record = _both(tmp_path, "lbfgs_sine")
    assert record["steps"] == 7 and record["status"] == "completed" and record["task"] == "regression"
    assert "- healthy: nothing abnormal (R² 1.00" in p.stderr


def test_a_binary_classifier_is_judged_against_predicting_its_positive_rate(tmp_path):
    """BCEWithLogitsLoss on [N, 1] targets: the baseline is the entropy of the positive rate over the first epoch's
    targets (a GAN's all-real and all-fake batches are left out of it). Healthy: R² 0.89; targets shuffled apart from
    the points: named."""
    p, record = _both(tmp_path, "binary_bce", script_args=["shuffled"])
    assert record["task"] == "binary" and 0.35 < record["targets"]["mean"] < 0.45
    assert "(labels_misaligned): the targets carry no information about the inputs" in p.stderr
    assert "of the loss of predicting the positive rate 0.4" in p.stderr
    (tmp_path / "healthy").mkdir()
    healthy, _ = _both(tmp_path / "healthy", "binary_bce")
    assert "- healthy: nothing abnormal (R² 0.89 against predicting the positive rate" in healthy.stderr
    (tmp_path / "gan").mkdir()
    _, gan = _both(tmp_path / "gan", "gan_bce")
    assert gan["task"] == "binary" and gan["targets"] is None  # constant targets per call: no baseline


def test_training_in_forked_processes_runs_as_unwatched_and_is_said(tmp_path):
    """Hogwild: two forked processes train a shared model. It hung under scalediag run: importing scalediag computed
    two constants with torch, which started OpenMP's threads, and a child's first parallel op never returned. The
    children now run unwatched (the hooks and function mode switched off in them), and the line says where the
    training went."""
    script = PROGRAMS / "hogwild.py"
    p = run_cli(["run", "--dir", str(tmp_path / "run"), str(script)], cwd=tmp_path, timeout=300)
    assert p.returncode == 0 and p.stdout.startswith("accuracy "), p.stderr
    assert "the training ran in child processes" in p.stderr and "call scalediag.watch inside the worker" in p.stderr


def test_a_dataloader_s_worker_processes_change_nothing(tmp_path):
    """DataLoader(num_workers=2): its forked workers run the collation under no function mode of scalediag's."""
    p, record = _both(tmp_path, "loader_workers")
    assert record["steps"] == 96 and record["status"] == "completed" and "- healthy:" in p.stderr


@pytest.mark.parametrize("style", ["data", "no_grad"])
def test_a_loop_without_torch_optim_is_measured_from_its_backward_passes(tmp_path, style):
    """`p.data.add_(p.grad, alpha=-lr)` with .grad set to None, and `p -= lr * p.grad` under no_grad with
    .grad.zero_(): no optimizer step hook fires. The model called again after a backward pass with its weights
    changed is the sign; each backward pass and the update after it is a step (the first, before watch attached,
    counted): 5 epochs of 48 batches, 240 steps. It used to say 'no optimizer step was taken: nothing to diagnose'."""
    p, record = _both(tmp_path, "handwritten_sgd", script_args=[style] if style == "no_grad" else [])
    assert record["steps"] == 240 and record["config"]["optimizer"]["_target_"] == "hand-written update"
    assert record["task"] == "classification" and record["labels"]["classes"] == 3
    assert {"2", "4", "8", "16", "32"} <= set(record["early"])  # measured from the second step on
    assert "- healthy: nothing abnormal (initial loss 1.09 (ln 3 = 1.10)" in p.stderr


def test_a_hand_written_loop_that_never_clears_its_gradients_is_named_with_its_lines(tmp_path):
    p, record = _both(tmp_path, "handwritten_sgd", script_args=["no_grad", "bug"])
    assert "(grad_accumulation)" in p.stderr and "each p.grad cleared once per step" in p.stderr
    assert "handwritten_sgd.py:40 `p -= lr * p.grad` (the update, with no .grad cleared since the last)" in p.stderr
    assert "- fix: clear each parameter's gradient once per step, after the update at line 40" in p.stderr


@pytest.mark.parametrize("variant", ["by_hand", "optim"])
def test_a_sequence_first_language_model_is_probed_whole_and_healthy(tmp_path, variant):
    """[T, B] tokens and a hidden state in, [T*B, V] log-probabilities out, nn.NLLLoss on [T*B] targets: the probe
    (the first batch with its hidden state) cannot be cut into samples, and is measured whole, one label per output
    row. The canonical update by hand (clipped, p.data.add_) and torch.optim.SGD give the same numbers and verdict."""
    p, record = _both(tmp_path, "lm_tokens", script_args=[variant] if variant == "optim" else [])
    assert record["task"] == "classification" and record["config"]["loss"]["name"] == "nll_loss"
    assert record["labels"]["classes"] == 50 and record["labels"]["samples"] == 20 * 16
    assert record["init"] is not None and record["program"]["batch_mixing"] is None  # which axis is the batch: unknown
    assert record["steps"] == 189 and "- healthy: the run learned and no cause holds" in p.stderr
    assert "(lr_too_high)" not in p.stderr and "(batch_mixing)" not in p.stderr


def test_a_language_model_that_never_zeroes_its_gradients_is_named(tmp_path):
    p, record = _both(tmp_path, "lm_tokens", script_args=["bug"])
    assert "(grad_accumulation)" in p.stderr and record["task"] == "classification"


@pytest.mark.parametrize("name, cause, task", [("vae_bce", "grad_cleared", "generative"),
                                               ("lbfgs_sine", "not_optimized", "regression"),
                                               ("reinforce_bandit", "grad_accumulation", "unknown")])
def test_a_bug_of_the_code_is_named_whatever_the_task(tmp_path, name, cause, task):
    """The causes of the code need no classes: a VAE whose zero_grad() sits between backward() and step(), LBFGS
    built without the output layer (8 steps: too short to judge an outcome, not to see this), a policy gradient
    that never zeroes its gradients."""
    p, record = _both(tmp_path, name, script_args=["bug"])
    primary = next(line for line in p.stderr.splitlines() if line.startswith("- **cause: "))
    assert record["task"] == task and f"({cause})" in primary


def test_a_graph_network_on_a_sparse_adjacency_is_probed_whole(tmp_path):
    """A GCN: the features and a sparse adjacency in, the nodes' log-probabilities out, nll_loss on 60 training nodes
    picked by an index outside the model. A sparse tensor cannot be sliced (it was 'as_strided is not implemented
    for sparse tensors', and no probe): the graph is probed whole, without labels (they are one per training node,
    not per output row); the loss and accuracy come from the loss seen. Its bug, model.eval() for an evaluation
    never undone (Dropout off from step 10), is named."""
    p, record = _both(tmp_path, "gcn_sparse")
    assert record["task"] == "classification" and record["classes"] == 3 and record["labels"] is None
    assert record["init"] is not None and "input/rms" in record["init"] and record["steps"] == 200
    assert "are not one per output row (an index or a mask applied outside the model?)" in p.stderr
    assert "- healthy: nothing abnormal" in p.stderr
    (tmp_path / "bug").mkdir()
    bug, _ = _both(tmp_path / "bug", "gcn_sparse", script_args=["bug"])
    assert "(eval_mode)" in bug.stderr and "gcn_sparse.py:67 `model.eval()` (the .eval() left in force)" in bug.stderr


def test_fine_tuning_a_head_on_a_frozen_backbone_is_healthy_and_freezing_all_but_batchnorm_is_named(tmp_path):
    """A frozen backbone (requires_grad = False, set filters standing in for pretrained ones) and a new head: healthy,
    the frozen layers said to be on purpose. The freezing loop that skips only BatchNorm's parameters freezes the new
    head too: named frozen_model with the freezing line, and the frozen layers no longer called on purpose."""
    p, record = _both(tmp_path, "frozen_backbone")
    assert record["config"]["model"]["frozen"] == ["backbone.conv", "backbone.bn"]
    assert "- healthy: nothing abnormal" in p.stderr and "not trained, on purpose" in p.stderr
    (tmp_path / "bug").mkdir()
    bug, _ = _both(tmp_path / "bug", "frozen_backbone", script_args=["bug"])
    assert "(frozen_model): 6.4% of the model's weights train (backbone.bn (BatchNorm2d)" in bug.stderr
    assert "frozen_backbone.py:69 `p.requires_grad = False`" in bug.stderr and "on purpose" not in bug.stderr


def test_a_siamese_encoder_called_three_times_a_step_is_judged_by_its_own_loss(tmp_path):
    """Anchor, positive and negative through one encoder, three calls a step, F.triplet_margin_loss: no labels, the
    task unknown, the run judged by its loss's own fall (healthy); at Adam lr 1.0 the first step moves a layer by
    ||dw||/||w|| = 0.99 and the ReLUs die: named."""
    p, record = _both(tmp_path, "siamese_triplet")
    assert record["task"] == "unknown" and record["steps"] == 200 and "- healthy: nothing abnormal" in p.stderr
    (tmp_path / "bug").mkdir()
    bug, _ = _both(tmp_path / "bug", "siamese_triplet", script_args=["bug"])
    assert "**cause: learning rate too large** (lr_too_high)" in bug.stderr


def test_a_batch_first_transformer_language_model_and_its_softmax_before_the_loss(tmp_path):
    """nanoGPT's shape: [B, T] windows, logits [B, T, V] flattened for F.cross_entropy outside the model, AdamW:
    probed whole, healthy. Its bug, F.softmax on the logits before cross_entropy, is outside the model, so the model's
    outputs at the probe are logits: what the training loss consumed is kept (its range and row sums, once) and
    names it. Its training loss (on the probabilities) ends above the validation loss (on the logits): that rise of
    the validation loss is no overfitting."""
    p, record = _both(tmp_path, "transformer_lm")
    assert record["labels"]["classes"] == 48 and record["labels"]["samples"] == 16 * 32
    assert "- healthy: nothing abnormal" in p.stderr and record["loss_input"]["min"] < 0
    (tmp_path / "bug").mkdir()
    bug, record = _both(tmp_path / "bug", "transformer_lm", script_args=["bug"])
    assert "(double_softmax): the loss's inputs (after the model) are already probabilities" in bug.stderr
    assert "transformer_lm.py:58 `logits = F.softmax(logits, dim=-1)`" in bug.stderr
    assert "(overfitting)" not in bug.stderr


def test_forward_forward_layers_with_an_optimizer_each_are_each_watched(tmp_path):
    """Each layer trains itself with an Adam of its own, no backward pass crossing layers (it used to say the
    optimizer 'holds none of the parameters of the module(s) the script trained'). The first layer is watched into
    DIR; the second, first called after that, is found in its own optimizer step's caller (its method's self) and
    watched into DIR/layer1, numbered after the first, which the program also calls `layer`."""
    p, record = _both(tmp_path, "forward_forward")
    second = json.loads((tmp_path / "run" / "layer1" / "metrics.json").read_text())
    assert record["steps"] == second["steps"] == 128
    assert record["config"]["model"]["sizes"]["root"] == 16 * 64 + 64
    assert second["config"]["model"]["sizes"]["root"] == 64 * 64 + 64 and second["init"] is None
    assert ", layer (" in p.stderr and ", layer1 (" in p.stderr and "holds none of the parameters" not in p.stderr


@pytest.mark.parametrize("loss, name, median", [("l1", "l1_loss", 0.698), ("huber", "huber_loss", 0.308)])
def test_an_l1_or_huber_regression_is_judged_against_predicting_its_targets_median(tmp_path, loss, name, median):
    """L1's best constant is the median, and Huber's near it: the baseline is the loss of predicting the median of
    the first 4096 training targets (Huber and smooth L1 at their default delta and beta, 1). Healthy, the fit is
    judged against it; with the targets shuffled apart from the inputs the run stays at it, named."""
    p, record = _both(tmp_path, "regression_mse", script_args=[loss])
    assert record["config"]["loss"]["name"] == name and "against predicting the targets' median" in p.stderr
    assert "- healthy: nothing abnormal (R² 0." in p.stderr
    (tmp_path / "shuffled").mkdir()
    bug, record = _both(tmp_path / "shuffled", "regression_mse", script_args=["shuffled", loss])
    assert "of the loss of predicting the targets' median" in bug.stderr and "(labels_misaligned)" in bug.stderr
    assert record["targets"][loss] == pytest.approx(median, abs=0.002)  # float64 sums: the same on any CPU


def test_an_actor_critic_on_cartpole_is_not_judged_as_the_regression_its_value_loss_is(tmp_path):
    """gymnasium's CartPole, the canonical actor-critic: one call per state, the loss a policy term written by hand
    plus F.smooth_l1_loss on the values. It was called labels_misaligned (R² -162: the whole loss against the value
    targets' baseline): the scalar backward() starts from is not made of the regression losses alone, so the task is
    unknown. The states it was called on are stacked into its probe (a model fed one sample also takes a batch).
    Healthy at lr 1e-2 (running reward 242 at episode 80); its missing zero_grad named."""
    pytest.importorskip("gymnasium")
    p, record = _both(tmp_path, "actor_critic_cartpole")
    assert record["task"] == "unknown" and record["config"]["loss"]["name"] == "smooth_l1_loss"
    assert record["init"] is not None and record["classes"] == 2 and record["steps"] == 80
    assert "- healthy: the run learned" in p.stderr and "(labels_misaligned)" not in p.stderr
    (tmp_path / "bug").mkdir()
    bug, _ = _both(tmp_path / "bug", "actor_critic_cartpole", script_args=["bug"])
    assert "**cause: gradients never zeroed** (grad_accumulation)" in bug.stderr
