"""scalediag.watch under DistributedDataParallel for real: `torchrun --nproc_per_node=2` on the gloo backend (CPU),
each rank watched into log_dir/rank<r>, and `scalediag report` over log_dir."""

import csv
import json
import subprocess
import sys
import textwrap

from conftest import run_cli

SCRIPT = textwrap.dedent('''
    import contextlib
    import sys
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    from torch import nn
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

    import scalediag

    dist.init_process_group("gloo")
    torch.manual_seed(0)  # the same initial weights on both ranks, as DDP expects
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 20, generator=g)
    y = x[:, :4].argmax(1)
    data = TensorDataset(x, y)
    sampler = DistributedSampler(data, shuffle=True, seed=0)
    loader = DataLoader(data, batch_size=32, sampler=sampler)
    model = DistributedDataParallel(nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 4)))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    watched = sys.argv[2] == "watched"
    w = scalediag.watch(model, opt, sys.argv[1], every=2, probe=(x[:128], y[:128])) if watched else None
    with w or contextlib.nullcontext():
        for epoch in range(2):
            sampler.set_epoch(epoch)
            model.train()
            total = 0.0
            for xb, yb in loader:
                loss = F.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item()
                losses.append(loss.item())
            if w:
                w.epoch_end(train_loss=total / len(loader))
    weights = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    torch.save({"losses": losses, "weights": weights}, f"{sys.argv[1]}/{sys.argv[2]}{dist.get_rank()}.pt")
    dist.barrier()  # both ranks done before either tears gloo down (a rank leaving early can abort the other)
    dist.destroy_process_group()
''')


def test_each_rank_is_watched_into_its_own_directory_and_the_report_reads_both(tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    out = tmp_path / "runs"
    out.mkdir()
    for how in ("plain", "watched"):
        p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                            str(script), str(out), how], capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr[-3000:]
    records = [json.loads((out / f"rank{r}" / "metrics.json").read_text()) for r in (0, 1)]
    for record in records:
        assert record["status"] == "completed"
        assert [h["epoch"] for h in record["history"]] == [1, 2]
        assert record["steps"] == 16  # 512 samples, 256 per rank, batch 32: 8 steps per epoch
        assert record["config"]["model"]["layers"] == ["0", "2"]
    # DDP averages the gradients: both replicas end with the same weights, and watch measured them so
    import torch

    results = [torch.load(out / f"watched{r}.pt") for r in (0, 1)]
    plain = [torch.load(out / f"plain{r}.pt") for r in (0, 1)]
    assert [r["losses"] for r in results] == [r["losses"] for r in plain]  # watched or not: every step the same
    assert torch.equal(results[0]["weights"], results[1]["weights"])
    assert results[0]["losses"] != results[1]["losses"]  # each rank trained on its own half of the data
    norms = [r["history"][-1]["diag"]["weights/0/norm"] for r in records]
    assert norms[0] == norms[1]
    report = run_cli(["report", str(out)], cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    rows = {r["run"]: r for r in csv.DictReader((out / "summary.csv").open())}
    assert set(rows) == {"rank0", "rank1"} and all(r["cause"] for r in rows.values())
