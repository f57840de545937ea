"""Where a cause's fix goes in the user's code, from what the record keeps of it (measure/where.py): the lines the
hooks saw the program at (its forward, backward, step, evaluation, a step taken in eval mode), the source lines of
those files a fix changes (`.eval()`, `zero_grad`, clipping, the DataLoader, the optimizer's construction, ...), the
model's forward, and the names the program gives its optimizer and model. Nothing is guessed: where the record has
no line (scalediag's own experiment, a framework's loop), a cause says so."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    code: str
    role: str  # what the line is to the cause: "the .eval() left in force", "the optimizer's construction"

    def __str__(self) -> str:
        return f"{shown_path(self.file)}:{self.line} `{bare(self.code)}` ({self.role})"


def bare(code: str) -> str:
    """A line without its trailing comment (PEP 8's two spaces before the #)."""
    return code.split("  #", 1)[0].strip()


def shown_path(file: str) -> str:
    """A file as the user would type it: relative to the current directory where it is below it."""
    try:
        rel = os.path.relpath(file)
    except ValueError:  # another drive
        return file
    return file if rel.startswith("..") else rel


def _where(run: dict) -> dict:
    return ((run.get("program") or {}).get("where")) or {}


def site(run: dict, role: str, shown_as: str) -> list[Location]:
    """The line a hook saw the program at for role (forward, backward, step, eval_forward, trained_in_eval,
    not_optimized), as a one-item list, or []."""
    s = (_where(run).get("sites") or {}).get(role)
    return [Location(s["file"], s["line"], s["code"], shown_as)] if s and "file" in s else []


def source(run: dict, pattern: str, shown_as: str, between: tuple[Location, Location] | None = None,
           last: bool = False, most: int = 2) -> list[Location]:
    """The source lines found for pattern (measure.where.PATTERNS); between: only those after the first location
    and before the second, in its file (a zero_grad between backward and step); last: the last ones first."""
    hits = (_where(run).get("source") or {}).get(pattern, [])
    found = [Location(h["file"], h["line"], h["code"], shown_as) for h in hits]
    if between:
        a, b = between
        found = [f for f in found if f.file == a.file == b.file and a.line < f.line < b.line]
    return (found[::-1] if last else found)[:most]


def in_forward(run: dict, pattern: str, shown_as: str, last: bool = False, most: int = 1) -> list[Location]:
    """Lines of the model's forward that match pattern (a regular expression, comments ignored)."""
    forward = _where(run).get("forward") or {}
    regex = re.compile(pattern)
    found = [Location(forward["file"], forward["first"] + i, line.strip(), shown_as)
             for i, line in enumerate(forward.get("code") or []) if regex.search(line.split("#", 1)[0])]
    return (found[::-1] if last else found)[:most]


def name(run: dict, role: str, default: str) -> str:
    """The program's own name for its optimizer or model (`opt`, `self.optimizer`), or default."""
    return (_where(run).get("names") or {}).get(role) or default


def framework(run: dict) -> str | None:
    """The package whose loop the hooks ran in, where no line of the user's was on the stack (lightning, ...)."""
    return next((s["framework"] for s in (_where(run).get("sites") or {}).values() if "framework" in s), None)


def unknown(run: dict) -> str | None:
    """Why no line can be given for this record, or None where the record keeps lines."""
    if run.get("kind") != "watched":
        return "scalediag's own experiment: set by its configuration, not by a line of yours"
    if framework(run):
        return f"inside {framework(run)}'s training loop: no line of yours was on the stack"
    if not _where(run).get("sites"):
        return "this record keeps no lines of the program (recorded before scalediag located them)"
    return None


def update_by_hand(run: dict, shown_as: str = "the hand-written update, its learning rate") -> list[Location]:
    """The line of a loop without torch.optim that updates a weight from its gradient, as a one-item list, or []."""
    return source(run, "update_by_hand", shown_as, most=1)
