"""The command line's key=value overrides, checked against the configuration's keys before Hydra composes it: a
mistyped key gets one line with the nearest valid key, where Hydra would print six about struct mode and '+'."""

from __future__ import annotations

import difflib
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"  # the repository's conf/ through a link; a copy in a wheel


def _flat(node, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in node.items():
        name = f"{prefix}{key}"
        keys.add(name)
        if isinstance(value, DictConfig):
            keys |= _flat(value, f"{name}.")
    return keys


def known_keys() -> tuple[set[str], set[str]]:
    """(every dotted key of the configuration, the config groups): the primary config's own keys, and each group's
    keys under its name, from every member of the group (a member may bring keys of its own)."""
    primary = OmegaConf.load(CONF_DIR / "config.yaml")
    keys = _flat(OmegaConf.masked_copy(primary, [k for k in primary if k not in ("defaults", "hydra")]))
    groups = {p.name for p in CONF_DIR.iterdir() if p.is_dir() and p.name != "hydra"}
    for group in groups:
        keys.add(group)
        for member in (CONF_DIR / group).glob("*.yaml"):
            node = OmegaConf.load(member)
            if "# @package _global_" not in member.read_text():
                keys |= _flat(OmegaConf.masked_copy(node, [k for k in node if k != "defaults"]), f"{group}.")
    return keys, groups


def unknown(args: list[str]) -> str | None:
    """The first override whose key the configuration does not have, as one line with the nearest valid key; None
    where all are known. Left to Hydra: its own options (-m, --cfg, ...), hydra.*, and '+' / '~' (deliberate)."""
    overrides = [a for a in args if "=" in a and not a.startswith(("-", "+", "~", "hydra.", "hydra/"))]
    if not overrides:
        return None
    keys, groups = known_keys()
    for arg in overrides:
        key, value = arg.split("=", 1)
        if key in groups:  # a choice of the group: one of its files (a sweep lists several)
            members = sorted(p.stem for p in (CONF_DIR / key).glob("*.yaml"))
            wrong = [v for v in value.split(",") if v not in members and v != "null"]
            if wrong:
                return (f"{arg}: no such {key} ({key}/{wrong[0]}.yaml); choose one of {', '.join(members)}")
            continue
        if key in keys or key.split("/")[0] in groups:
            continue
        near = difflib.get_close_matches(key, sorted(keys), n=1, cutoff=0.6)
        return (f"{arg}: no such key" + (f"; did you mean {near[0]}?" if near else "")
                + " (python -m scalediag --cfg job lists them all; '+key=value' adds a new one)")
    return None
