#!/usr/bin/env bash
# Install what the tests need and run them. A run that collects no test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
# The UI's browser tests drive Debian's Chromium (never a browser downloaded by playwright).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi
bash scripts/install_torch.sh
# The test extra holds every test need; under CI a test skipped for a missing one fails.
python3 -m pip install -q -e '.[test]'
python3 -m pytest -q "$@"
