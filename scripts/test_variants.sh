#!/usr/bin/env bash
# The test suite as CI runs it, under other kernels and thread counts: a test that holds on one kind of CPU only
# fails here. Each variant is one full run of the suite (about 4-6 minutes on 2 cores); extra arguments go to pytest.
#   bash scripts/test_variants.sh            # both variants
#   bash scripts/test_variants.sh avx2 -x    # one of them
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test

run() {  # name, then environment assignments; the remaining arguments of the script go to pytest
    local name=$1; shift
    echo "== variant: $name ($*)"
    env "$@" .venv/bin/python -m pytest -q "${args[@]}"
}

which=${1:-all}
[ $# -gt 0 ] && shift
args=("$@")
# torch's own vector kernels (ATen), MKL's BLAS and oneDNN all held to AVX2, as on a CPU without AVX-512
[[ $which == all || $which == avx2 ]] && run avx2 ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2
# every training with two torch threads (tests/conftest.py), where runs choose one at batch 32
[[ $which == all || $which == threads ]] && run "two threads" SCALEDIAG_TEST_THREADS=2
echo "== all variants passed"
