"""The small watched training loop the bug tests share (tests/test_bugs.py, test_dead_at_init.py,
test_frozen_model.py): a user's loop over synthetic 4-class data, each bug switching off one habit."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import scalediag
from scalediag.record import read

N, CLASSES = 512, 4


def vectors(n=N, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 20, generator=g)
    return x, x[:, :CLASSES].argmax(1)


def sequences(n=N, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 10, 8, generator=g)
    return x, x.mean(1)[:, :CLASSES].argmax(1)


def loop(out, model, opt, data=vectors, epochs=4, batch=32, zero_grad=True, train_again=True, loss_fn=F.cross_entropy):
    """A user's loop: shuffled batches, an evaluation on held-out data after each epoch; the bug switches off one
    habit (zeroing the gradients, going back to train mode)."""
    x, y = data(seed=0)
    xt, yt = data(n=256, seed=1)
    gen = torch.Generator().manual_seed(0)
    with scalediag.watch(model, opt, out, every=4, probe=(x[:128], y[:128])) as w:
        model.train()
        for epoch in range(epochs):
            if train_again:
                model.train()
            order, total = torch.randperm(N, generator=gen), 0.0
            for i in range(0, N, batch):
                idx = order[i : i + batch]
                loss = loss_fn(model(x[idx]), y[idx])
                if zero_grad is True:
                    opt.zero_grad()
                loss.backward()
                if zero_grad == "late":  # between backward and step: what backward computed is cleared
                    opt.zero_grad()
                opt.step()
                total += loss.item()
            model.eval()
            with torch.no_grad():
                out_t = model(xt)
            w.epoch_end(train_loss=total / (N // batch), test_loss=loss_fn(out_t, yt).item(),
                        test_acc=(out_t.argmax(1) == yt).float().mean().item())
    return read(out / "metrics.json")
