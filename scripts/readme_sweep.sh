#!/usr/bin/env bash
# The sweeps whose numbers and plots the README shows; their reports are copied into scripts/results/.
#   1. divisors 1, 255, 1000 x both losses x seeds 0, 1, 2 (the results table, the diagnoses, the plots)
#   2. the question's own runs: divisors 1, 255, 1000 with Keras' clamped loss, seed 0
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=$(date +%Y-%m-%d_%H-%M-%S)
py=.venv/bin/python
$py -m scalediag --multirun divisor=1,255,1000 seed=0,1,2 loss=cross_entropy,keras_clipped \
    "hydra.sweep.dir=outputs/sweeps/readme_$stamp"
$py -m scalediag --multirun divisor=1,255,1000 loss=keras_clipped "hydra.sweep.dir=outputs/sweeps/question_$stamp"
for name in readme question; do
    dest=scripts/results/$name
    rm -rf "$dest" && mkdir -p "$dest"
    cp "outputs/sweeps/${name}_$stamp"/{summary.md,summary.csv,*.png} "$dest"/
done
echo "copied the reports into scripts/results/readme and scripts/results/question"
