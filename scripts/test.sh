#!/usr/bin/env bash
# Set everything up, then run the test suite (CPU only; the real-data tests run where the Debian files are).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
exec .venv/bin/python -m pytest "$@"
