#!/usr/bin/env bash
# Sets everything up from scratch, then runs the whole test suite on the real model, index, app and browser.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
exec .venv/bin/python -m pytest -q "$@"
