"""The name of every measured quantity, defined once.

These strings are the schema shared by the diagnostics (which produce them), TensorBoard, each epoch's `diag` in
metrics.json, the diagnosis rules, the report's columns and plots, and the tests. Per-layer names take the name of
the model's module (fc1, fc2, features.0, encoder.layers.0.self_attn, ...); `layers()` reads them back from a
record.
"""

from __future__ import annotations

import re

# per epoch, and the learning curves
LOSS_TRAIN, LOSS_TEST, ACC_TEST = "loss/train", "loss/test", "acc/test"
LOSS_TRAIN_STEP = "loss/train_step"  # each logging step's batch loss
LOSS_INIT = "loss/init"  # the probe set's loss before any update: against ln(10) = 2.303
LOSS_PROBE = "loss/probe"  # the probe set's loss at an epoch's end
ACC_PROBE = "acc/probe"  # the probe set's accuracy against its own (training) labels: below acc/test, noisy labels
INPUT_RMS = "input/rms"  # the probe set's inputs as the model takes them: about 1 is what initialisations assume
INPUT_MIN, INPUT_MAX = "input/min", "input/max"  # their range (DeepDiagnosis asks for [-1, 1])



def preact(layer: str, stat: str = "preact") -> str:
    """A statistic of a hidden layer's pre-activations (its Linear's output, the activation's input); the bare
    name is its histogram."""
    return f"act/{layer}/{stat}"


def preact_std(layer: str) -> str:
    return preact(layer, "preact_std")


def dead(layer: str) -> str:  # share of the layer's units saturated for every probe sample (a dead ReLU)
    return preact(layer, "dead_fraction")


def dead_batch(layer: str) -> str:  # the same on a logging step's batch
    return preact(layer, "dead_fraction_batch")


def saturated(layer: str) -> str:  # share of (sample, unit) pairs where the derivative is below 1% of its maximum
    return preact(layer, "saturated_fraction")


def saturated_batch(layer: str) -> str:  # the same on a logging step's batch
    return preact(layer, "saturated_fraction_batch")


def logits(stat: str) -> str:  # a statistic of the network's output
    return f"logits/{stat}"


def probs(stat: str) -> str:  # a statistic of the softmax probabilities
    return f"probs/{stat}"


LOGITS = "logits"  # histogram
LOGITS_MIN, LOGITS_MAX = logits("min"), logits("max")
LOGITS_SUM_DEV = logits("sum_dev")  # largest |row sum - 1|: about 0 where the outputs are already probabilities
LOGITS_ZEROS = logits("zero_fraction")  # share of outputs exactly 0 (a ReLU on the output)
TOP_SHARE, TOP_CLASS = logits("top_share"), logits("top_class")  # the most-predicted class of a batch, its share
GRAD_TOTAL = "grad/total_norm"  # the whole model's gradient norm at the optimizer step (after clipping)
GRAD_PROBE_TOTAL = "grad/probe_total_norm"  # the probe set's gradient norm, unclipped
CLIPPED = probs("clipped_fraction")  # p_true below the clip eps: Keras' clamp passes no gradient
# what a run learns, found from the loss that consumes the model's output (measure/task.py), recorded as "task"
TASKS = ("classification", "binary", "regression", "generative", "unknown")
KERAS_EPSILON = 1e-7  # that clip eps unless a run's loss says otherwise: keras.backend.epsilon()
SATURATED = probs("saturated_fraction")  # max p above 1 - clip eps


def weights(layer: str) -> str:  # histogram
    return f"weights/{layer}"


def bias(layer: str) -> str:  # histogram
    return f"bias/{layer}"


def weight_norm(layer: str) -> str:
    return f"weights/{layer}/norm"


def weight_gain(layer: str) -> str:  # RMS of the weights x sqrt(fan-in): 0.58-1.41 for the usual initialisations
    return f"weights/{layer}/gain"


def weight_var(layer: str) -> str:  # variance of the weights (DeepDiagnosis, SageMaker Debugger)
    return f"weights/{layer}/var"


def bias_norm(layer: str) -> str:
    return f"bias/{layer}/norm"


def grad_norm(layer: str) -> str:
    return f"grad/{layer}/norm"


def grad_mean_abs(layer: str) -> str:  # mean |gradient| of the weights (DeepDiagnosis, SageMaker: < 1e-7 vanished)
    return f"grad/{layer}/mean_abs"


def grad_zero_fraction(layer: str) -> str:  # share of exactly-zero weight-gradient entries (AUTOTRAINER's dying ReLU)
    return f"grad/{layer}/zero_fraction"


def unit_stat(layer: str, stat: str) -> str:
    """A probe-set statistic of a hidden layer's units that a published rule set reads (stats.rule_unit_stats)."""
    return f"act/{layer}/{stat}"


def lr(group: int) -> str:  # a param group's learning rate at a measured step
    return f"lr/{group}"


def output_rms(layer: str) -> str:  # RMS of the loss gradient flowing into the layer's output
    return f"grad/{layer}/output_rms"


def update_ratio(layer: str) -> str:  # ||w - w_before|| / ||w|| of one optimizer step
    return f"update/{layer}/ratio"


def eps_fraction(layer: str) -> str:  # share of the layer's weights whose Adam eps exceeds the sqrt(v) term
    return f"adam/{layer}/eps_fraction"


def sqrt_v_median(layer: str) -> str:  # median of that sqrt(v) term, in the optimizer's own convention
    return f"adam/{layer}/sqrt_v_median"


DIAGNOSIS_RUN = "diagnosis/run"  # text: the run's own findings, when it ends
DIAGNOSIS_SWEEP = "diagnosis/sweep"  # text: its findings against the sweep's other runs, when the sweep ends

# TensorBoard's Custom Scalars: category -> chart -> the tags (regular expressions) drawn on it. A Multiline chart
# has no legend (its tooltip names each line's run and tag), so each chart holds one quantity
LAYOUT = {
    "why it learns, or not": {
        "update ratio ||dw||/||w||, per layer": ["Multiline", [r"^update/[^/]+/ratio$"]],
        "dead units, per hidden layer": ["Multiline", [r"^act/[^/]+/dead_fraction$"]],
        "saturated (sample, unit) pairs, per hidden layer": ["Multiline", [r"^act/[^/]+/saturated_fraction$"]],
        "samples at the probability clip": ["Multiline", [r"^probs/clipped_fraction$"]],
        "pre-activation scale, per hidden layer": ["Multiline", [r"^act/[^/]+/preact_std$"]],
        "share of weights where Adam's eps dominates, per layer": ["Multiline", [r"^adam/[^/]+/eps_fraction$"]],
        "output-gradient RMS, per layer": ["Multiline", [r"^grad/[^/]+/output_rms$"]],
        "losses": ["Multiline", [r"^loss/train$", r"^loss/test$", r"^loss/train_step$"]],
    },
}

# a non-finite value under one of these prefixes means the run has diverged
DIVERGENCE_PREFIXES = ("loss/", "logits/", "weights/", "bias/")

_PER_LAYER = re.compile(r"^(?:weights|bias|grad|update|adam|act)/([^/]+)/[^/]+$")
_HIDDEN = re.compile(r"^act/([^/]+)/[^/]+$")


def layers(tags) -> list[str]:
    """The layers named in per-layer scalar tags, in the order the tags first name them: the model's, as every
    producer (the diagnostics, metrics.json's dicts) lists them."""
    return list(dict.fromkeys(m.group(1) for t in tags if (m := _PER_LAYER.match(t))))


def hidden_layers(tags) -> list[str]:
    """The layers with pre-activation statistics among tags (those followed by an activation), in model order."""
    return list(dict.fromkeys(m.group(1) for t in tags if (m := _HIDDEN.match(t))))
