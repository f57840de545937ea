"""The loop's speed against batch size (batch), and each of its speed choices against its alternative (choices)."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from scalediag.measure.hooks import Diagnostics
from scalediag.measure.monitor import StepMonitor
from scalediag.events import masked_crc32c
from scalediag.measure.writer import RunWriter
from scalediag.run.losses import cross_entropy
from scalediag.run.model import build_model
from scalediag.run.optim import FusedAdamStep, KerasAdam, torch_adam
from scalediag.run.threads import choose_threads
from scalediag.run.train import train_epoch

from .common import OPT, epochs_seconds, per_call_us, real_data


def batch_suite(args) -> dict:
    """Seconds per epoch (diagnostics at the default cadence) against batch size, threads as scalediag picks."""
    data = real_data()
    tmp = Path(tempfile.mkdtemp(prefix="scalediag-bench-"))
    rows = []
    for batch in (32, 64, 128, 256, 512, 1024, 2048, 4096):
        torch.set_num_threads(choose_threads(args.threads, batch))
        torch.manual_seed(0)
        model = build_model(128, "keras")
        optimizer = KerasAdam(model.parameters(), **OPT)
        gen = torch.Generator().manual_seed(0)
        writer = RunWriter(tmp / str(batch))
        diag = Diagnostics(model).__enter__()
        monitor = StepMonitor(diag, writer, 50)
        times = []
        for _ in range(args.epochs):
            start = time.perf_counter()
            loss = train_epoch(model, optimizer, cross_entropy, data.train, 255.0, batch, gen, monitor).item()
            monitor.epoch_means()
            times.append(time.perf_counter() - start)
        rows.append({"batch_size": batch, "threads": torch.get_num_threads(),
                     "median_seconds": statistics.median(times), "seconds": times, "train_loss_last_epoch": loss})
        print(f"batch {batch:5d}: {rows[-1]['median_seconds']:.3f} s/epoch ({rows[-1]['threads']} threads)",
              flush=True)
    return {"what": "seconds per training epoch against batch size, diagnostics every 50 steps", "rows": rows}


def choices_suite(args) -> dict:
    """Each speed choice of the training loop against its alternative, batch 32, threads as scalediag picks."""
    torch.set_num_threads(choose_threads(args.threads, 32))
    data = real_data()
    idx = torch.randperm(len(data.train.y))[:32]
    out = {"batch_gather_us": {"x[idx]": per_call_us(lambda: data.train.x[idx], 20000),
                               "index_select": per_call_us(lambda: data.train.x.index_select(0, idx), 20000)}}
    torch.manual_seed(0)
    model = build_model(128, "keras")
    optimizer = torch_adam(model.parameters(), **OPT)
    x, y = data.train.x[:32].float() / 255, data.train.y[:32]

    def step():
        loss = cross_entropy(model(x), y, reduction="mean")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    plain = per_call_us(step, 2000)
    handles = [m.register_forward_hook(lambda *a: None) for m in model.modules()]  # idle hooks, as if left on
    hooked = per_call_us(step, 2000)
    for h in handles:
        h.remove()
    out["step_us"] = {"no hooks": plain, "idle hooks on every module": hooked}
    fast = FusedAdamStep(optimizer)
    out["adam_update_us"] = {"optimizer.step()": per_call_us(optimizer.step, 5000),
                             "FusedAdamStep (the same kernel, called directly)": per_call_us(fast, 5000)}
    logits = model(x).detach()

    def loss_step(reduction):
        z = logits.clone().requires_grad_()
        loss = cross_entropy(z, y, reduction=reduction)
        (loss if reduction == "mean" else loss.mean()).backward()

    out["loss_forward_backward_us"] = {"per-sample, then .mean()": per_call_us(lambda: loss_step("none"), 5000),
                                       "reduction='mean' in the loss kernel": per_call_us(
                                           lambda: loss_step("mean"), 5000)}
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c as tensorboard_crc

    event = os.urandom(1024)  # about one logging step's scalars event
    out["event_crc_us_per_kb"] = {"TensorBoard's (pure Python)": per_call_us(lambda: tensorboard_crc(event), 200),
                                  "google-crc32c (scalediag.measure.writer)": per_call_us(
                                      lambda: masked_crc32c(event), 20000)}
    print(json.dumps({k: out[k] for k in ("adam_update_us", "loss_forward_backward_us", "event_crc_us_per_kb")}),
          flush=True)
    out["epoch_seconds"] = {}
    for name, compiled in (("eager", False), ("torch.compile(model)", True)):
        times = epochs_seconds(data, args.epochs + 1, compiled=compiled)  # the compiled model's first epoch compiles it
        out["epoch_seconds"][name] = {"first": times[0], "median_after": statistics.median(times[1:])}
        print(f"{name}: {out['epoch_seconds'][name]}", flush=True)
    out["denormals_epoch_seconds"] = {}
    for flush in (True, False):  # divisor 1, exact loss: most ReLUs die, their weights' Adam moments decay to 0
        torch.set_flush_denormal(flush)
        out["denormals_epoch_seconds"][f"flush_denormal={flush}"] = times = epochs_seconds(data, 3, divisor=1.0)
        print(f"flush_denormal={flush}: {times}", flush=True)
    torch.set_flush_denormal(True)
    out["threads_epoch_seconds"] = {}
    for batch in (32, 4096):
        for threads in (1, 2):
            torch.set_num_threads(threads)
            times = epochs_seconds(data, 3, batch=batch)
            out["threads_epoch_seconds"][f"batch {batch}, {threads} threads"] = times
            print(f"batch {batch}, {threads} threads: {times}", flush=True)
    return {"what": "per-call microseconds and seconds per epoch of the loop's speed choices, batch 32", **out}
