"""The package's stages and the direction of their imports: measure <- run -> explain, measure never the other way."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import scalediag

PACKAGE = Path(scalediag.__file__).parent
HEAVY = ("hydra", "omegaconf", "matplotlib")  # loaded by the CLI and the report, never by the measurements


def _modules(stage: str) -> list[str]:
    return [f"scalediag.{stage}.{p.stem}" for p in sorted((PACKAGE / stage).glob("*.py")) if p.stem != "__init__"]


def _imports(path: Path, package: str) -> set[str]:
    """Every module a file imports, at its top or inside functions, relative imports resolved against package."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found |= {module} | {f"{module}.{a.name}" for a in node.names}
    return found


def _stage_imports(stage: str) -> set[str]:
    return set().union(*(_imports(p, f"scalediag.{stage}") for p in (PACKAGE / stage).glob("*.py")))


def test_measure_imports_neither_run_nor_explain_nor_hydra_anywhere_in_its_code():
    found = _stage_imports("measure")
    assert not {m for m in found if m.startswith(("scalediag.run", "scalediag.explain", *HEAVY))}


def _explain_modules() -> list[str]:
    root = PACKAGE / "explain"
    return [f"scalediag.explain.{'.'.join(p.relative_to(root).with_suffix('').parts)}".removesuffix(".__init__")
            for p in sorted(root.rglob("*.py"))]


def test_explain_imports_neither_run_nor_measure_nor_torch_anywhere_in_its_code():
    found = set().union(*(_imports(p, ".".join(["scalediag", *p.relative_to(PACKAGE).parent.parts]))
                          for p in (PACKAGE / "explain").rglob("*.py")))
    assert not {m for m in found if m.startswith(("scalediag.run", "scalediag.measure", "torch"))}


def test_a_fresh_interpreter_importing_every_explain_module_has_not_imported_torch():
    """`scalediag report` reads files and tag names: the report, the chain, the causes, the scoring."""
    modules = _explain_modules()
    code = (f"import importlib, json, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
            "print(json.dumps(sorted(sys.modules)))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                       check=True).stdout)
    assert {"scalediag.explain.report", "scalediag.explain.chain", "scalediag.explain.causes.input_scale"} <= \
        set(loaded)
    assert not [m for m in loaded if m.split(".")[0] == "torch" or m.startswith(("scalediag.run",
                                                                                 "scalediag.measure"))]


def test_a_fresh_interpreter_importing_scalediag_and_every_measure_module_loads_no_run_explain_hydra_or_matplotlib():
    modules = ["scalediag", *_modules("measure")]
    code = (f"import importlib, json, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
            "print(json.dumps(sorted(sys.modules)))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                       check=True).stdout)
    assert {"scalediag.measure.hooks", "scalediag.measure.monitor", "torch"} <= set(loaded)  # it did import them
    assert not [m for m in loaded if m.startswith(("scalediag.run", "scalediag.explain"))]
    assert not [m for m in loaded if m.split(".")[0] in HEAVY]


def test_three_stages_few_modules_at_the_top_none_too_long():
    assert {"run", "measure", "explain"} <= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    top = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    assert len(top) <= 4, top
    lengths = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert max(lengths.values()) <= 300, lengths


def test_import_scalediag_loads_neither_torch_nor_lightning_nor_transformers():
    """The integrations stay at the edge: only `scalediag.integrations.<name>` imports its framework."""
    import subprocess
    import sys

    code = ("import sys, scalediag, scalediag.integrations; "
            "print(sorted(m for m in ('torch', 'lightning', 'transformers', 'hydra') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "[]\n"
