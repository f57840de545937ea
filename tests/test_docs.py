"""The README and docs/: the README short and narrow, its table of causes the registry's, and every relative link
(file and anchor) of every page resolving, so that moving a section cannot leave a dead link."""

import re
from pathlib import Path

from scalediag.explain.causes import CAUSES, ORDER
from scalediag.explain.causes.base import TASKS

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {_anchor(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, flags=re.M)}


def test_the_readme_is_short_and_narrow():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 200
    assert [n for n, line in enumerate(lines, 1) if len(line) > 120] == []


def test_the_readme_s_causes_are_the_registry_s():
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| (\w+) \| ([\w, ]+) \|$", (ROOT / "README.md").read_text(), flags=re.M)
    assert [r[0] for r in rows] == list(ORDER)  # every cause once, in the order they are tried
    for cause_id, fix, tasks in rows:
        cause = CAUSES[cause_id]
        assert fix == cause.fix, cause_id
        assert (set(TASKS) if tasks == "all" else set(tasks.split(","))) == set(cause.tasks), cause_id


def test_every_relative_link_resolves():
    broken = []
    for page in PAGES:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []
