"""Run one benchmark program under one of the peer tools, the way its own documentation attaches it, and write what
the tool said as JSON:

    python scripts/benchmarks/peers.py torchtest2|torch-audit OUT.json PROGRAM.py

The program is left as it is: the model, its optimizer, its loss and its first batch are found through torch's global
hooks as `scalediag run` finds them (scalediag.integrations.script), at the optimizer's first step.
- torchtest2: `check_model(model, inputs, targets, loss_fn=..., optimizer=...)` on that first batch, with the
  program's own model, loss and optimizer (it restores their state); then the program is stopped: a pre-training
  check needs no more.
- torch-audit: `Auditor(model, optimizer=...).autopatch()` (its "zero-touch" mode: static and init audits at once,
  then its forward and optimizer audits every EVERY steps) until the program ends; `finish()` gives the findings.
"""

from __future__ import annotations

import json
import runpy
import sys
import time
import traceback
from pathlib import Path

from scalediag.integrations.script import ScriptWatch

EVERY = 50  # torch-audit's runtime audits: at scalediag's own cadence


class Stop(Exception):
    """Ends a program once a pre-training check has run."""


class PeerRun(ScriptWatch):
    def __init__(self, tool: str):
        super().__init__(Path("."), 1, 1)
        self.tool, self.result, self.auditor = tool, {"findings": [], "attached": False}, None

    def attach(self, model, optimizer, inputs, target) -> None:
        self.gave_up = True  # found: no more looking
        for h in self.handles:
            h.remove()
        self.handles = []
        self.result["attached"] = True
        start = time.perf_counter()
        if self.tool == "torchtest2":
            self._torchtest2(model, optimizer, inputs, target)
            self.result["seconds"] = time.perf_counter() - start
            raise Stop
        import torch_audit

        self.auditor = torch_audit.Auditor(model, optimizer=optimizer, every_n_steps=EVERY)
        self.auditor.autopatch()
        self.result["attach_seconds"] = time.perf_counter() - start

    def _torchtest2(self, model, optimizer, inputs, target) -> None:
        import torchtest2

        loss = getattr(self, "loss_module", None) or self.labels.get("loss_fn")
        batch = inputs[0] if len(inputs) == 1 else tuple(inputs)
        report = torchtest2.check_model(model, batch, target, loss_fn=loss, optimizer=optimizer)
        self.result["loss_fn"] = getattr(loss, "__name__", type(loss).__name__) if loss is not None else None
        self.result["findings"] = [{"rule": r.name, "severity": str(r.status), "message": r.message}
                                   for r in report.results if str(r.status) in ("WARN", "FAIL")]

    def finish(self) -> None:
        if self.auditor is not None:
            result = self.auditor.finish()
            self.auditor.unpatch()
            self.result["findings"] = [{"rule": f.rule_id, "severity": f.severity.value, "message": f.message,
                                        "where": f.module_path or f.entity} for f in result.findings]


def main() -> int:
    tool, out, script = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    peer = PeerRun(tool)
    sys.argv = [str(script), *sys.argv[4:]]  # the program's own arguments: the variant it runs
    sys.path.insert(0, str(script.resolve().parent))
    start = time.perf_counter()
    peer.labels_on()
    try:
        runpy.run_path(str(script), run_name="__main__")
    except Stop:
        pass
    except BaseException as e:  # the program's own error, or the tool's: recorded, as a user would see it
        peer.result["error"] = f"{type(e).__name__}: {e}"
        traceback.print_exc()
    peer.labels_off()  # left once, whether or not the tool attached
    peer.finish()
    peer.result["wall_seconds"] = time.perf_counter() - start
    out.write_text(json.dumps(peer.result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
