"""What a user sees in TensorBoard: every tag of every run, HParams in the run's own directory, the real server."""

import json
import re
import subprocess
import sys
import time
import urllib.request

import pytest
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

from conftest import fake_sweep

SCALARS = {
    "loss/train_step", "loss/train", "loss/test", "acc/test", "loss/init",
    "weights/fc1/norm", "weights/fc2/norm", "bias/fc1/norm", "bias/fc2/norm",
    "update/fc1/ratio", "update/fc2/ratio", "grad/fc1/norm", "grad/fc2/norm",
    "grad/fc1/output_rms", "grad/fc2/output_rms",
    "act/fc1/preact_mean", "act/fc1/preact_std", "act/fc1/preact_max_abs",
    "act/fc1/dead_fraction_batch", "act/fc1/dead_fraction", "act/fc1/saturated_fraction",
    "act/fc1/saturated_fraction_batch", "adam/fc1/eps_fraction", "adam/fc2/sqrt_v_median",
    "logits/min", "logits/max", "logits/std", "logits/margin", "logits/sum_dev",
    "probs/clipped_fraction", "probs/saturated_fraction", "acc/probe", "input/rms", "weights/fc1/gain",
}
HISTOGRAMS = {"weights/fc1", "weights/fc2", "bias/fc1", "bias/fc2", "act/fc1/preact", "logits"}
HPARAMS = {"divisor", "optimizer", "optimizer.eps", "optimizer.lr", "loss", "model.init", "model.init_std",
           "model.output", "model.activation", "model.hidden", "data.label_noise", "seed", "train.batch_size"}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    sweep, _ = fake_sweep(tmp_path_factory.mktemp("tb"), "divisor=1,255", "diag.every_n_steps=4",
                          "diag.probe_size=100")
    return sweep


def _events(run_dir):
    (path,) = run_dir.glob("events.out.tfevents.*")  # one writer per run, one file
    by_tag = {}
    for event in EventFileLoader(str(path)).Load():
        for v in event.summary.value:
            by_tag.setdefault(v.tag, []).append((event.step, v.metadata.plugin_data.plugin_name))
    return by_tag


def test_every_tag_is_in_each_run_and_hparams_in_its_own_directory(sweep):
    for run in ("divisor=1", "divisor=255"):
        by_tag = _events(sweep / run)
        scalars = {t for t, e in by_tag.items() if e[0][1] == "scalars"}
        histograms = {t for t, e in by_tag.items() if e[0][1] == "histograms"}
        assert SCALARS <= scalars, SCALARS - scalars
        assert HISTOGRAMS <= histograms, HISTOGRAMS - histograms
        assert {"_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"} <= set(by_tag)
        assert [s for s, _ in by_tag["loss/init"]] == [0]
        # 16 steps/epoch: the early steps 1 and 2 (4, 8, 16, 32 are every 4th anyway), then every 4th
        assert [s for s, _ in by_tag["loss/train_step"]] == [1, 2, *range(4, 81, 4)]
        assert [s for s, _ in by_tag["act/fc1/dead_fraction"]] == [0, 16, 32, 48, 64, 80]  # at init and per epoch
        assert [s for s, _ in by_tag["weights/fc1"]] == [0, 16, 32, 48, 64, 80]  # at init and per epoch
        assert not [p for p in (sweep / run).iterdir() if p.is_dir() and p.name != ".hydra"]  # no sub-runs


def _get(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def test_the_tensorboard_server_shows_each_run_its_scalars_and_hparams(sweep):
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(sweep), "--host",
                               "127.0.0.1", "--port", "0", "--load_fast=false", "--reload_interval", "1"],
                              stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        base = None
        deadline = time.monotonic() + 60
        while base is None and time.monotonic() < deadline:
            line = server.stderr.readline()
            match = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
            base = match.group(1) if match else None
        assert base, "TensorBoard did not start"
        runs = []
        while set(runs) != {"divisor=1", "divisor=255"} and time.monotonic() < deadline:
            time.sleep(0.5)
            runs = _get(f"{base}/data/runs")
        assert set(runs) == {"divisor=1", "divisor=255"}
        tags = _get(f"{base}/data/plugin/scalars/tags")
        for run in runs:
            assert SCALARS <= set(tags[run])
        experiment = _get(f"{base}/data/plugin/hparams/experiment", {"experimentName": ""})
        assert {h["name"] for h in experiment["hparamInfos"]} == HPARAMS
        groups = _get(f"{base}/data/plugin/hparams/session_groups", {
            "experimentName": "", "startIndex": 0, "sliceSize": 10,
            "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]})
        sessions = {g["name"]: g for g in groups["sessionGroups"]}
        assert set(sessions) == {"divisor=1", "divisor=255"}
        assert sessions["divisor=1"]["hparams"]["divisor"] == 1.0
        assert {m["name"]["tag"] for m in sessions["divisor=255"]["metricValues"]} == {"loss/train", "loss/test",
                                                                                         "acc/test"}
        # the why: each run's diagnosis as text, its own at its end and the sweep's comparisons at the sweep's end
        assert {run: set(t) for run, t in _get(f"{base}/data/plugin/text/tags").items()} == {
            run: {"diagnosis/run", "diagnosis/sweep"} for run in ("divisor=1", "divisor=255")}
        own = _get(f"{base}/data/plugin/text/text?run=divisor%3D1&tag=diagnosis%2Frun")
        assert len(own) == 1 and "initial loss" in own[0]["text"] and "far above ln(10)" in own[0]["text"]
        sweep_text = _get(f"{base}/data/plugin/text/text?run=divisor%3D1&tag=diagnosis%2Fsweep")[0]["text"]
        md = (sweep / "summary.md").read_text().split("- **divisor=1**\n", 1)[1].split("\n- **", 1)[0]
        # TensorBoard renders the Markdown: the cause's **bold** arrives as <strong>
        findings = [line.removeprefix("  - ").split(" (")[0].replace("**", "") for line in md.splitlines()
                    if line.startswith("  - ")]
        assert findings and all(f in sweep_text for f in findings)  # the report's lines for this run
        # related tags on one chart each
        layout = _get(f"{base}/data/plugin/custom_scalars/layout")
        charts = {c["title"]: c["multiline"]["tag"] for cat in layout["category"] for c in cat["chart"]}
        assert charts["update ratio ||dw||/||w||, per layer"] == [r"^update/[^/]+/ratio$"]
        assert charts["saturated (sample, unit) pairs, per hidden layer"] == [r"^act/[^/]+/saturated_fraction$"]
        assert charts["pre-activation scale, per hidden layer"] == [r"^act/[^/]+/preact_std$"]
        assert len(layout["category"]) == 1  # one layout per run, merged: no duplicates
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_event_checksums_are_tensorboards_own_and_tensorboard_is_left_as_it_is():
    """scalediag.measure.writer frames its records with google-crc32c's C CRC: the same checksum as TensorBoard's pure-Python
    one, byte for byte, and the reader (which checks each record's CRC) loads what the writer wrote; TensorBoard's
    own writer keeps its own function."""
    import os
    import random

    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c as reference
    from tensorboard.summary.writer import record_writer

    from scalediag.events import masked_crc32c

    assert record_writer.masked_crc32c is reference  # nothing of TensorBoard's is replaced
    import io

    from scalediag.events import record

    theirs = io.BytesIO()
    record_writer.RecordWriter(theirs).write(b"an event")
    assert record(b"an event") == theirs.getvalue()  # the same framing, byte for byte
    random.seed(0)
    for n in [0, 1, 7, 8, 9, 1000, 4096, *random.sample(range(1, 3000), 20)]:
        data = os.urandom(n)
        assert masked_crc32c(data) == reference(data), n


def test_a_resumed_run_s_writer_purges_what_was_logged_after_the_checkpoint(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from scalediag.measure.writer import RunWriter

    with RunWriter(tmp_path) as cut:  # logged steps 1-10, then stopped; its checkpoint holds steps 1-5
        for step in range(1, 11):
            cut.scalars({"loss/train_step": float(step)}, step)
    with RunWriter(tmp_path, purge_step=6) as resumed:
        for step in range(6, 9):
            resumed.scalars({"loss/train_step": 100.0 + step}, step)
    events = EventAccumulator(str(tmp_path)).Reload().Scalars("loss/train_step")
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 2
    assert [(e.step, e.value) for e in events] == [(s, s) for s in range(1, 6)] + [(s, 100 + s) for s in range(6, 9)]


@pytest.mark.parametrize("case", ["normal", "zeros", "one value", "relu", "integers", "huge", "tiny", "offset"])
def test_histograms_are_tensorboard_s_own(case):
    import torch
    from torch.utils.tensorboard.summary import histogram as tensorboard_histogram

    from scalediag.measure.writer import HIST_BINS, histogram

    g = torch.Generator().manual_seed(0)
    values = {"normal": torch.randn(128, 784, generator=g), "zeros": torch.zeros(128),  # Keras' initial biases
              "one value": torch.tensor([3.5]), "relu": torch.randn(1000, 128, generator=g).relu(),
              "integers": torch.randint(0, 5, (1000,), generator=g).float(),
              "huge": torch.randn(1000, generator=g) * 1e30, "tiny": torch.randn(100, generator=g) * 1e-30,
              "offset": torch.randn(500, generator=g) + 1e4}[case]
    ours = histogram("t", values).value[0].histo
    theirs = tensorboard_histogram("t", values.numpy(), bins=HIST_BINS).value[0].histo
    assert (ours.min, ours.max, ours.num) == (theirs.min, theirs.max, theirs.num)
    assert list(ours.bucket) == list(theirs.bucket)
    assert list(ours.bucket_limit) == pytest.approx(list(theirs.bucket_limit), rel=1e-12)
    assert (ours.sum, ours.sum_squares) == pytest.approx((theirs.sum, theirs.sum_squares), rel=1e-9, abs=1e-300)


def test_no_histogram_of_non_finite_values(tmp_path):
    import torch

    from scalediag.measure.writer import RunWriter

    with RunWriter(tmp_path) as writer:
        writer.histograms({"finite": torch.randn(100), "nan": torch.tensor([1.0, float("nan")]),
                           "inf": torch.tensor([1.0, float("-inf")])}, step=1)
    (path,) = tmp_path.glob("events.out.tfevents.*")
    tags = [v.tag for e in EventFileLoader(str(path)).Load() for v in e.summary.value]
    assert tags == ["finite"]


def test_a_two_hidden_layer_run_logs_every_layer_s_statistics(fake_root, tmp_path):
    from conftest import compose_cfg, fake_overrides
    from scalediag.run.train import run

    run(compose_cfg([*fake_overrides(fake_root), "model.hidden=[32,16]", "train.epochs=1", "diag.every_n_steps=4"]),
        tmp_path, name="deep")
    by_tag = _events(tmp_path)
    for layer in ("fc1", "fc2"):
        for stat in ("preact_std", "preact_mean", "preact_max_abs", "dead_fraction", "dead_fraction_batch",
                     "saturated_fraction", "saturated_fraction_batch"):
            assert f"act/{layer}/{stat}" in by_tag, (layer, stat)
        assert by_tag[f"act/{layer}/preact"][0][1] == "histograms"
    for layer in ("fc1", "fc2", "fc3"):
        assert {f"weights/{layer}/norm", f"grad/{layer}/output_rms", f"update/{layer}/ratio",
                f"adam/{layer}/eps_fraction", f"weights/{layer}"} <= set(by_tag)
    assert not [t for t in by_tag if t.startswith("act/fc3/")]
