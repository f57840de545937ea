#!/usr/bin/env bash
# Set everything up, then run the question's experiment: divisors 1, 255 and 1000 on the real Fashion-MNIST.
# Extra arguments are Hydra overrides, e.g.  bash scripts/sweep.sh loss=keras_clipped seed=0,1,2
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m scalediag --multirun divisor=1,255,1000 "$@"
