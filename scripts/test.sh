#!/usr/bin/env bash
# Install what the tests need and run them. A run that collects no test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
# The UI's browser tests drive Debian's Chromium (never a browser downloaded by playwright).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi
# torch (its scalars, SummaryWriter, the Trainer test) from the machine's local CPU wheel
# when it has one, and before the test extra: accelerate needs torch, and pip must find it
# installed rather than pull a multi-GB CUDA build.
if ! python3 -c 'import torch' 2>/dev/null; then
    for wheel in /opt/wheels/torch-*+cpu-*.whl; do
        [ -e "$wheel" ] && python3 -m pip install -q "$wheel" && break
    done
fi
# The test extra holds every test need; under CI a test skipped for a missing one fails.
python3 -m pip install -q -e '.[test]'
python3 -m pytest -q "$@"
