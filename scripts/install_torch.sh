#!/usr/bin/env bash
# torch (its scalars, SummaryWriter, the Trainer test) from the machine's local CPU wheel
# when torch is missing and the machine has one. Run before the test extra: accelerate
# needs torch, and pip must find it installed rather than pull a multi-GB CUDA build.
set -euo pipefail
if ! python3 -c 'import torch' 2>/dev/null; then
    for wheel in /opt/wheels/torch-*+cpu-*.whl; do
        [ -e "$wheel" ] && python3 -m pip install -q "$wheel" && break
    done
fi
exit 0
