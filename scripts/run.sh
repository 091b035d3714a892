#!/usr/bin/env bash
# Sets lvzhi up, shows a classification on the bundled reference catalog, then serves the web workbench.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "$#" -gt 0 ]; then exec .venv/bin/lvzhi "$@"; fi
.venv/bin/lvzhi classify "市民反映幸福里小区门口每晚有人摆摊卖烧烤，占用人行道，希望尽快处理"
exec .venv/bin/lvzhi serve
