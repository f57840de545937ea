"""scalediag.watch on the shapes real training programs take (#26): each program runs twice from the same seed,
unwatched and watched, and must give the same loss at every step bit for bit (watch changes nothing the program
computes: no mode, no random draw, no gradient), finish without an exception, and leave a record whose status,
layers (by module name), frozen layers, step count and diagnosis are right."""

from __future__ import annotations

import contextlib
import csv
import json
import math
import warnings
from dataclasses import dataclass
from typing import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import scalediag
from scalediag.explain.causes import fixed_in
from scalediag.explain.chain import ORDER, explain
from scalediag.measure.inputs import call, logits_of
from scalediag.record import read

N, BATCH, EPOCHS, CLASSES = 192, 32, 2, 4


def vectors(n=N, features=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g)
    return x, x[:, :CLASSES].argmax(1)


def images(n=N, size=12, seed=0, dims=2):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, *([size] * dims), generator=g)
    y = torch.randint(0, CLASSES, (n,), generator=g)
    shape = (-1, *[1] * (dims + 1))
    x[..., : size // 2] += (y % 2).view(shape) * 1.5  # the class shows in where the signal is
    if dims > 1:
        x[..., size // 2 :, :] += (y // 2).view(shape) * 1.5
    else:
        x[..., : size // 4] += (y // 2).view(shape) * 1.5
    return x, y


def sequences(n=N, steps=10, features=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, steps, features, generator=g)
    return x, x.mean(1)[:, :CLASSES].argmax(1)


def tokens(n=N, length=12, vocab=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (n, length), generator=g)
    mask = torch.ones(n, length, dtype=torch.long)
    mask[n // 2 :, length - 3 :] = 0  # padding at the end of half the samples
    return {"input_ids": ids, "attention_mask": mask}, ids[:, 0] % CLASSES


def take(inputs, idx):
    if isinstance(inputs, dict):
        return {k: v[idx] for k, v in inputs.items()}
    return inputs[idx]


def plain_step(model, optimizers, x, y):
    """The loop everyone writes: forward, loss, zero_grad, backward, step."""
    loss = F.cross_entropy(model(x), y)
    for opt in optimizers:
        opt.zero_grad()
    loss.backward()
    for opt in optimizers:
        opt.step()
    return [loss.item()]


@dataclass
class Program:
    build: Callable  # () -> (model, optimizer or [optimizers], scheduler or None), after torch.manual_seed(0)
    data: Callable = vectors  # () -> (inputs, labels)
    step: Callable = plain_step  # (model, optimizers, x, y) -> the batch losses it computed
    layers: tuple[str, ...] = ()  # module names the record must list
    frozen: tuple[str, ...] = ()
    status: str = "completed"
    steps_per_epoch: int = N // BATCH
    eval_mode: bool = False  # the loop never calls model.train()
    context: Callable = contextlib.nullcontext  # around each training step (autocast)


def run(program: Program, log_dir=None):
    """The program's training, watched when log_dir is given: every loss it computed, in order."""
    torch.manual_seed(0)
    model, opt, scheduler = program.build()
    optimizers = opt if isinstance(opt, list) else [opt]
    x, y = program.data()
    probe = (take(x, slice(0, 64)), y[:64])
    gen, losses = torch.Generator().manual_seed(1), []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what watch says of functional activations is tested elsewhere
        w = scalediag.watch(model, opt, log_dir, every=2, probe=probe) if log_dir else None
    with w or contextlib.nullcontext():
        for _ in range(EPOCHS):
            if not program.eval_mode:
                model.train()
            order, first = torch.randperm(N, generator=gen), len(losses)
            for i in range(0, N, BATCH):
                idx = order[i : i + BATCH]
                with program.context():
                    losses += program.step(model, optimizers, take(x, idx), y[idx])
                if scheduler is not None:
                    scheduler.step()
            model.eval()
            with torch.no_grad():
                out = logits_of(call(model, take(x, slice(0, 64))))
            if w:
                mean = sum(losses[first:]) / (len(losses) - first)
                w.epoch_end(train_loss=mean, test_loss=F.cross_entropy(out.float(), y[:64]).item(),
                            test_acc=(out.argmax(1) == y[:64]).float().mean().item())
    return losses, model


# the models, as different users write them
class TupleOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.head = nn.Sequential(nn.Linear(20, 32), nn.ReLU()), nn.Linear(32, CLASSES)

    def forward(self, x):
        h = self.body(x)
        return self.head(h), h


class DictOut(TupleOut):
    def forward(self, x):
        return {"features": self.body(x), "logits": self.head(self.body(x))}


@dataclass
class Output:  # as Hugging Face's ModelOutput: an object with .logits
    logits: torch.Tensor
    hidden: torch.Tensor | None = None


class TokenClassifier(nn.Module):
    """forward(**kwargs): input_ids and attention_mask, a masked mean of embeddings, an object with .logits."""

    def __init__(self, vocab=50, dim=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim, padding_idx=0)
        self.proj = nn.Sequential(nn.Linear(dim, 32), nn.Tanh())
        self.classifier = nn.Linear(32, CLASSES)

    def forward(self, input_ids, attention_mask=None):
        e = self.embed(input_ids)
        m = attention_mask.unsqueeze(-1).to(e.dtype)
        return Output(logits=self.classifier(self.proj((e * m).sum(1) / m.sum(1))))


class TiedLM(nn.Module):
    """Weight tying: the output layer shares the embedding's weight (vocabulary of CLASSES tokens)."""

    def __init__(self, dim=16):
        super().__init__()
        self.embed = nn.Embedding(CLASSES, dim)
        self.mix = nn.Sequential(nn.Linear(20, dim), nn.GELU())
        self.out = nn.Linear(dim, CLASSES, bias=False)
        self.out.weight = self.embed.weight

    def forward(self, x):
        return self.out(self.mix(x) + self.embed.weight.mean(0))


class Shared(nn.Module):
    """One block applied twice (shared weights), with activations applied as functions."""

    def __init__(self):
        super().__init__()
        self.inp, self.block, self.head = nn.Linear(20, 24), nn.Linear(24, 24), nn.Linear(24, CLASSES)

    def forward(self, x):
        h = F.relu(self.inp(x))
        return self.head(F.relu(self.block(F.relu(self.block(h)))))


class GRUClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(8, 32, batch_first=True)
        self.fc = nn.Linear(32, CLASSES)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


class LSTMClassifier(GRUClassifier):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(8, 32, num_layers=2, batch_first=True)


class Transformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(8, 32)
        layer = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(32, CLASSES)

    def forward(self, x):
        return self.head(self.encoder(self.inp(x)).mean(1))


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, CLASSES)

    def forward(self, x):
        a, _ = self.attn(x, x, x)
        return self.head(self.norm(x + a).mean(1))


def cnn(dims=2, dropout=0.25):
    conv, bn, pool = {1: (nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d), 2: (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d),
                      3: (nn.Conv3d, nn.BatchNorm3d, nn.MaxPool3d)}[dims]
    return nn.Sequential(conv(1, 8, 3, padding=1), bn(8), nn.ReLU(), pool(2), nn.Dropout(dropout),
                         conv(8, 16, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(16 * {1: 12, 2: 6, 3: 6}[dims] ** dims, CLASSES))


def conv_only():
    """No Linear layer at all: a 1x1 convolution as the classifier, global average pooling."""
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, CLASSES, 1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten())


def mlp():
    return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, CLASSES))


def adam(model, **kw):
    return model, torch.optim.Adam(model.parameters(), lr=1e-3, **kw), None


def accumulate(k):
    def step(model, optimizers, x, y):
        (opt,) = optimizers
        opt.zero_grad()
        losses = []
        for xs, ys in zip(x.chunk(k), y.chunk(k)):  # micro-batches: k backwards per optimizer step
            loss = F.cross_entropy(model(xs), ys) / k
            loss.backward()
            losses.append(loss.item())
        opt.step()
        return losses

    return step


def frozen_cnn():
    model = cnn()
    for p in model[0].parameters():  # a pretrained first block, frozen: fine-tuning the rest
        p.requires_grad_(False)
    model[1].requires_grad_(False)
    return model, torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05, momentum=0.9), None


def two_optimizers():
    model = mlp()
    return model, [torch.optim.Adam(model[0].parameters(), lr=1e-3),
                   torch.optim.SGD(model[2].parameters(), lr=0.1)], None


def param_groups():
    model = mlp()
    opt = torch.optim.AdamW([{"params": model[0].parameters(), "lr": 3e-3},
                             {"params": model[2].parameters(), "lr": 1e-3, "weight_decay": 0.0}], weight_decay=0.01)
    return model, opt, None


def scheduled():
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    return model, opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.2, total_steps=EPOCHS * N // BATCH + 1)


def diverging():
    model = mlp()
    return model, torch.optim.SGD(model.parameters(), lr=1e6), None


def float64():
    model = mlp().double()
    return model, torch.optim.Adam(model.parameters(), lr=1e-3), None


def channels_last_step(model, optimizers, x, y):
    return plain_step(model, optimizers, x.contiguous(memory_format=torch.channels_last), y)


PROGRAMS = {
    "frozen_layers": Program(frozen_cnn, images, layers=("0", "1", "5", "8"), frozen=("0", "1")),
    "tied_weights": Program(lambda: adam(TiedLM()), layers=("embed", "mix.0", "out")),
    "shared_block": Program(lambda: adam(Shared()), layers=("inp", "block", "head")),
    "tuple_output": Program(lambda: adam(TupleOut()), step=lambda m, o, x, y: plain_step(lambda v: m(v)[0], o, x, y),
                            layers=("body.0", "head")),
    "dict_output": Program(lambda: adam(DictOut()), step=lambda m, o, x, y: plain_step(lambda v: m(v)["logits"], o, x,
                                                                                         y), layers=("body.0", "head")),
    "keyword_inputs_model_output": Program(lambda: adam(TokenClassifier()), tokens,
                                           step=lambda m, o, x, y: plain_step(lambda v: m(**v).logits, o, x, y),
                                           layers=("embed", "proj.0", "classifier")),
    "micro_batches": Program(lambda: adam(mlp()), step=accumulate(4), layers=("0", "2")),
    "autocast_bf16": Program(lambda: adam(cnn()), images, layers=("0", "1", "5", "8"),
                             context=lambda: torch.autocast("cpu", dtype=torch.bfloat16)),
    "two_optimizers": Program(two_optimizers, layers=("0", "2")),
    "param_groups": Program(param_groups, layers=("0", "2")),
    "lr_scheduler": Program(scheduled, layers=("0", "2")),
    "embedding": Program(lambda: adam(TokenClassifier()), tokens,
                         step=lambda m, o, x, y: plain_step(lambda v: m(**v).logits, o, x, y), layers=("embed",)),
    "gru": Program(lambda: adam(GRUClassifier()), sequences, layers=("rnn", "fc")),
    "lstm": Program(lambda: adam(LSTMClassifier()), sequences, layers=("rnn", "fc")),
    "attention_layernorm": Program(lambda: adam(Attention()), sequences, layers=("attn", "norm", "head")),
    "transformer_encoder": Program(lambda: adam(Transformer()), sequences,
                                   layers=("inp", "encoder.layers.0.self_attn", "encoder.layers.0.linear1",
                                           "encoder.layers.1.norm2", "head")),
    "conv1d": Program(lambda: adam(cnn(1)), lambda: images(size=24, dims=1), layers=("0", "1", "5", "8")),
    "conv2d_batchnorm_dropout": Program(lambda: adam(cnn()), images, layers=("0", "1", "5", "8")),
    "conv3d": Program(lambda: adam(cnn(3, dropout=0.0)), lambda: images(size=12, dims=3), layers=("0", "1", "5", "8")),
    "channels_last": Program(lambda: adam(cnn()), images, step=channels_last_step, layers=("0", "1", "5", "8")),
    "float64": Program(float64, lambda: tuple(t.double() if t.is_floating_point() else t for t in vectors()),
                       layers=("0", "2")),
    "no_linear_layer": Program(lambda: adam(conv_only()), images, layers=("0", "2")),
    "trained_in_eval_mode": Program(lambda: adam(cnn()), images, eval_mode=True, layers=("0", "1", "5", "8")),
    "driven_to_nan": Program(diverging, status="diverged", layers=("0", "2")),
}


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("programs")


@pytest.mark.parametrize("name", PROGRAMS)
def test_watch_changes_nothing_and_records_the_program(name, out):
    program = PROGRAMS[name]
    plain, _ = run(program)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        watched, model = run(program, out / name)
    assert watched == plain or (program.status == "diverged" and _same_with_nan(watched, plain))
    assert not [w for w in caught if "stopped measuring" in str(w.message)]  # watch never turned itself off
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())  # nothing left behind
    record = read(out / name / "metrics.json")
    assert record["status"] == program.status, record.get("error")
    assert len(record["history"]) == EPOCHS  # a diverged loop runs all its epochs: watch never stops it
    steps_per_epoch = program.steps_per_epoch
    assert record["steps"] == EPOCHS * steps_per_epoch
    layers = record["config"]["model"]["layers"]
    assert set(program.layers) <= set(layers), layers
    assert record["config"]["model"]["frozen"] == list(program.frozen)
    last = record["history"][-1]["diag"]
    for layer in set(layers) - set(program.frozen):
        assert f"weights/{layer}/norm" in last, layer
        if program.status == "completed":
            assert f"update/{layer}/ratio" in last, layer
    for layer in program.frozen:  # measured as frozen: no gradient asked of it, no update expected
        assert f"update/{layer}/ratio" not in last and f"grad/{layer}/mean_abs" not in last
    diagnosis = explain(record)
    # 12 steps: most have not learned yet, and none is blamed for it (a diverged one is not short of evidence)
    assert diagnosis.cause in (*ORDER, "healthy", "too_short") and diagnosis.cause not in fixed_in("data")
    # the everyday patterns that look odd (frozen layers, micro-batches, tied weights, functional activations,
    # schedulers, ...) are no bug of the code; only the loop that never goes back to train mode is
    assert [c.id for c in diagnosis.causes if c.id in fixed_in("code")] == (["eval_mode"] if program.eval_mode else [])


def _same_with_nan(a, b):
    return len(a) == len(b) and all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b))


def test_the_report_diagnoses_every_program(out):
    from conftest import run_cli

    missing = [n for n in PROGRAMS if not (out / n / "metrics.json").exists()]
    if missing:
        pytest.skip(f"run with the program tests ({len(missing)} records missing)")
    p = run_cli(["report", str(out)], cwd=out)
    assert p.returncode == 0, p.stderr
    rows = {r["run"]: r for r in csv.DictReader((out / "summary.csv").open())}
    assert set(rows) == set(PROGRAMS)
    # SGD at lr 1e6: the cause, with the divergence as its consequence
    assert rows["driven_to_nan"]["cause"] == "lr_too_high" and rows["driven_to_nan"]["status"] == "diverged"
    assert "frozen: 0, 1" in p.stdout  # frozen on purpose: listed, never a fault
    assert all(r["cause"] for r in rows.values())


def test_a_micro_batched_step_is_measured_over_all_its_micro_batches(tmp_path):
    """Four forward/backward passes of 8 samples, one optimizer step: the step's logits are all 32 samples'."""
    from scalediag.measure.hooks import Diagnostics

    torch.manual_seed(0)
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = vectors(32)
    with Diagnostics(model) as diag:
        diag.arm()
        accumulate(4)(model, [opt], x, y)
        capture = diag.collect()
    assert capture.tensors["logits"].shape == (32, CLASSES)
    assert capture.tensors["preact/0"].shape == (32, 32)
    stats = diag.statistics(capture)
    assert stats["grad/0/norm"] > 0 and stats["update/0/ratio"] > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="GradScaler's fp16 path needs CUDA")
def test_fp16_with_grad_scaler_measures_unscaled_gradients_and_no_skipped_step(tmp_path):
    def step(model, optimizers, x, y):
        (opt,) = optimizers
        with torch.autocast("cuda", dtype=torch.float16):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return [loss.item()]

    def build():
        model = mlp().cuda()
        return model, torch.optim.Adam(model.parameters(), lr=1e-3), None

    def data():
        x, y = vectors()
        return x.cuda(), y.cuda()

    scaler = torch.amp.GradScaler("cuda")
    plain, _ = run(Program(build, data, step))
    scaler = torch.amp.GradScaler("cuda")
    watched, _ = run(Program(build, data, step), tmp_path / "amp")
    assert watched == plain
    record = json.loads((tmp_path / "amp" / "metrics.json").read_text())
    grad = record["history"][-1]["diag"]["grad/0/norm"]
    assert grad < 100  # unscaled: the scale starts at 65536
    assert record["steps"] <= EPOCHS * N // BATCH  # a step the scaler skipped is no step
