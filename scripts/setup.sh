#!/usr/bin/env bash
# Installs lvzhi into ./.venv from scratch (idempotent). With --test, also the browser and test packages.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TEST=""; [ "${1:-}" = "--test" ] && TEST=1

# System packages. The bulk report's charts label everything in Chinese and need a CJK font (the chart code also
# finds one installed after matplotlib cached its font list). Browser tests need Debian's Chromium and the same
# font; the PostgreSQL store test needs a server to start.
PKGS=()
# (grep without -q reads all of fc-list's output: with pipefail, an early exit would fail the pipe on SIGPIPE.)
fc-list : family 2>/dev/null | grep -i "Noto Sans CJK" >/dev/null || PKGS+=(fonts-noto-cjk)
if [ -n "$TEST" ]; then
  command -v chromium >/dev/null 2>&1 || PKGS+=(chromium)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || PKGS+=(postgresql)
fi
if [ "${#PKGS[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  if ! { $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${PKGS[@]}"; }; then
    [ -n "$TEST" ] && exit 1
    echo "提示：未能安装中文字体 fonts-noto-cjk，批量报告图表里的中文会显示为方框；" \
         "可稍后运行 sudo apt-get install fonts-noto-cjk（无需重装 lvzhi）。" >&2
  fi
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip
# The CPU build of torch; an unpinned torch would pull a multi-GB CUDA build.
.venv/bin/pip install -q "torch==2.13.0"
if [ -n "$TEST" ]; then
  .venv/bin/pip install -q -e ".[test]"
else
  .venv/bin/pip install -q -e .
fi
