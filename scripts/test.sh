#!/usr/bin/env bash
# Install what the tests need and run them. A run that collects no test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e '.[test]'
# torch scalars are part of the value rules; use the machine's local CPU wheel when it
# has one (never let pip pull a multi-GB CUDA build). Without it those tests skip.
if ! python3 -c 'import torch' 2>/dev/null; then
    for wheel in /opt/wheels/torch-*+cpu-*.whl; do
        [ -e "$wheel" ] && python3 -m pip install -q "$wheel" && break
    done
fi
python3 -m pytest -q "$@"
