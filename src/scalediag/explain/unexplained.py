"""A run that fails where no cause holds is `unexplained`, never healthy: the numbers that show the failure, and the
causes that came nearest to their thresholds (each cause's own near(): its measured value against its own
threshold, 1 being the threshold)."""

from __future__ import annotations

from .causes import CAUSES
from .facts import failure


def candidates(run: dict, symptoms: list) -> list[tuple[float, str]]:
    """(closeness, what) of every cause that can be measured on this record and is below its threshold."""
    found = []
    for cause in CAUSES.values():
        near = cause.near(run, symptoms) if cause.applies(run) else None
        closeness = near.closeness if near is not None else None
        if closeness is not None and 0 < closeness < 1:
            found.append((closeness, near.text))
    return sorted(found, reverse=True)


def unexplained(run: dict, symptoms: list) -> str | None:
    why = failure(run)
    if why is None:
        return None
    near = candidates(run, symptoms)[:3]
    shown = "; ".join(f"{text}, at {c:.0%} of its threshold" for c, text in near) or "none measured"
    return (f"the run fails ({why}), and no cause scalediag knows met its threshold; nearest: {shown}. A fault "
            f"outside what scalediag measures: look at the data, the model's capacity and the loss")
