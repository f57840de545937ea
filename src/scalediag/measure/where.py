"""Where in the user's code the program did what a hook saw, and the lines of it a fix would change.

- Sites: at a hook, the innermost frame of the call stack outside torch, scalediag and the standard library is the
  user's line that made the call (the model's forward, `optimizer.step()`, `loss.backward()`). A frame inside
  another installed package (Lightning's or Hugging Face's loop) is a framework's, said as such: no line of the user
  is guessed. Taken only at a measured step's first hook or at a first occurrence: a plain step never walks the
  stack.
- Source lines: at an epoch's end, the files those sites are in are searched (through linecache) for the lines a
  cause points at when no hook runs there: `.eval()` and `.train()`, `zero_grad`, gradient clipping, the
  DataLoader, the optimizer's and the scheduler's construction and `step()`, `requires_grad=False`. The model's
  forward is kept as source lines (a `.detach()` or a softmax in it).
- Names: the variables the step's frame binds to the optimizer and the model, so that a fix can use them.
"""

from __future__ import annotations

import functools
import inspect
import linecache
import re
import sys
import sysconfig
import threading
import tokenize
from pathlib import Path

import torch

_OURS = str(Path(__file__).resolve().parents[1])  # scalediag's package
_SKIPPED = tuple({_OURS, str(Path(torch.__file__).resolve().parent),
                  *(str(Path(p).resolve()) for k in ("stdlib", "platstdlib") if (p := sysconfig.get_paths().get(k)))})
_PACKAGES = re.compile(r"[/\\](?:site|dist)-packages[/\\]([^/\\]+)")
KEPT = 8  # source lines kept per pattern

# pattern -> what a source line must contain; the scheduler's and optimizer's names come from the program
PATTERNS = {
    "eval_call": r"\.eval\(\s*\)",
    "train_call": r"\.train\(\s*(?:True|mode\s*=\s*True)?\s*\)",
    "zero_grad": r"\bzero_grad\(",
    # a loop without torch.optim: its update (`p -= lr * p.grad`, `p.data.add_(p.grad, alpha=-lr)`) and clearing
    "update_by_hand": r"(?:-=|\.(?:add|sub|addcmul|addcdiv)_\().*\.grad\b",
    "grad_cleared_by_hand": r"\.grad\s*=\s*None|\.grad\.(?:zero_|detach_)\(",
    "backward": r"\.backward\(",
    "clip": r"\bclip_grad_(?:norm|value)_\(",
    "data_loader": r"\bDataLoader\(",
    "sampler": r"\b(?:SequentialSampler|shuffle\s*=\s*False)\b",
    "optimizer_built": r"\boptim\.[A-Z]\w*\(|\b(?:SGD|Adam|AdamW|RMSprop|Adagrad|Adadelta|Adamax|NAdam|RAdam|LBFGS)\(",
    "scheduler_built": r"\blr_scheduler\.\w+\(|\b\w+LR\(|\bReduceLROnPlateau\(",
    "softmax": r"\b(?:softmax|Softmax)\(",
    "cross_entropy": r"\b(?:cross_entropy|CrossEntropyLoss|nll_loss|NLLLoss)\b",
    "freeze": r"requires_grad_\(\s*False\s*\)|\.requires_grad\s*=\s*False",
    "epoch_loop": r"^\s*for\s+\w*epoch\w*\s+in\b",
}
FORWARD_LINES = 150  # the model's forward is kept as source lines up to this many: the causes look into it


@functools.lru_cache(maxsize=4096)
def _skipped(filename: str) -> bool:
    """torch's, scalediag's and the standard library's files, and code without a file (<frozen runpy>, <string>)."""
    return filename.startswith("<") or str(Path(filename).resolve()).startswith(_SKIPPED)


def user_frame(frame):
    """The innermost frame at or above frame that is not torch's, scalediag's or the standard library's."""
    while frame is not None and _skipped(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def caller(frame) -> dict | None:
    """The user's line at frame's stack: {file, line, code, function}, or {framework: its package} where the
    innermost frame outside torch, scalediag and the standard library is another installed package's; None where
    there is none (autograd's own threads run a CUDA backward without the user's frames)."""
    f = user_frame(frame)
    if f is None:
        return None
    name = f.f_code.co_filename
    found = _PACKAGES.search(name)
    if found:
        return {"framework": found.group(1)}
    return {"file": name, "line": f.f_lineno, "function": f.f_code.co_name,
            "code": linecache.getline(name, f.f_lineno).strip()}


class Sites:
    """The sites a run's hooks saw, by role; the first of each is kept (a plain step never gets here)."""

    def __init__(self, model: torch.nn.Module, optimizers: list):
        self.model, self.optimizers = model, optimizers
        self.sites: dict[str, dict] = {}
        self.names: dict[str, str] = {}
        self.thread = threading.get_ident()

    def see(self, role: str, step: int | None = None) -> None:
        """Keep the user's line that led here as role, once; on autograd's own threads there is none to keep."""
        if role in self.sites or threading.get_ident() != self.thread:
            return
        frame = user_frame(sys._getframe(1))
        found = caller(frame)
        if found is not None:
            self.sites[role] = {**found, **({"step": step} if step is not None else {})}
        if role == "step" and "optimizer" not in self.names:
            self._names(frame)

    def _names(self, frame) -> None:
        """The names the user's frame (or its self) gives the first optimizer and the model."""
        for role, obj in (("optimizer", self.optimizers[0]), ("model", self.model)):
            name = name_of(obj, frame)
            if name:
                self.names[role] = name


    def summary(self, assigned: list[str] = ()) -> dict:
        """sites, names, and the source lines of the files they are in (read at an epoch's end, from linecache);
        assigned: layers whose assignment is looked for (`.head = `: a layer replaced after the optimizer)."""
        forward = _forward(self.model)
        files = list(dict.fromkeys([*(s["file"] for s in self.sites.values() if "file" in s),
                                    *([forward["file"]] if self.sites and forward else [])]))
        source = {k: found for k, pattern in PATTERNS.items() if (found := _grep(files, pattern))}
        for layer in assigned:
            attr = re.escape(layer.rsplit(".", 1)[-1])
            found = _grep(files, rf"\.{attr}\s*=[^=]")
            if found:
                source.setdefault("assigned", []).extend(found[:2])
        scheduler = self._scheduler(files)
        if scheduler:
            source["scheduler_step"] = scheduler
        return {"sites": self.sites, "names": self.names, "source": source, "forward": forward}

    def _scheduler(self, files: list[str]) -> list[dict]:
        """`name.step(` lines of the variables a scheduler's construction is assigned to."""
        names = set()
        for hit in _grep(files, PATTERNS["scheduler_built"]):
            m = re.match(r"\s*([\w.]+)\s*=", hit["code"])
            if m:
                names.add(m.group(1))
        return [h for n in names for h in _grep(files, rf"\b{re.escape(n)}\.step\(")][:KEPT]


def name_of(obj, frame) -> str | None:
    """The name a user's frame gives obj: a local, a global, or an attribute of its self (`self.model`)."""
    if frame is None:
        return None
    scopes = [frame.f_locals, frame.f_globals]
    owner = frame.f_locals.get("self")
    if owner is not None and hasattr(owner, "__dict__"):
        scopes.append({f"self.{k}": v for k, v in vars(owner).items()})
    for scope in scopes:
        # a method's receiver is named self wherever it is: no name of the program's
        name = next((k for k, v in scope.items() if v is obj and not k.startswith("_") and k != "self"), None)
        if name:
            return name
    return None


def _forward(model: torch.nn.Module) -> dict | None:
    """The model's forward where it is the user's code: its file, first line and source lines (what a cause looks
    for in it: a .detach(), a softmax before the loss, the layers in a row)."""
    try:
        fn = type(model).forward
        file = inspect.getsourcefile(fn)
        lines, first = inspect.getsourcelines(fn)
    except (TypeError, OSError):
        return None
    if not file or _skipped(str(Path(file).resolve())) or _PACKAGES.search(file):
        return None
    return {"file": file, "first": first, "code": [line.rstrip("\n") for line in lines[:FORWARD_LINES]]}


@functools.lru_cache(maxsize=64)  # one file, searched for every pattern at each epoch's end
def _text_lines(lines: tuple[str, ...]) -> frozenset[int]:
    """The line numbers a string literal that begins its line covers (a docstring, a triple-quoted block): text that
    shows code (a usage line in a docstring) is not the code."""
    found = set()
    try:
        for tok in tokenize.generate_tokens(iter(lines).__next__):
            (first, col), (last, _) = tok.start, tok.end
            if tok.type == tokenize.STRING and not lines[first - 1][:col].strip():
                found.update(range(first, last + 1))
    except (tokenize.TokenError, SyntaxError, IndexError):
        pass  # a file that does not tokenize: every line is searched
    return frozenset(found)


def _grep(files: list[str], pattern: str) -> list[dict]:
    found, regex = [], re.compile(pattern)
    for file in files:
        lines = linecache.getlines(file)
        text = _text_lines(tuple(lines))
        for n, line in enumerate(lines, start=1):
            code = line.split("#", 1)[0]  # a comment that names the call is not the call
            if n not in text and regex.search(code):
                found.append({"file": file, "line": n, "code": line.strip()})
                if len(found) >= KEPT:
                    return found
    return found
