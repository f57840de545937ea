"""The step monitor: which steps are measured, where their captures wait, when they reach TensorBoard."""

import pytest
import torch

from conftest import fake_data, keras_adam, scalar_steps, scalars


def test_each_measured_step_is_written_once_with_its_own_numbers(fake_root, tmp_path, monkeypatch):
    """Captured steps wait in a store of a few slots and are computed in bulk: a full store and a short last batch
    (other shapes) each drain what waits first. Every step's event carries that step's loss, in step order."""
    import scalediag.measure.monitor as monitor_module
    import scalediag.run.train as train
    from scalediag.measure.hooks import Diagnostics
    from scalediag.run.losses import cross_entropy
    from scalediag.run.model import build_model
    from scalediag.measure.writer import RunWriter

    monkeypatch.setattr(monitor_module, "PENDING_BYTES", 3 * 57_000)  # 3 slots of a batch-100 capture (~56.5 KB)
    data = fake_data(fake_root)
    seen = []

    def recording(logits, target, reduction):
        loss = cross_entropy(logits, target, reduction=reduction)
        seen.append(loss.item())
        return loss

    torch.manual_seed(0)
    model = build_model(128, "keras")
    optimizer = keras_adam(model)
    gen = torch.Generator().manual_seed(0)
    with RunWriter(tmp_path) as writer, Diagnostics(model) as diag:
        monitor = monitor_module.StepMonitor(diag, writer, every=1)
        take, drained = monitor.pending.take, []

        def recording_take():
            steps, capture = take()
            drained.append(steps)
            return steps, capture

        monitor.pending.take = recording_take
        for _ in range(2):  # 512 samples: 5 batches of 100, then 12
            train.train_epoch(model, optimizer, recording, data.train, 255.0, 100, gen, monitor)
            means = monitor.epoch_means()
    # 3 slots full; the short batch's other shapes; the epoch's end
    assert [steps for steps in drained if steps] == [[1, 2, 3], [4, 5], [6], [7, 8, 9], [10, 11], [12]]
    logged = scalars(tmp_path, "loss/train_step")
    assert [step for step, _ in logged] == list(range(1, 13))
    assert [v for _, v in logged] == pytest.approx(seen, rel=1e-6)
    assert means["loss/train_step"] == pytest.approx(sum(seen[6:]) / 6, rel=1e-6)


@pytest.mark.parametrize("flush_seconds", [10, 0])
def test_a_long_epoch_s_measured_steps_reach_tensorboard_while_it_runs(fake_root, tmp_path, monkeypatch, flush_seconds):
    """Captured steps are computed and written at the epoch's end, or once they have waited FLUSH_SECONDS (0 here
    stands for an epoch longer than that): then each logging step drains itself."""
    import scalediag.measure.monitor as monitor_module
    import scalediag.run.train as train
    from scalediag.measure.hooks import Diagnostics
    from scalediag.run.losses import cross_entropy
    from scalediag.run.model import build_model
    from scalediag.measure.writer import RunWriter

    monkeypatch.setattr(monitor_module, "FLUSH_SECONDS", flush_seconds)
    data = fake_data(fake_root)
    model = build_model(128, "keras")
    with RunWriter(tmp_path) as writer, Diagnostics(model) as diag:
        monitor = monitor_module.StepMonitor(diag, writer, every=4)
        train.train_epoch(model, keras_adam(model), cross_entropy, data.train, 255.0, 32,
                          torch.Generator().manual_seed(0), monitor)
        writer.flush()  # the epoch has not ended: no epoch_means() yet
        steps = scalar_steps(tmp_path, "loss/train_step")
        assert steps == ([] if flush_seconds else [4, 8, 12, 16])  # 512 samples: 16 steps
        assert monitor.pending.steps == ([4, 8, 12, 16] if flush_seconds else [])
