"""Nothing a user does loses a finished result: mistaken resumes, damaged files, killed runs, unwritable places.
Each refusal: a non-zero exit, one line naming the file, key or path, and every file on disk as it was."""

import json
import os
import signal
import subprocess

from conftest import cli, fake_overrides, fake_sweep, run_cli, write_fashion


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _refused(p, message, code=1):
    assert p.returncode == code, p.stdout + p.stderr
    errors = [line for line in p.stderr.splitlines() if line.startswith("scalediag: error:")]
    assert len(errors) == 1 and message in errors[0], p.stderr
    assert "Traceback" not in p.stderr and "Epoch" not in p.stdout
    return errors[0]


def _finished_run(fake_root, tmp_path):
    run_dir = tmp_path / "run"
    p = run_cli([*fake_overrides(fake_root), "train.epochs=1", f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    return run_dir, _snapshot(run_dir)


def test_a_resume_with_another_configuration_changes_no_file(fake_root, tmp_path):
    run_dir, before = _finished_run(fake_root, tmp_path)
    p = run_cli([*fake_overrides(fake_root), "train.epochs=2", "divisor=1", "train.resume=true",
                 f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    line = _refused(p, "checkpoint.pt was made with divisor=255, this run has divisor=1")
    assert str(run_dir) in line
    assert _snapshot(run_dir) == before
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "completed"


def test_a_damaged_checkpoint_is_named_with_what_to_do_and_changes_no_file(fake_root, tmp_path):
    run_dir, _ = _finished_run(fake_root, tmp_path)
    (run_dir / "checkpoint.pt").write_bytes((run_dir / "checkpoint.pt").read_bytes()[:1000])  # cut short
    before = _snapshot(run_dir)
    p = run_cli([*fake_overrides(fake_root), "train.epochs=2", "train.resume=true", f"hydra.run.dir={run_dir}"],
                cwd=tmp_path)
    line = _refused(p, f"{run_dir / 'checkpoint.pt'}: damaged, cannot be read")
    assert "delete it" in line and "another directory" in line
    assert _snapshot(run_dir) == before


def test_a_directory_that_holds_a_run_s_results_is_not_written_over(fake_root, tmp_path):
    run_dir, before = _finished_run(fake_root, tmp_path)
    p = run_cli([*fake_overrides(fake_root), "train.epochs=1", "seed=3", f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    _refused(p, f"{run_dir / 'metrics.json'}: this directory already holds a run's results")
    assert _snapshot(run_dir) == before
    sweep = tmp_path / "sweep"
    (sweep / "seed=0,train.epochs=1").mkdir(parents=True)
    (sweep / "seed=0,train.epochs=1" / "metrics.json").write_text('{"status": "completed"}')
    before = _snapshot(sweep)
    p = run_cli(["--multirun", "seed=0,1", "train.epochs=1", *fake_overrides(fake_root), f"hydra.sweep.dir={sweep}"],
                cwd=tmp_path)
    _refused(p, "seed=0,train.epochs=1/metrics.json: this directory already holds a run's results")
    assert _snapshot(sweep) == before  # refused before any job ran: not even jobs.json


def test_an_output_directory_that_cannot_be_made(fake_root, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    p = run_cli([*fake_overrides(fake_root), f"hydra.run.dir={blocker / 'run'}"], cwd=tmp_path)
    _refused(p, f"hydra.run.dir='{blocker / 'run'}': {blocker} is a file")
    p = run_cli(["--multirun", "seed=0,1", *fake_overrides(fake_root), "hydra.sweep.dir=/proc/scalediag-no"],
                cwd=tmp_path)
    _refused(p, "hydra.sweep.dir='/proc/scalediag-no': cannot be created in /proc")
    assert blocker.read_text() == "x"


def test_unknown_keys_are_refused_also_when_added_with_plus(fake_root, tmp_path):
    p = run_cli([*fake_overrides(fake_root), "+optimizer.momentum=0.9"], cwd=tmp_path)
    _refused(p, "optimizer.momentum: not a key of scalediag's configuration (optimizer has: betas, eps, lr)", code=2)
    p = run_cli([*fake_overrides(fake_root), "+lr=0.1"], cwd=tmp_path)
    _refused(p, "lr: not a key of scalediag's configuration", code=2)
    assert not list(tmp_path.rglob("metrics.json"))


def test_the_report_names_an_unreadable_or_incomplete_record_and_reports_the_others(tmp_path):
    sweep, _ = fake_sweep(tmp_path, "divisor=1,255,1000", "train.epochs=1")
    (sweep / "divisor=1,train.epochs=1" / "metrics.json").write_text('{"status": "comple')  # cut short
    (sweep / "divisor=1000,train.epochs=1" / "metrics.json").write_text('{"status": "completed"}')
    p = run_cli(["report", str(sweep)], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "- divisor=1,train.epochs=1/metrics.json\n  - UNREADABLE: unreadable (JSONDecodeError" in p.stdout
    assert "- divisor=1000,train.epochs=1/metrics.json\n  - UNREADABLE: incomplete, without config, history" \
        in p.stdout
    assert "| divisor=255,train.epochs=1 | 1 |" in p.stdout and "MISSING" not in p.stdout
    assert "UNREADABLE" in (sweep / "summary.md").read_text()


def test_a_run_killed_outright_is_reported_as_not_finished_with_the_command_that_continues_it(tmp_path):
    root = tmp_path / "data"
    write_fashion(root / "FashionMNIST" / "raw", n_train=30000, n_test=256)
    sweep = tmp_path / "sweep"
    run_dir = sweep / "run"
    args = [*fake_overrides(root), "train.epochs=3", f"hydra.run.dir={run_dir}"]
    proc = subprocess.Popen(cli(args), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for line in proc.stdout:
        if "Epoch 1/" in line:
            proc.send_signal(signal.SIGKILL)  # no handler runs: metrics.json still says "running"
            break
    proc.wait(timeout=120)
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "running"
    p = run_cli(["report", str(sweep)], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "RUNNING" not in p.stdout
    (line,) = [x for x in p.stdout.splitlines() if "DID NOT FINISH" in x][:1]
    assert "killed outright" in line and "kept 1 epoch(s) of 3" in line
    command = line.split("continue it with: ", 1)[1]
    assert command.startswith("python -m scalediag ") and command.endswith(f"hydra.run.dir={run_dir} train.resume=true")
    resumed = run_cli(command.split()[3:], cwd=tmp_path)  # the printed command, as a user would paste it
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads((run_dir / "metrics.json").read_text())
    assert final["status"] == "completed" and [h["epoch"] for h in final["history"]] == [1, 2, 3]


def test_two_sweeps_sharing_one_data_root_both_complete(tmp_path):
    """Both import Debian's files into the same, empty data.root at once."""
    debian = write_fashion(tmp_path / "debian", gz=True)
    root = tmp_path / "shared_data"
    procs = [subprocess.Popen(cli(["--multirun", "divisor=1,255", "train.epochs=1", f"data.root={root}",
                                   f"data.debian_dir={debian}", "data.verify=false", "data.download=false",
                                   f"hydra.sweep.dir={tmp_path / name}"]), cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    for name in ("a", "b"):
        runs = [json.loads(m.read_text()) for m in (tmp_path / name).rglob("metrics.json")]
        assert [r["status"] for r in runs] == ["completed", "completed"]
