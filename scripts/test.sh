#!/usr/bin/env bash
# The README's test command: install (CPU torch on machines without a GPU build) and run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q "torch==2.13.0" "torchvision==0.28.0"
python -m pip install -q -e ".[test]"
# The web page is tested in a real headless Chromium (Debian's package; `playwright install` cannot
# download browsers here). Installed when missing.
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
    fi
fi
export SLIC_WEIGHTS_PATH="${SLIC_WEIGHTS_PATH:-$(cd .. && pwd)/shared/weights}"
python -m pytest -p no:cacheprovider "$@"
