#!/usr/bin/env bash
# The README's test command: install (CPU torch on machines without a GPU build) and run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q "torch==2.13.0" "torchvision==0.28.0"
python -m pip install -q -e ".[test]"
export SLIC_WEIGHTS_PATH="${SLIC_WEIGHTS_PATH:-$(cd .. && pwd)/shared/weights}"
python -m pytest -p no:cacheprovider "$@"
