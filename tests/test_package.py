"""scalediag as a user installs it: a wheel built from the checkout, into a fresh virtual environment."""

import subprocess
import sys
import sysconfig

from conftest import REPO, fake_overrides


def test_a_wheel_installs_and_runs_from_any_directory(fake_root, tmp_path):
    wheels, venv, work = tmp_path / "wheels", tmp_path / "venv", tmp_path / "elsewhere"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(wheels), str(REPO)], check=True, cwd=tmp_path)
    (wheel,) = wheels.glob("scalediag-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # the dependencies already installed here (torch and the rest), not downloaded again: a path appended by a .pth
    # line (this environment's own .pth files, the editable scalediag's among them, are not read through it)
    (venv / site.removeprefix(str(venv)).lstrip("/") / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    work.mkdir()
    where = subprocess.run([str(python), "-c", "import scalediag; print(scalediag.__file__)"], cwd=work,
                           check=True, capture_output=True, text=True).stdout
    assert where.startswith(str(venv)), where  # the installed copy, not the checkout
    run = subprocess.run([str(venv / "bin" / "scalediag"), *fake_overrides(fake_root), "train.epochs=1",
                          "hydra.run.dir=run"], cwd=work, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert (work / "run" / "metrics.json").is_file()
    helped = subprocess.run([str(venv / "bin" / "scalediag"), "--help"], cwd=work, capture_output=True, text=True)
    assert helped.returncode == 0 and "scalediag report SWEEP_DIR" in helped.stdout


def test_help_names_the_commands_and_the_main_keys(tmp_path):
    from conftest import run_cli

    p = run_cli(["--help"], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    for text in ("--multirun", "scalediag report SWEEP_DIR", "+experiment=question", "divisor", "optimizer.eps",
                 "model.activation", "train.epochs", "optimizer: keras, torch", "loss: cross_entropy, keras_clipped"):
        assert text in p.stdout, text
    assert not list(tmp_path.iterdir())  # help runs nothing
