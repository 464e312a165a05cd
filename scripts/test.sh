#!/usr/bin/env bash
# The README's test command: install (CPU torch on machines without a GPU build) and run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q "torch==2.13.0" "torchvision==0.28.0"
python -m pip install -q -e ".[test]"
# the OCR screen's text detector (weights in the wheel); --no-deps: it pins the GUI build of OpenCV
python -m pip install -q --no-deps "rapidocr_onnxruntime==1.4.4"
# Debian packages the tests need, installed when missing: Chromium (the web page is tested in a real
# headless browser; `playwright install` cannot download browsers here) and Tesseract (the OCR that
# validates miscompression screening).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v tesseract >/dev/null 2>&1 || missing+=(tesseract-ocr)
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# ../shared's weights (the Ballé base, LPIPS, DISTS) and the repository's weights/ (the codec family)
export SLIC_WEIGHTS_PATH="${SLIC_WEIGHTS_PATH:-$(cd .. && pwd)/shared/weights:$(pwd)/weights}"
python -m pytest -p no:cacheprovider "$@"
