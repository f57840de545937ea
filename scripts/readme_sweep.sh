#!/usr/bin/env bash
# The sweeps whose numbers and plots the README shows; their reports are copied into scripts/results/<name>/.
#   readme:    divisors 1, 255, 1000 x both losses x seeds 0, 1, 2 (the results table, the diagnoses, the plots)
#   question:  the question's own runs: divisors 1, 255, 1000 with Keras' clamped loss, seed 0
#   eps:       divisors 1, 255, 1000 x Adam's eps 1e-7, 1e-4, 1e-2, 1 x seeds 0, 1, 2 (Keras's Adam, the default)
#   eps_torch: the same with torch's Adam at eps 1e-2 and 1, where the two differ
#   relu:      activations relu, tanh, sigmoid x divisors 1, 255 x both losses x seeds 0, 1, 2
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=$(date +%Y-%m-%d_%H-%M-%S)
py=.venv/bin/python
sweep() {  # name, overrides...
    local name=$1
    shift
    $py -m scalediag "$@" "hydra.sweep.dir=outputs/sweeps/${name}_$stamp" --multirun
    dest=scripts/results/$name
    rm -rf "$dest" && mkdir -p "$dest"
    cp "outputs/sweeps/${name}_$stamp"/{summary.md,summary.csv,*.png} "$dest"/
}
sweep readme divisor=1,255,1000 seed=0,1,2 loss=cross_entropy,keras_clipped
sweep question divisor=1,255,1000 loss=keras_clipped
sweep eps divisor=1,255,1000 optimizer.eps=1e-7,1e-4,1e-2,1 seed=0,1,2
sweep eps_torch optimizer=torch divisor=1,255,1000 optimizer.eps=1e-2,1 seed=0,1,2
sweep relu model.activation=relu,tanh,sigmoid divisor=1,255 loss=keras_clipped,cross_entropy seed=0,1,2
echo "copied the reports into scripts/results/{readme,question,eps,eps_torch,relu}"
