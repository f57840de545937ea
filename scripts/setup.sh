#!/usr/bin/env bash
# Set everything up: a virtual environment in .venv, torch, scalediag, and the real Fashion-MNIST; with --test also
# the test tools and the integrations' frameworks the tests run (Lightning, transformers, torchtest2, torch-audit,
# gymnasium).
# Safe to run again: what is already there is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)

# torch first and pinned: a bare "torch" would let pip pick a newer multi-GB build. These versions lie on this
# project's machines; elsewhere pip fetches them from PyPI. Override with TORCH_SPEC="torch==X torchvision==Y".
if ! .venv/bin/python -c "import torch, torchvision" 2>/dev/null; then
    echo "setup: installing torch (a few minutes the first time)"
    # shellcheck disable=SC2086
    "${pip[@]}" ${TORCH_SPEC:-torch==2.14.1 torchvision==0.29.1}
fi
if [ "${1:-}" = "--test" ]; then
    echo "setup: installing scalediag with its test tools (pytest, Lightning, transformers, torchtest2, torch-audit," \
        "gymnasium)"
    "${pip[@]}" -e '.[test]'
else
    "${pip[@]}" -e .
fi

# The real data: Debian's package puts the four IDX .gz files in /usr/share/datasets/fashion-mnist; scalediag imports
# them at its first run. Without apt (or root), scalediag falls back to torchvision's download.
debian=/usr/share/datasets/fashion-mnist
if [ ! -f "$debian/train-images-idx3-ubyte.gz" ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "setup: installing Debian's dataset-fashion-mnist"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
    else
        echo "setup: $debian absent and apt-get unusable: scalediag will try torchvision's download" >&2
    fi
fi
echo "setup: ready ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
