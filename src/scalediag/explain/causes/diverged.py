"""Diverged: a non-finite loss or statistic. A consequence wherever another cause holds, named alone otherwise."""

from __future__ import annotations

from .base import Cause, Evidence


class Diverged(Cause):
    id, title, fix, location = "diverged", "diverged", "configuration", None
    preflight = True
    after_all = True

    def test(self, run, symptoms):
        if run.get("status") != "diverged":
            return None
        return Evidence(f"at epoch {run.get('epoch')}, step {run.get('step')}: {run.get('error')}")
