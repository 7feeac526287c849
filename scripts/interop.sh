#!/usr/bin/env bash
# Runs the interop suite (ctest label `interop`): Pollen against the real
# Flower SuperLink and Flower's own strategies.
#
#   scripts/interop.sh [BUILD_DIR]
#
# Real Flower is taken from $POLLEN_FLWR_DIR (a directory with
# bin/flower-superlink and bin/flwr) or from PATH, e.g. after
# `pip install "flwr==1.28.*"`. BUILD_DIR (default build/) must hold a full
# build (scripts/build.sh). Prints ctest's summary; exits non-zero when a
# test fails.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}

if [[ -n ${POLLEN_FLWR_DIR:-} ]]; then
  [[ -x $POLLEN_FLWR_DIR/bin/flower-superlink ]] || {
    echo "interop.sh: \$POLLEN_FLWR_DIR=$POLLEN_FLWR_DIR has no bin/flower-superlink" >&2
    exit 1
  }
elif command -v flower-superlink >/dev/null 2>&1; then
  POLLEN_FLWR_DIR=$(dirname "$(dirname "$(command -v flower-superlink)")")
else
  echo "interop.sh: no real Flower: set POLLEN_FLWR_DIR to a directory with bin/flower-superlink" >&2
  echo "  (../shared/flower-1.28/setup.sh DIR makes one) or pip install \"flwr==1.28.*\"" >&2
  exit 1
fi
export POLLEN_FLWR_DIR
version=$("$POLLEN_FLWR_DIR/bin/flwr" --version 2>/dev/null | head -n1)
echo "interop.sh: Flower from $POLLEN_FLWR_DIR (${version:-version unknown})"
cd "$build" || { echo "interop.sh: no build directory $build" >&2; exit 1; }
# Two at a time: each test spends most of its time in the ServerApp's 3 s
# polling, not on the CPU (CI's 2 cores).
ctest --output-on-failure --timeout 900 -j "${POLLEN_INTEROP_JOBS:-2}" -L interop
