"""Benchmarks on the real Fashion-MNIST; each suite prints its results and writes them to scripts/results/.

    python scripts/bench.py epoch [--reps 15]  # diagnostics' cost, against a typical loop -> bench_epoch.json
    python scripts/bench.py batch              # seconds per epoch, batch 32 to 4096       -> bench_batch.json
    python scripts/bench.py sweep              # the 3-divisor sweep, sequential vs joblib -> bench_sweep.json
    python scripts/bench.py choices            # each speed choice against its alternative -> bench_choices.json
    python scripts/bench.py writer [--reps 15] # events from the training thread vs a writer thread -> bench_writer.json
    python scripts/bench.py optimizer [--reps 15]  # optimizer=keras against optimizer=torch -> bench_optimizer.json
    python scripts/bench.py startup [--reps 5]     # whole processes against import torch -> bench_startup.json

epoch: seconds per training epoch at batch 32, variants alternated within one run.
Variants: scalediag's loop with diagnostics off, on at the default cadence (every 50 steps, plus the per-epoch
probe and histograms), on at every step; and the loop a user would typically write (torchvision FashionMNIST +
ToTensor + DataLoader, the same model, torch's default Adam, loss.item() each step). Each variant keeps training its
own model across repetitions; one epoch of each per repetition, in turn (the order reversed every other
repetition), so machine noise hits all alike; off and every-50 first in a round of their own (see epoch_suite).
Prints and writes medians and median ratios (per repetition, then the median), in wall seconds and in the
process's CPU seconds (this VM's wall clock jumps by up to 60% when its host is busy; CPU time does not).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf
from threadpoolctl import threadpool_limits

from scalediag.data import load
from scalediag.diagnostics import Diagnostics
from scalediag.losses import CrossEntropy, cross_entropy
from scalediag.model import build_model
from scalediag.monitor import Probe, StepMonitor
from scalediag.optim import FusedAdamStep, KerasAdam, torch_adam
from scalediag.threads import choose_threads
from scalediag.train import train_epoch
from scalediag.writer import HIST_BINS, RunWriter, histogram, masked_crc32c

DATA = {"root": "data", "debian_dir": "/usr/share/datasets/fashion-mnist", "download": True, "verify": True,
        "train_limit": None, "test_limit": None}
LOSS = CrossEntropy()  # conf/loss/cross_entropy.yaml, as a run calls it
OPT = {"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-7}  # conf/optimizer/torch.yaml


def scalediag_variant(data, every: int | None, log_dir: Path, writer_class=RunWriter, optimizer_class=KerasAdam):
    """every=None: no hooks at all. The default optimizer, Keras's Adam, unless optimizer_class says otherwise.
    Returns a function that trains one epoch."""
    torch.manual_seed(0)
    model = build_model(128, "keras")
    optimizer = optimizer_class(model.parameters(), **OPT)
    gen = torch.Generator().manual_seed(0)
    writer = writer_class(log_dir)
    monitor = probe = None
    if every is not None:
        diag = Diagnostics(model).__enter__()
        monitor, probe = StepMonitor(diag, writer, every), Probe(diag, data.train, 1000, 255.0, LOSS)

    def epoch():
        train_epoch(model, optimizer, LOSS, data.train, 255.0, 32, gen, monitor).item()
        if probe is not None:  # what scalediag.train does at each epoch's end: the captured steps, the probe, Adam
            monitor.epoch_means()
            probe.measure(writer, monitor.step)
            writer.scalars(diag.adam(optimizer), monitor.step)
        writer.flush()  # what the writer buffered is this variant's cost, not the next one's

    return epoch


def typical_variant(root: str):
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    torch.manual_seed(0)
    train = datasets.FashionMNIST(root, train=True, transform=transforms.ToTensor())  # ToTensor: / 255
    loader = DataLoader(train, batch_size=32, shuffle=True)
    model = build_model(128, "keras")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = torch.nn.CrossEntropyLoss()

    def epoch():
        running = 0.0
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            running += loss.item()

    return epoch


def _alternate(variants: dict, reps: int) -> tuple[dict, dict, dict]:
    """Wall and CPU seconds and page faults of each variant's epoch, one epoch of each per repetition, the order
    reversed every other repetition (ABCD DCBA): a drift of the machine hits all alike."""
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    faults: dict[str, list[int]] = {name: [] for name in variants}
    for rep in range(reps):
        for name in list(variants) if rep % 2 == 0 else list(variants)[::-1]:
            start, start_cpu, start_faults = time.perf_counter(), time.process_time(), _minor_faults()
            variants[name]()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
            faults[name].append(_minor_faults() - start_faults)
        print(f"rep {rep + 1}/{reps}: " + "  ".join(f"{n} {t[-1]:.3f}s" for n, t in wall.items()), flush=True)
    return wall, cpu, faults


def startup_suite(args) -> dict:
    """The whole process, as a user starts it, against `python -c "import torch"`, in turn args.reps times: a tiny
    run (64 samples, 1 epoch, real data already imported), a bad-input error, and `scalediag report DIR`."""
    tmp = Path(tempfile.mkdtemp(prefix="scalediag-bench-startup-"))
    root = f"data.root={Path(DATA['root']).absolute()}"
    tiny = [sys.executable, "-m", "scalediag", root, "data.train_limit=64", "data.test_limit=64", "train.epochs=1"]
    subprocess.run([*tiny, f"hydra.run.dir={tmp / 'sweep' / 'run'}"], check=True, capture_output=True)  # for report
    commands = {
        "import torch": [sys.executable, "-c", "import torch"],
        "tiny run": tiny,
        "bad input": [sys.executable, "-m", "scalediag", root, "divisor=0"],
        "report": [sys.executable, "-m", "scalediag", "report", str(tmp / "sweep")],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for rep in range(args.reps):
        for name, cmd in commands.items():
            extra = [f"hydra.run.dir={tmp / f'run{rep}'}"] if name == "tiny run" else []
            start = time.perf_counter()
            subprocess.run([*cmd, *extra], capture_output=True, check=name != "bad input")
            times[name].append(time.perf_counter() - start)
        print(f"rep {rep + 1}/{args.reps}: " + "  ".join(f"{n} {t[-1]:.2f}s" for n, t in times.items()), flush=True)
    ratio = {f"{n} / import torch": statistics.median(a / b for a, b in zip(t, times["import torch"]))
             for n, t in times.items() if n != "import torch"}
    return {"what": "wall seconds of the whole process, each command in turn",
            "median_seconds": {n: statistics.median(t) for n, t in times.items()}, "ratios": ratio,
            "seconds": times, "reps": args.reps}


def optimizer_suite(args) -> dict:
    """Keras's Adam (the default: torch's fused kernel with a per-step eps) against torch's, diagnostics at the
    default cadence, alternated args.reps epochs each."""
    _threads_as_a_run(choose_threads(args.threads, 32))
    data = load(OmegaConf.create(DATA), torch.device("cpu"))
    tmp = Path(tempfile.mkdtemp(prefix="scalediag-bench-"))
    variants = {"keras": scalediag_variant(data, 50, tmp / "keras"),
                "torch": scalediag_variant(data, 50, tmp / "torch", optimizer_class=torch_adam)}
    wall, cpu, _ = _alternate(variants, args.reps)
    return {"what": "seconds per epoch, batch 32, diagnostics every 50 steps: optimizer=keras against torch",
            "median_seconds": {n: statistics.median(t) for n, t in wall.items()},
            "ratio keras / torch": statistics.median(k / t for k, t in zip(wall["keras"], wall["torch"])),
            "cpu ratio keras / torch": statistics.median(k / t for k, t in zip(cpu["keras"], cpu["torch"])),
            "seconds": wall, "reps": args.reps}


def _minor_faults() -> int:
    """Page faults of this process so far: a heap that glibc trims and grows again shows up here (each ~100 per
    400 KB), as it did before the epoch's losses went into one preallocated tensor."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _threads_as_a_run(threads: int) -> None:
    """Torch's threads and numpy's BLAS pool, both at the job's count, as scalediag.train._train sets them."""
    torch.set_num_threads(threads)
    threadpool_limits(threads, user_api="blas")


def epoch_suite(args) -> dict:
    """Two rounds. The diagnostics' cost: off against every 50 steps, alternated, args.reps epochs each. Then all four
    variants alternated (args.reps // 3 epochs each) for the every-step and typical-loop ratios: an epoch that
    followed an every-step epoch ran ~7% slower here (measured while each logging step still allocated fresh
    weight copies), which would otherwise be charged to the variant that happens to come next."""
    _threads_as_a_run(choose_threads(args.threads, 32))
    data = load(OmegaConf.create(DATA), torch.device("cpu"))
    tmp = Path(tempfile.mkdtemp(prefix="scalediag-bench-"))
    off, every50 = scalediag_variant(data, None, tmp / "off"), scalediag_variant(data, 50, tmp / "every50")
    wall, cpu, faults = _alternate({"diag_off": off, "diag_every_50": every50}, args.reps)
    four = {"diag_off": off, "diag_every_50": every50, "diag_every_step": scalediag_variant(data, 1, tmp / "every1"),
            "typical_dataloader": typical_variant(DATA["root"])}
    wall4, cpu4, faults4 = _alternate(four, max(3, args.reps // 3))

    def ratios(two, all4):  # median over repetitions of the same-repetition ratio
        def r(times, a, b):
            return statistics.median(x / y for x, y in zip(times[a], times[b]))

        return {"diag_every_50 / diag_off": r(two, "diag_every_50", "diag_off"),
                "diag_every_step / diag_off": r(all4, "diag_every_step", "diag_off"),
                "typical_dataloader / diag_every_50": r(all4, "typical_dataloader", "diag_every_50")}

    def medians(two, all4):
        return {**{n: statistics.median(t) for n, t in two.items()},
                **{n: statistics.median(all4[n]) for n in ("diag_every_step", "typical_dataloader")}}

    return {
        "what": "seconds per training epoch, real Fashion-MNIST (60000 images), batch 32, CPU",
        "threads": torch.get_num_threads(),
        "median_seconds": medians(wall, wall4),
        "ratios": ratios(wall, wall4),
        # CPU seconds of the whole process: what the work costs, blind to time the VM's host takes away
        "median_cpu_seconds": medians(cpu, cpu4),
        "cpu_ratios": ratios(cpu, cpu4),
        "seconds": {"round 1": wall, "round 2": wall4},
        "cpu_seconds": {"round 1": cpu, "round 2": cpu4},
        "median_minor_faults": medians(faults, faults4),
        "minor_faults": {"round 1": faults, "round 2": faults4},
        "reps": args.reps,
    }


class ThreadedRunWriter(RunWriter):
    """The alternative to scalediag's writer: the same events through TensorBoard's own EventFileWriter (what
    torch's SummaryWriter uses), which hands each one to a writer thread."""

    def __init__(self, log_dir: Path):
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self.events = EventFileWriter(str(log_dir))

    def _write(self, event) -> None:
        event.wall_time = time.time()
        self.events.add_event(event)

    def flush(self) -> None:
        self.events.flush()

    def close(self) -> None:
        self.events.close()


def writer_suite(args) -> dict:
    """Diagnostics every 50 steps with scalediag's writer (events written by the training thread) against
    TensorBoard's writer thread, alternated as in the epoch suite; and one histogram, torch against numpy."""
    _threads_as_a_run(choose_threads(args.threads, 32))
    data = load(OmegaConf.create(DATA), torch.device("cpu"))
    tmp = Path(tempfile.mkdtemp(prefix="scalediag-bench-"))
    variants = {"training thread (scalediag.writer.RunWriter)": scalediag_variant(data, 50, tmp / "a"),
                "writer thread (TensorBoard's EventFileWriter)": scalediag_variant(data, 50, tmp / "b",
                                                                                   ThreadedRunWriter)}
    wall, cpu, faults = _alternate(variants, args.reps)
    a, b = variants
    from torch.utils.tensorboard.summary import histogram as tensorboard_histogram

    weight = torch.randn(128, 784)  # fc1's weight: the probe's largest histograms are of this size
    histogram_us = {"TensorBoard's (numpy, float64 copy)": _per_call_us(
                        lambda: tensorboard_histogram("w", weight.numpy(), bins=HIST_BINS), 500),
                    "scalediag.writer.histogram (torch)": _per_call_us(lambda: histogram("w", weight), 500)}
    print(json.dumps({"histogram_us": histogram_us}), flush=True)
    return {"what": "seconds per epoch, batch 32, diagnostics every 50 steps, by how events reach the file",
            "histogram_us_128x784": histogram_us,
            "median_seconds": {n: statistics.median(t) for n, t in wall.items()},
            "median_ratio": statistics.median(y / x for x, y in zip(wall[a], wall[b])),
            "median_cpu_seconds": {n: statistics.median(t) for n, t in cpu.items()},
            "seconds": wall, "cpu_seconds": cpu, "minor_faults": faults, "reps": args.reps}


def batch_suite(args) -> dict:
    """Seconds per epoch (diagnostics at the default cadence) against batch size, threads as scalediag picks."""
    data = load(OmegaConf.create(DATA), torch.device("cpu"))
    tmp = Path(tempfile.mkdtemp(prefix="scalediag-bench-"))
    rows = []
    for batch in (32, 64, 128, 256, 512, 1024, 2048, 4096):
        torch.set_num_threads(choose_threads(args.threads, batch))
        torch.manual_seed(0)
        model = build_model(128, "keras")
        optimizer = KerasAdam(model.parameters(), **OPT)
        gen = torch.Generator().manual_seed(0)
        writer = RunWriter(tmp / str(batch))
        diag = Diagnostics(model).__enter__()
        monitor = StepMonitor(diag, writer, 50)
        times = []
        for _ in range(args.epochs):
            start = time.perf_counter()
            loss = train_epoch(model, optimizer, cross_entropy, data.train, 255.0, batch, gen, monitor).item()
            monitor.epoch_means()
            times.append(time.perf_counter() - start)
        rows.append({"batch_size": batch, "threads": torch.get_num_threads(),
                     "median_seconds": statistics.median(times), "seconds": times, "train_loss_last_epoch": loss})
        print(f"batch {batch:5d}: {rows[-1]['median_seconds']:.3f} s/epoch ({rows[-1]['threads']} threads)",
              flush=True)
    return {"what": "seconds per training epoch against batch size, diagnostics every 50 steps", "rows": rows}


def sweep_suite(args) -> dict:
    """The whole 3-divisor, 5-epoch sweep end to end, as a user runs it: basic launcher against joblib."""
    out = {}
    for name, extra in (("sequential", []), ("joblib", ["hydra/launcher=local_parallel"])):
        sweep_dir = Path(tempfile.mkdtemp(prefix="scalediag-bench-sweep-"))
        cmd = [sys.executable, "-m", "scalediag", "--multirun", "divisor=1,255,1000", *extra,
               f"hydra.sweep.dir={sweep_dir}"]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        out[name] = time.perf_counter() - start
        print(f"{name}: {out[name]:.1f} s for the 3-divisor, 5-epoch sweep", flush=True)
    return {"what": "wall seconds of `python -m scalediag --multirun divisor=1,255,1000` (5 epochs, real data)",
            "seconds": out, "speedup_joblib": out["sequential"] / out["joblib"], "cpus": os.cpu_count()}


def _per_call_us(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def _epochs(data, n: int, divisor: float = 255.0, batch: int = 32, compiled: bool = False) -> list[float]:
    """Seconds of each of n training epochs of a fresh model (no diagnostics)."""
    torch.manual_seed(0)
    model = build_model(128, "keras")
    optimizer = torch_adam(model.parameters(), **OPT)
    forward = torch.compile(model) if compiled else model
    gen = torch.Generator().manual_seed(0)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        train_epoch(forward, optimizer, cross_entropy, data.train, divisor, batch, gen).item()
        times.append(time.perf_counter() - start)
    return times


def choices_suite(args) -> dict:
    """Each speed choice of the training loop against its alternative, batch 32, threads as scalediag picks."""
    torch.set_num_threads(choose_threads(args.threads, 32))
    data = load(OmegaConf.create(DATA), torch.device("cpu"))
    idx = torch.randperm(len(data.train.y))[:32]
    out = {"batch_gather_us": {"x[idx]": _per_call_us(lambda: data.train.x[idx], 20000),
                               "index_select": _per_call_us(lambda: data.train.x.index_select(0, idx), 20000)}}
    torch.manual_seed(0)
    model = build_model(128, "keras")
    optimizer = torch_adam(model.parameters(), **OPT)
    x, y = data.train.x[:32].float() / 255, data.train.y[:32]

    def step():
        loss = cross_entropy(model(x), y, reduction="mean")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    plain = _per_call_us(step, 2000)
    handles = [m.register_forward_hook(lambda *a: None) for m in model.modules()]  # idle hooks, as if left on
    hooked = _per_call_us(step, 2000)
    for h in handles:
        h.remove()
    out["step_us"] = {"no hooks": plain, "idle hooks on every module": hooked}
    fast = FusedAdamStep(optimizer)
    out["adam_update_us"] = {"optimizer.step()": _per_call_us(optimizer.step, 5000),
                             "FusedAdamStep (the same kernel, called directly)": _per_call_us(fast, 5000)}
    logits = model(x).detach()

    def loss_step(reduction):
        z = logits.clone().requires_grad_()
        loss = cross_entropy(z, y, reduction=reduction)
        (loss if reduction == "mean" else loss.mean()).backward()

    out["loss_forward_backward_us"] = {"per-sample, then .mean()": _per_call_us(lambda: loss_step("none"), 5000),
                                       "reduction='mean' in the loss kernel": _per_call_us(
                                           lambda: loss_step("mean"), 5000)}
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c as tensorboard_crc

    event = os.urandom(1024)  # about one logging step's scalars event
    out["event_crc_us_per_kb"] = {"TensorBoard's (pure Python)": _per_call_us(lambda: tensorboard_crc(event), 200),
                                  "google-crc32c (scalediag.writer)": _per_call_us(lambda: masked_crc32c(event), 20000)}
    print(json.dumps({k: out[k] for k in ("adam_update_us", "loss_forward_backward_us", "event_crc_us_per_kb")}),
          flush=True)
    out["epoch_seconds"] = {}
    for name, compiled in (("eager", False), ("torch.compile(model)", True)):
        times = _epochs(data, args.epochs + 1, compiled=compiled)  # the compiled model's first epoch compiles it
        out["epoch_seconds"][name] = {"first": times[0], "median_after": statistics.median(times[1:])}
        print(f"{name}: {out['epoch_seconds'][name]}", flush=True)
    out["denormals_epoch_seconds"] = {}
    for flush in (True, False):  # divisor 1, exact loss: most ReLUs die, their weights' Adam moments decay to 0
        torch.set_flush_denormal(flush)
        out["denormals_epoch_seconds"][f"flush_denormal={flush}"] = times = _epochs(data, 3, divisor=1.0)
        print(f"flush_denormal={flush}: {times}", flush=True)
    torch.set_flush_denormal(True)
    out["threads_epoch_seconds"] = {}
    for batch in (32, 4096):
        for threads in (1, 2):
            torch.set_num_threads(threads)
            out["threads_epoch_seconds"][f"batch {batch}, {threads} threads"] = times = _epochs(data, 3, batch=batch)
            print(f"batch {batch}, {threads} threads: {times}", flush=True)
    return {"what": "per-call microseconds and seconds per epoch of the loop's speed choices, batch 32", **out}


def machine() -> dict:
    """Which CPU a figure was measured on: speed does not carry across CPU kinds (an epoch 0.53 s on an AMD EPYC,
    1.35 s on an Intel Xeon), nor do the kernels torch, MKL and oneDNN pick on it (the ISA variables hold them)."""
    cpu = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("vendor_id", "model name", "cpu family", "model") and key.strip() not in cpu:
                cpu[key.strip()] = value.strip()
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu.get("model name") or platform.processor() or platform.machine(),
            "vendor": cpu.get("vendor_id"), "family": cpu.get("cpu family"), "model": cpu.get("model"),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "isa_env": {k: os.environ[k] for k in ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA")
                        if k in os.environ},
            "torch": torch.__version__, "python": platform.python_version()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", choices=("epoch", "batch", "sweep", "choices", "writer", "optimizer", "startup"))
    parser.add_argument("--reps", type=int, default=15, help="epoch suite: repetitions")
    parser.add_argument("--epochs", type=int, default=3, help="batch suite: epochs per batch size")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: as scalediag chooses)")
    parser.add_argument("--out", type=Path, default=None, help="default scripts/results/bench_<suite>.json")
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    suites = {"epoch": epoch_suite, "batch": batch_suite, "sweep": sweep_suite, "choices": choices_suite,
              "writer": writer_suite, "optimizer": optimizer_suite, "startup": startup_suite}
    result = suites[args.suite](args)
    result["machine"] = machine()
    out = args.out or Path(f"scripts/results/bench_{args.suite}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("seconds", "cpu_seconds", "rows")}, indent=2))
    print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
