#!/usr/bin/env bash
# Install what the tests need and run them. A run that collects no test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e '.[test]'
python3 -m pytest -q "$@"
