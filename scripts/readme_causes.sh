#!/usr/bin/env bash
# The README's "Why doesn't it learn?" examples: one run per fault knob and four healthy controls, real
# Fashion-MNIST, 2 epochs, seed 0, two at a time; then one report over all of them, copied to scripts/results/causes/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=outputs/causes_$(date +%Y-%m-%d_%H-%M-%S)
py=.venv/bin/python
cases=(
    "divisor=1" "divisor=100000" "optimizer.lr=1" "optimizer.lr=1e-5" "model.init=zeros"
    "model.init=normal model.init_std=0.5" "model.output=softmax" "data.label_noise=0.4"
    "model.activation=sigmoid model.hidden=[128,128,128,128,128,128,128,128]" "optimizer.eps=1"
    "divisor=1 loss=keras_clipped"
    "seed=0" "model.activation=tanh" "model.hidden=[128,128]" "optimizer=torch train.batch_size=128"
)
for case in "${cases[@]}"; do
    name=$(echo "$case" | tr ' ' ',')
    # shellcheck disable=SC2086
    $py -m scalediag $case train.epochs=2 "hydra.run.dir='$out/$name'" >"$out.$name.log" 2>&1 &
    while [ "$(jobs -r | wc -l)" -ge 2 ]; do sleep 0.5; done
done
wait
$py -m scalediag report "$out"
rm -f "$out".*.log
dest=scripts/results/causes
rm -rf "$dest" && mkdir -p "$dest"
cp "$out"/summary.md "$out"/summary.csv "$dest"/
echo "copied the report into $dest"
