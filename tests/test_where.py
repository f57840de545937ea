"""Each bug of the code, the data and the schedule pointed at by its own file:line, with a fix (#36): a small script
with one bug (tests/programs/where_bugs.py, its bug's lines marked `# where: <cause>`) run under `scalediag run`;
its healthy twin gets no location. And the pieces: the user's frame found past torch's and scalediag's, a
framework's loop said as such, lines inside forward."""

import functools
import re
import sys
from pathlib import Path

import pytest

from conftest import run_cli
from scalediag.explain.chain import explain
from scalediag.explain.where import Location, bare, in_forward, unknown
from scalediag.measure import where as where_module
from scalediag.measure.where import caller

SCRIPT = Path(__file__).parent / "programs" / "where_bugs.py"
MARKED = [(n, [c.strip() for c in m.group(1).split(",")]) for n, line in enumerate(SCRIPT.read_text().splitlines(), 1)
          if (m := re.search(r"  # where: ([\w, ]+)$", line))]
BUGS = sorted({c for _, causes in MARKED for c in causes})


def _run(tmp_path, bug: str, every: int = 4):
    p = run_cli(["run", "--every", str(every), "--dir", str(tmp_path / bug), str(SCRIPT), bug], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    return p.stderr.splitlines()


@pytest.mark.parametrize("bug", BUGS)
def test_the_bug_s_own_lines_and_its_fix_are_printed(bug, tmp_path):
    # class-sorted batches show as blocks of one predicted class only where several steps of a block are measured
    lines = _run(tmp_path, bug, every=1 if bug == "unshuffled" else 4)
    cause = next(line for line in lines if line.startswith("- **cause:"))
    assert f"({bug})" in cause, "\n".join(lines)
    where = next(line for line in lines if line.startswith("- where: "))
    for n in (n for n, causes in MARKED if bug in causes):
        assert f"where_bugs.py:{n} `" in where, where
    assert "# where" not in where  # the line's code without its comment
    assert any(line.startswith("- fix: ") for line in lines)


def test_the_healthy_twin_gets_no_location(tmp_path):
    lines = _run(tmp_path, "none")
    assert lines and any(line.startswith("- healthy:") for line in lines), "\n".join(lines)
    assert not any(line.startswith(("- where:", "- fix:")) for line in lines)


def test_the_user_s_frame_is_found_past_torch_and_scalediag():
    here = caller(sys._getframe())
    assert here["file"] == __file__ and here["function"] == "test_the_user_s_frame_is_found_past_torch_and_scalediag"
    assert here["code"].startswith("here = caller(")


def test_a_line_inside_a_framework_is_not_guessed(tmp_path):
    """A frame inside another installed package (Lightning's loop) is named as the package, not as a user line."""
    fake = tmp_path / "site-packages" / "lightning" / "loop.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("def fit(cb):\n    return cb()\n")
    namespace: dict = {}
    exec(compile(fake.read_text(), str(fake), "exec"), namespace)
    # a hook of scalediag's own, called back by the framework's loop, called by the test
    exec(compile("import sys\ndef hook(find):\n    return find(sys._getframe())\n", where_module.__file__, "exec"),
         namespace)
    assert namespace["fit"](functools.partial(namespace["hook"], caller)) == {"framework": "lightning"}
    run = {"kind": "watched", "program": {"where": {"sites": {"step": {"framework": "lightning"}}}}}
    assert unknown(run) == "inside lightning's training loop: no line of yours was on the stack"
    assert unknown({"kind": "experiment"}).startswith("scalediag's own experiment")


def test_forward_lines_and_code_without_comments():
    code = ["    def forward(self, x):", "        x = F.softmax(self.fc(x), dim=1)  # probabilities", "        return x"]
    run = {"program": {"where": {"forward": {"file": "m.py", "first": 10, "code": code}}}}
    (found,) = in_forward(run, r"softmax\(", "a softmax")
    assert (found.line, bare(found.code)) == (11, "x = F.softmax(self.fc(x), dim=1)")
    assert str(Location("/abs/m.py", 3, "y = 1  # note", "r")) == "/abs/m.py:3 `y = 1` (r)"


def test_a_record_without_lines_says_why_for_code_causes_only():
    from test_causes import healthy, last

    run = healthy()  # a Hydra experiment with its inputs off scale: a data cause, no line of the user's to give
    run["init"].update({"act/fc1/preact_std": 150.0, "input/rms": 115.0, "loss/init": 15.1})
    last(run)["update/fc1/ratio"] = 2e-3
    found = explain(run).causes[0]
    assert found.id == "input_scale" and found.where == ()
    text = "\n".join(re.findall(r"^- where: .*$", __import__("scalediag.explain.chain", fromlist=["x"]).run_text(run),
                                flags=re.M))
    assert text == "- where: not known (scalediag's own experiment: set by its configuration, not by a line of yours)"
