"""What `scalediag run` costs on the programs of other task families (tests/programs/: language models, sequence-
first with its update written by hand and a batch-first Transformer, a classifier trained without torch.optim, a
graph network, fine-tuning on a frozen backbone, a Siamese encoder, forward-forward, a policy gradient, a VAE, a
regression, an autoencoder, a GAN, LBFGS with a closure, a binary classifier): the CPU time (user + system) of the
whole process, watched against plain, runs alternated so that the machine's drift hits both. These programs train
for 2-7 s, so the fixed cost (scalediag's imports, the probe at entry and at each epoch's end) weighs more than on a
real run; the ratio of the medians is given per program and as a median over them.

    python scripts/bench.py families [--reps 5]   -> scripts/results/bench_families.json
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROGRAMS = Path(__file__).resolve().parents[2] / "tests" / "programs"
FAMILIES = ("lm_tokens", "transformer_lm", "handwritten_sgd", "reinforce_bandit", "vae_bce", "regression_mse",
            "autoencoder_mse", "gan_bce", "lbfgs_sine", "binary_bce", "gcn_sparse", "frozen_backbone",
            "siamese_triplet", "forward_forward")


def _cpu(cmd: list[str]) -> float:
    """The CPU seconds (user + system) of one child process run to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, capture_output=True, cwd=PROGRAMS)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def families_suite(args) -> dict:
    reps = min(args.reps, 5) if args.reps else 5
    out = Path(tempfile.mkdtemp(prefix="scalediag-bench-families-"))
    rows = {}
    for name in FAMILIES:
        script = str(PROGRAMS / f"{name}.py")
        plain, watched = [], []
        for rep in range(reps):  # alternated: plain, watched, plain, ...
            plain.append(_cpu([sys.executable, script]))
            watched.append(_cpu([sys.executable, "-m", "scalediag", "run", "--dir", str(out / f"{name}-{rep}"),
                                 script]))
        ratio = statistics.median(watched) / statistics.median(plain)
        rows[name] = {"plain_cpu_s": plain, "watched_cpu_s": watched, "ratio_of_medians": ratio}
        print(f"{name:20s} plain {statistics.median(plain):6.2f} s  watched {statistics.median(watched):6.2f} s  "
              f"{ratio:.2f}x", flush=True)
    ratios = [r["ratio_of_medians"] for r in rows.values()]
    return {"what": "CPU seconds of the whole process, `scalediag run` against plain, per task-family program",
            "reps": reps, "rows": rows, "median_ratio": statistics.median(ratios), "max_ratio": max(ratios)}
