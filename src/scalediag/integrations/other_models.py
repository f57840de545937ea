"""The other models a script trains, each with an optimizer of its own: a GAN's generator beside its discriminator,
one optimizer per layer (forward-forward). `scalediag run` watches the first model whose optimizer steps (script.py);
each further optimizer that steps another model (one called at the script's top level, or one its step's caller
holds) gets a watch of its own, into a directory under the run's named as the program names the model (else after
its class), so that `scalediag report DIR` reads them all and the
diagnosis is printed for each.

What such a model's watch measures: its steps, gradients, updates and activations, and a probe of its first inputs
without labels. Not its loss: the losses are followed for the first model only (which of a script's losses belongs
to which model is not known), so its outcome is not judged, and the diagnosis says so.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from torch import nn

from ..measure.inputs import packed
from ..measure.watch import Watch
from ..measure.where import name_of, user_frame

MOST = 3  # models watched beside the first: a forward-forward network of many layers gets its first four


class OtherModels:
    def __init__(self, parent: Path, every: int):
        self.parent, self.every = parent, every
        self.watches: list[Watch] = []
        self.optimizers: set[int] = set()  # ids of the optimizers already followed or found to hold no other model

    def step(self, optimizer, first: nn.Module, roots: dict, first_name: str) -> None:
        """An optimizer's step, before its update: a watch for the model it trains, where that is a model called at
        the top level that is not watched yet. first: the model scalediag run watches, first_name how its diagnosis
        names it."""
        if id(optimizer) in self.optimizers or len(self.watches) >= MOST:
            return
        self.optimizers.add(id(optimizer))
        held = {id(p) for g in optimizer.param_groups for p in g["params"]}
        watched = {id(first), *(id(w.model) for w in self.watches)}
        frame = user_frame(sys._getframe(1))
        found = next(((m, args) for m, args in roots.values()
                      if id(m) not in watched and any(id(p) in held for p in m.parameters())), None)
        if found is None:  # first called after the first model was watched (the roots are kept until then)
            found = _in_frame(frame, held, watched)
        if found is None:
            return
        model, args = found
        # the program's name for it (netG, self.critic), else its class
        given = name_of(model, frame)
        name = re.sub(r"\W", "_", given.removeprefix("self.")) if given else type(model).__name__
        # numbered after the first model where they share a class and have no name of their own (Layer, Layer1)
        taken = {w.dir.name for w in self.watches} | {type(first).__name__, first_name}
        folder = next(f"{name}{i or ''}" for i in range(len(taken) + 1) if f"{name}{i or ''}" not in taken)
        probe = (packed(args), None) if args else None
        for attempt in (probe, None) if probe is not None else (None,):
            try:
                self.watches.append(Watch(model, optimizer, self.parent / folder, every=self.every, probe=attempt,
                                          name=folder, task="unknown").__enter__())
                return
            except (TypeError, ValueError) as e:
                if attempt is None:
                    print(f"scalediag run: not watching {name} ({e})", file=sys.stderr)

    def epoch_end(self) -> None:
        for w in self.watches:
            w.epoch_end()

    def close(self, kind, error, traceback) -> None:
        for w in self.watches:
            w.__exit__(kind, error, traceback)

    def detach(self) -> None:
        """In a forked child: the watches' hooks off, nothing written."""
        for w in self.watches:
            w.steps.detach()
        self.watches = []


def _in_frame(frame, held: set[int], watched: set[int]):
    """The module the step's caller holds (a local, its self, a global) that the optimizer trains, without inputs
    seen for a probe: a layer with an optimizer of its own steps from its own method (forward-forward's self)."""
    if frame is None:
        return None
    values = [*frame.f_locals.values(), *frame.f_globals.values()]
    for m in values:
        if isinstance(m, nn.Module) and id(m) not in watched:
            params = list(m.parameters())
            if params and all(id(p) in held for p in params):
                return m, []
    return None
