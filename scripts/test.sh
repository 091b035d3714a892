#!/usr/bin/env bash
# Sets everything up from scratch, checks the code's habits, then runs the whole test suite on the real model,
# index, app and browser.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
# Lint, formatting, and imports that only go down the layers (all three configured in pyproject.toml).
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports --no-logo
exec .venv/bin/python -m pytest -q "$@"
